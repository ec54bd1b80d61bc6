/**
 * The table of model kinds. A new kind is one file beside these (its ModelKind) and one entry
 * here; its manifest schema joins AnyManifestSchema in config/manifest.ts.
 */
import { modelTask, type ModelTask } from '../config/manifest.js';
import { InvalidParameterError } from '../errors.js';
import type { ExportOptions, ExportResult } from '../onnx/export-model.js';
import { actionFormerKind } from './actionformer.js';
import { avaKind } from './ava.js';
import type { ModelKind } from './model-kind.js';
import { vitKind } from './vit.js';

export const MODEL_KINDS: readonly ModelKind[] = [vitKind, actionFormerKind, avaKind];

export function kindForTask(task: ModelTask): ModelKind {
  const kind = MODEL_KINDS.find((k) => k.task === task);
  if (!kind) throw new Error(`no model kind serves task '${task}'`);
  return kind;
}

/** `--kind NAME` -> its kind, or a 400 naming the known ones. */
export function kindNamed(name: string, parameter = 'kind'): ModelKind {
  const kind = MODEL_KINDS.find((k) => k.name === name);
  if (!kind) throw new InvalidParameterError(parameter, name, `must be one of ${MODEL_KINDS.map((k) => k.name).join(', ')}`);
  return kind;
}

/** `videomae export DIR`: the folder's kind makes its graph (int8 and fused attention: ViT folders only). */
export function exportModelFolder(dir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const kind = kindForTask(modelTask(dir));
  if (kind !== vitKind && (options.int8 || options.attention === 'fused')) {
    throw new InvalidParameterError(options.int8 ? '--int8' : '--fused-attention', dir, `applies to ViT folders, not a ${kind.name} model`);
  }
  return kind.exportFolder(dir, options);
}
