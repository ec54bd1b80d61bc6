/**
 * `videomae import-checkpoint DIR --format hf`: the transformers folder import as the CLI runs it
 * (the ONNX export as the finishing step, one summary line), shared with `videomae pull`.
 */
import { exportOptionsFrom, graphFormNote, type ExportFlags } from '../kinds/export-flags.js';
import { exportModelFolder } from '../kinds/index.js';
import type { ProtocolName } from '../video/sampling.js';
import { importHfFolder, type HfImportOptions, type HfImportResult } from '../weights/import-hf.js';

export interface HfImportFlags extends ExportFlags {
  out: string;
  name?: string;
  fp16?: boolean;
  pretrain?: boolean;
  protocol?: ProtocolName;
  force?: boolean;
  /** false with --no-export */
  export?: boolean;
}

/** The import options the flags ask for, and a report of the export once it ran. */
export function hfImportOptions(flags: HfImportFlags): { options: Omit<HfImportOptions, 'dir' | 'out'>; exported: () => string } {
  let exported = '';
  const options: Omit<HfImportOptions, 'dir' | 'out'> = {
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.fp16 ? { fp16: true } : {}),
    ...(flags.pretrain ? { pretrain: true } : {}),
    ...(flags.protocol ? { protocol: flags.protocol } : {}),
    ...(flags.force ? { force: true } : {}),
    ...(flags.export !== false
      ? {
          finish: async (dir: string) => {
            const exportOptions = exportOptionsFrom(flags);
            const r = await exportModelFolder(dir, exportOptions);
            exported = `, model.onnx${r.externalDataPath ? ' + model.onnx.data' : ''}${graphFormNote(exportOptions)} (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
          },
        }
      : {}),
  };
  return { options, exported: () => exported };
}

export function describeHfImport(source: string, result: HfImportResult, exported: string): string[] {
  const a = result.manifest.architecture;
  const lines = [
    `imported ${source} -> ${result.dir}: ${result.kind} ${a.arch} (depth ${a.depth}, width ${a.embedDim}, ${a.numClasses} classes${result.manifest.labels ? ', labels from id2label' : ''}) ` +
      `from ${result.weightsFile.split('/').pop()}, ${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`,
  ];
  if (result.droppedKeys.length)
    lines.push(
      `  left out ${result.droppedKeys.length} pretraining-only keys (decoder, encoder_to_decoder, mask_token, final layernorm); --pretrain keeps the decoder`,
    );
  if (result.initializedKeys.length) lines.push(`  not in the checkpoint, initialized: ${result.initializedKeys.join(', ')}`);
  return lines;
}

export async function runHfImport(dir: string, flags: HfImportFlags): Promise<void> {
  const { options, exported } = hfImportOptions(flags);
  const result = await importHfFolder({ ...options, dir, out: flags.out });
  for (const line of describeHfImport(dir, result, exported())) console.log(line);
}
