/**
 * `videomae import-checkpoint`: an official VideoMAE V2 .pth -> a model folder
 * (weights.safetensors with our names, model.json recording the source and its sha256).
 * Everything is checked before anything is written, the folder is staged beside --out and renamed
 * into place only when complete, and tensors are read one at a time from the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ArchitectureOptions } from '../config/architectures.js';
import { BUNDLED_LABELS_DIR, bundledLabelPath, readLabels } from '../config/labels.js';
import { sha256File, type Manifest } from '../config/manifest.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import type { ProtocolName } from '../video/sampling.js';
import { CheckpointError } from './checkpoint-error.js';
import { assertOutAvailable, stageModelFolder } from './staged-folder.js';
import { locateStateDict, planImport, stripPrefixes, type ImportPlan } from './checkpoint-mapping.js';
import { createModelFolder } from './create-model.js';
import { roundToFloat16InPlace } from './half.js';
import { elementCount } from './parameters.js';
import type { TensorMap } from './safetensors.js';
import { sinusoidTable } from './sinusoid-table.js';
import { TorchCheckpoint, TorchTensor } from './torch-checkpoint.js';

export const HEAD_MAPS = ['710to400', '710to600', '710to700'] as const;
export type HeadMapName = (typeof HEAD_MAPS)[number];

/** The label set a head of this size most likely carries (the official fine-tuning sets). */
const LABELS_BY_CLASSES: Readonly<Record<number, string>> = {
  400: 'k400',
  600: 'k600',
  700: 'k700',
  710: 'k710',
  174: 'sthv2',
  101: 'ucf101',
  51: 'hmdb51',
};

export interface ImportOptions {
  readonly checkpoint: string;
  readonly out: string;
  readonly arch: string;
  readonly architecture?: ArchitectureOptions;
  readonly numClasses?: number;
  /** Bundled set name or a label file; default from the head size. */
  readonly labels?: string;
  readonly headMap?: HeadMapName;
  /**
   * The top-level key whose state dict to import (e.g. 'model_ema' or 'state_dict_ema' for the EMA
   * weights); default: the first of STATE_DICT_KEYS that holds tensors, else the top level.
   */
  readonly stateDictKey?: string;
  readonly fp16?: boolean;
  readonly pretrain?: boolean;
  readonly decoderNumHeads?: number;
  readonly name?: string;
  readonly protocol?: ProtocolName;
  /** Replace an existing, non-empty --out. */
  readonly force?: boolean;
  /** Runs on the staged folder before it is moved to --out (the ONNX export). */
  readonly finish?: (stagedDir: string) => Promise<void>;
}

export interface ImportResult {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly kind: 'finetune' | 'pretrain';
  readonly container: string | undefined;
  readonly tensors: number;
  readonly parameters: number;
  readonly droppedKeys: string[];
  readonly initializedKeys: string[];
  readonly seconds: number;
}

export async function importCheckpoint(options: ImportOptions): Promise<ImportResult> {
  const started = performance.now();
  const file = resolve(options.checkpoint);
  const out = resolve(options.out);
  if (!existsSync(file))
    throw new ServiceError(400, 'file_not_found', `checkpoint '${options.checkpoint}' does not exist`, { parameter: 'checkpoint' });
  assertOutAvailable(options.out, options.force === true); // before any tensor is read
  const headRows = options.headMap ? readHeadMap(options.headMap) : undefined;

  const checkpoint = TorchCheckpoint.open(file);
  let tensors: TensorMap;
  let plan: ImportPlan<TorchTensor>;
  let container: string | undefined;
  let labels: string | undefined;
  try {
    const located = locateStateDict(checkpoint.root, (v): v is TorchTensor => v instanceof TorchTensor, file, options.stateDictKey);
    container = located.container;
    plan = planImport(
      stripPrefixes(located.entries, file),
      {
        arch: options.arch,
        ...(options.architecture ? { architecture: options.architecture } : {}),
        ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}),
        ...(headRows ? { headRows } : {}),
        ...(options.pretrain ? { pretrain: true } : {}),
        ...(options.decoderNumHeads ? { decoderNumHeads: options.decoderNumHeads } : {}),
      },
      file,
    );
    labels = resolveLabels(options, plan.architecture.numClasses);
    tensors = readTensors(checkpoint, plan, options.fp16 === true);
  } finally {
    checkpoint.close();
  }

  const dtypes = [...new Set([...plan.sources.values()].map((t) => t.dtype))].sort();
  const sha256 = await sha256File(file);
  return stageModelFolder(out, options.force === true, async (staged) => {
    const manifest = await createModelFolder({
      dir: staged,
      name: options.name ?? basename(out),
      architecture: plan.architecture,
      tensors,
      ...(labels ? { labels } : {}),
      protocol: options.protocol ?? (labels === 'sthv2' ? 'ssv2' : 'k400'),
      weightsDtype: options.fp16 ? 'F16' : 'F32',
      description: `${plan.kind === 'pretrain' ? 'Pretrained' : 'Fine-tuned'} ${options.arch} imported from ${basename(file)}${options.headMap ? ` (head ${options.headMap})` : ''}.`,
      provenance: {
        source: 'checkpoint',
        trained: true,
        metrics: {},
        checkpoint: {
          file: basename(file),
          sha256,
          arch: options.arch,
          ...(container ? { container } : {}),
          kind: plan.kind,
          dtypes,
          storedAs: options.fp16 ? 'float16' : 'float32',
          ...(options.headMap ? { headMap: options.headMap } : {}),
          droppedKeys: plan.dropped.length,
        },
        ...(plan.initialized.length
          ? { note: `not in the checkpoint, initialized as fine-tuning starts: ${plan.initialized.map((s) => s.name).join(', ')}` }
          : {}),
      },
    });
    tensors.clear(); // the export reads the written file; let these go first
    await options.finish?.(staged);
    return {
      dir: out,
      manifest,
      kind: plan.kind,
      container,
      tensors: plan.sources.size + plan.initialized.length,
      parameters: [...plan.sources.values()].reduce((sum, t) => sum + t.numel, 0),
      droppedKeys: plan.dropped,
      initializedKeys: plan.initialized.map((s) => s.name),
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/** Reads every planned tensor as float32 (head rows picked, fp16 rounding applied when asked). */
function readTensors(checkpoint: TorchCheckpoint, plan: ImportPlan<TorchTensor>, fp16: boolean): TensorMap {
  if (plan.positionTable) checkPositionTable(checkpoint, plan);
  const tensors: TensorMap = new Map();
  for (const spec of plan.initialized) {
    tensors.set(spec.name, { shape: spec.shape, data: new Float32Array(elementCount(spec.shape)).fill(spec.init === 'ones' ? 1 : 0) });
  }
  for (const [name, source] of plan.sources) {
    let data = checkpoint.readFloat32(source, name);
    let shape = source.shape;
    if (plan.headRows && (name === 'head.weight' || name === 'head.bias')) {
      const width = name === 'head.weight' ? source.shape[1]! : 1;
      const picked = new Float32Array(plan.headRows.length * width);
      plan.headRows.forEach((row, i) => picked.set(data.subarray(row * width, (row + 1) * width), i * width));
      data = picked;
      shape = name === 'head.weight' ? [plan.headRows.length, width] : [plan.headRows.length];
    }
    if (fp16) roundToFloat16InPlace(data);
    tensors.set(name, { shape, data });
  }
  return tensors;
}

/** A stored pos_embed must be the fixed sinusoid table we compute; a learned one we cannot serve. */
function checkPositionTable(checkpoint: TorchCheckpoint, plan: ImportPlan<TorchTensor>): void {
  const table = plan.positionTable!;
  const a = plan.architecture;
  const count = (a.numFrames / a.tubeletSize) * (a.imageHeight / a.patchSize) * (a.imageWidth / a.patchSize);
  const shapeOk = table.shape.length === 3 && table.shape[1] === count && table.shape[2] === a.embedDim;
  const values = shapeOk ? checkpoint.readFloat32(table, 'pos_embed') : undefined;
  const expected = sinusoidTable(count, a.embedDim);
  const worst = values ? values.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0) : Infinity;
  if (worst > 1e-3) {
    throw new CheckpointError(
      'unsupported_checkpoint',
      checkpoint.file,
      `stores a pos_embed [${table.shape.join(', ')}] that is not the fixed sinusoid table of ${count} tokens x ${a.embedDim} (learned or interpolated position embeddings are not supported)`,
    );
  }
}

function readHeadMap(name: HeadMapName): number[] {
  const file = join(BUNDLED_LABELS_DIR, `label_${name}.json`);
  const rows = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(rows) || !rows.every((r) => Number.isInteger(r)))
    throw new ServiceError(500, 'internal_error', `bundled head map '${file}' is malformed`);
  return rows as number[];
}

function resolveLabels(options: ImportOptions, numClasses: number): string | undefined {
  const requested = options.labels ?? (options.headMap ? `k${options.headMap.slice(5)}` : LABELS_BY_CLASSES[numClasses]);
  if (!requested || numClasses === 0) {
    if (options.labels && numClasses === 0)
      throw new InvalidParameterError('labels', options.labels, 'cannot apply: the checkpoint has no classification head');
    return undefined;
  }
  const path = bundledLabelPath(requested) ?? requested;
  if (!existsSync(path))
    throw new InvalidParameterError(
      'labels',
      requested,
      'is neither a bundled label set (k400, k600, k700, k710, sthv2, ucf101, hmdb51) nor an existing file',
    );
  const count = readLabels(path).length;
  if (count !== numClasses)
    throw new InvalidParameterError('labels', requested, `has ${count} labels but the head has ${numClasses} classes`);
  return requested;
}
