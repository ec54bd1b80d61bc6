/**
 * What several `videomae` commands share: argument parsers, the common options (device, sampling
 * protocol, video limits), the official architecture names and the bundled models folder.
 */
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_LIMITS, type VideoLimits } from '../video/limits.js';

export { OFFICIAL_ARCHS } from '../config/architectures.js';

/** models/ of this package (two levels above src/cli/ and dist/cli/): the bundled default lives there. */
export const BUNDLED_MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a positive integer`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`'${value}' is not a positive number`);
  return n;
}

export const deviceOption = (): Option =>
  new Option('--device <device>', 'execution provider: auto (CUDA when available), cuda or cpu')
    .choices(['auto', 'cuda', 'cpu'])
    .default('auto');
export const protocolOption = (): Option => new Option('--protocol <name>', 'sampling preset').choices(['k400', 'ssv2', 'fast']);

export interface LimitFlags {
  maxUploadMb: number;
  maxDuration: number;
  maxWidth: number;
  maxHeight: number;
  maxFrames: number;
  maxDecodePixels: number;
}

/** --max-upload-mb, --max-duration, ... with the service's defaults; limitsFrom() reads them back. */
export function addLimitOptions(command: Command): Command {
  return command
    .option('--max-upload-mb <mb>', 'largest accepted upload', positiveNumber, DEFAULT_LIMITS.maxBytes / 2 ** 20)
    .option('--max-duration <seconds>', 'longest accepted video', positiveNumber, DEFAULT_LIMITS.maxDurationSec)
    .option('--max-width <px>', 'widest accepted video', positiveInt, DEFAULT_LIMITS.maxWidth)
    .option('--max-height <px>', 'tallest accepted video', positiveInt, DEFAULT_LIMITS.maxHeight)
    .option('--max-frames <n>', 'most frames in an accepted video', positiveInt, DEFAULT_LIMITS.maxFrames)
    .option(
      '--max-decode-pixels <n>',
      'most decode work one request may ask for, in decoded pixels (frames x width x height, seek pre-roll and per-frame overhead included; 413 decode_budget_exceeded beyond)',
      positiveNumber,
      DEFAULT_LIMITS.maxDecodePixels,
    );
}

export function limitsFrom(flags: LimitFlags): VideoLimits {
  return {
    maxBytes: Math.round(flags.maxUploadMb * 2 ** 20),
    maxDurationSec: flags.maxDuration,
    maxWidth: flags.maxWidth,
    maxHeight: flags.maxHeight,
    maxFrames: flags.maxFrames,
    maxDecodePixels: flags.maxDecodePixels,
  };
}
