/**
 * Training checkpoints: one safetensors file holding the parameters (as the stage saves them), the
 * AdamW moments and, in its metadata, the step, a fingerprint of the stage and the stage's own state
 * (ActionFormer's loss normalizer). Random draws need no state: they are keyed by (seed, step). Written to a
 * temporary file and renamed (writeSafetensors), so a crash mid-write leaves the last good one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readSafetensors, writeSafetensors, type TensorMap } from '../weights/safetensors.js';
import { ServiceError } from '../errors.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

export interface CheckpointState {
  readonly recipe: string;
  readonly stageIndex: number;
  /** Hash of the stage spec: resuming under a changed stage is refused. */
  readonly stageHash: string;
  /** Steps completed. */
  readonly step: number;
  readonly optimizerSteps: number;
  /** The last losses (up to 20), so a resumed run reports the train_loss an uninterrupted one does. */
  readonly recentLosses?: readonly number[];
  /** Numbers the stage carries from step to step besides parameters and moments. */
  readonly stage?: Readonly<Record<string, number>>;
}

export function stageFingerprint(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

export function writeCheckpoint(
  file: string,
  params: TensorMap,
  moments: ReadonlyMap<string, { m: Float32Array; v: Float32Array; shape: number[] }>,
  state: CheckpointState,
): void {
  const tensors: TensorMap = new Map();
  for (const [name, t] of params) tensors.set(`param/${name}`, t);
  for (const [name, { m, v, shape }] of moments) {
    tensors.set(`adam_m/${name}`, { shape, data: m });
    tensors.set(`adam_v/${name}`, { shape, data: v });
  }
  writeSafetensors(file, tensors, { format: 'videomae-checkpoint', state: JSON.stringify(state) });
}

export interface LoadedCheckpoint {
  readonly state: CheckpointState;
  readonly params: TensorMap;
  readonly moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

export function readCheckpoint(file: string): LoadedCheckpoint {
  if (!existsSync(file))
    throw new ServiceError(400, 'invalid_checkpoint', `checkpoint '${file}' does not exist`, { parameter: 'resume', value: file });
  const { tensors, metadata } = readSafetensors(file);
  if (metadata?.format !== 'videomae-checkpoint' || !metadata.state) {
    throw new ServiceError(400, 'invalid_checkpoint', `'${file}' is not a training checkpoint`, { parameter: 'resume', value: file });
  }
  const state = JSON.parse(metadata.state) as CheckpointState;
  const params: TensorMap = new Map();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const [key, t] of tensors) {
    const [kind, ...rest] = key.split('/');
    const name = rest.join('/');
    if (kind === 'param') params.set(name, t);
    else if (kind === 'adam_m' || kind === 'adam_v') {
      const entry = moments.get(name) ?? { m: new Float32Array(0), v: new Float32Array(0) };
      if (kind === 'adam_m') entry.m = t.data;
      else entry.v = t.data;
      moments.set(name, entry);
    }
  }
  return { state, params, moments };
}
