/**
 * From an official checkpoint's key space to ours, on shapes only (pure; no tensor is read):
 * find the state dict (`model`, `module`, `model_ema`, `state_dict`, `state_dict_ema`, or the top
 * level; or the key the user names), strip the wrappers
 * (`module.`, `_orig_mod.`, `backbone.`, `encoder.`), tell a pretraining checkpoint from a
 * fine-tuned one, check every key and shape against the architecture, and plan the head map.
 */
import { decoderFor, makeArchitecture, mlpHidden, type ArchitectureOptions, type VitArchitecture } from '../config/architectures.js';
import { ServiceError } from '../errors.js';
import { modelParameters, shapesEqual, type ParameterSpec } from './parameters.js';
import { StateDictMismatchError, describeReport, type StateDictReport } from './state-dict-check.js';

export interface ShapedTensor {
  readonly shape: readonly number[];
}

/**
 * Where training scripts keep the weights in a saved dict, in the order they are looked for: plain
 * weights before EMA ones. run_class_finetuning's utils.save_model writes `model` (+ `model_ema`),
 * DeepSpeed `module`, timm and Lightning `state_dict` (+ timm's `state_dict_ema`).
 */
export const STATE_DICT_KEYS = ['model', 'module', 'model_ema', 'state_dict', 'state_dict_ema'] as const;
const KEY_PREFIXES = ['module.', '_orig_mod.', 'backbone.', 'encoder.'] as const;
/** Only a pretraining checkpoint has these (modeling_pretrain.py). */
const PRETRAINING_ONLY = /^(decoder\.|encoder_to_decoder\.|mask_token$|norm\.)/;

export interface LocatedStateDict<T> {
  /** The key the state dict sat under; undefined for a bare state dict. */
  readonly container: string | undefined;
  readonly entries: Map<string, T>;
}

export class CheckpointLayoutError extends ServiceError {
  constructor(file: string, reason: string) {
    super(422, 'state_dict_mismatch', `checkpoint '${file}' ${reason}`, { parameter: 'checkpoint' });
  }
}

/**
 * The dict of tensors in an unpickled checkpoint: under `key` when given (e.g. 'model_ema' for the
 * EMA weights), else under the first of STATE_DICT_KEYS that holds tensors, else the top level.
 */
export function locateStateDict<T>(root: unknown, isTensor: (v: unknown) => v is T, file: string, key?: string): LocatedStateDict<T> {
  const tensorsOf = (value: unknown): Map<string, T> | undefined => {
    if (!(value instanceof Map)) return undefined;
    const entries = new Map<string, T>();
    for (const [name, item] of value) if (typeof name === 'string' && isTensor(item)) entries.set(name, item);
    return entries.size > 0 ? entries : undefined;
  };
  if (key !== undefined) {
    const holding = root instanceof Map ? [...root.keys()].filter((k) => tensorsOf(root.get(k))).map(String) : [];
    const entries = root instanceof Map ? tensorsOf(root.get(key)) : undefined;
    if (entries) return { container: key, entries };
    const all = root instanceof Map ? [...root.keys()].map(String) : [];
    throw new ServiceError(
      422,
      'state_dict_mismatch',
      `checkpoint '${file}' has no state dict under --state-dict-key '${key}': ` +
        `${holding.length ? `the keys that hold tensors are ${holding.map((k) => `'${k}'`).join(', ')}` : 'no top-level key holds tensors'}` +
        ` (top-level keys: ${all.length ? all.slice(0, 20).join(', ') : 'none, it is not a dict'})`,
      { parameter: 'stateDictKey', value: key },
    );
  }
  if (root instanceof Map) {
    for (const key of STATE_DICT_KEYS) {
      const entries = tensorsOf(root.get(key));
      if (entries) return { container: key, entries };
    }
    const entries = tensorsOf(root);
    if (entries) return { container: undefined, entries };
  }
  const keys = root instanceof Map ? [...root.keys()].map(String).slice(0, 10).join(', ') : 'none';
  throw new CheckpointLayoutError(
    file,
    `holds no state dict: no tensors under ${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')} or at the top level (top-level keys: ${keys})`,
  );
}

/** Strips the wrapper prefixes from every key; two keys that become one are an error. */
export function stripPrefixes<T>(entries: Map<string, T>, file: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of entries) {
    let name = key;
    for (let changed = true; changed;) {
      changed = false;
      for (const prefix of KEY_PREFIXES) {
        if (name.startsWith(prefix)) {
          name = name.slice(prefix.length);
          changed = true;
        }
      }
    }
    if (out.has(name)) throw new CheckpointLayoutError(file, `has two tensors that both map to '${name}' (one is '${key}')`);
    out.set(name, value);
  }
  return out;
}

export interface ImportRequest {
  readonly arch: string;
  readonly architecture?: ArchitectureOptions;
  /** Expected head size; must agree with the checkpoint's head. */
  readonly numClasses?: number;
  /** Rows of the checkpoint's head to keep, in order (the official label_710to*.json). */
  readonly headRows?: readonly number[];
  /** Keep the decoder of a pretraining checkpoint (a folder for `train --init`). */
  readonly pretrain?: boolean;
  readonly decoderNumHeads?: number;
}

export interface ImportPlan<T> {
  readonly architecture: VitArchitecture;
  readonly kind: 'finetune' | 'pretrain';
  /** Our parameter name -> the checkpoint tensor that fills it. */
  readonly sources: Map<string, T>;
  /** Parameters the checkpoint does not carry, set as the official fine-tuning initializes them. */
  readonly initialized: ParameterSpec[];
  /** Checkpoint keys deliberately left out (the decoder of a pretraining checkpoint, without --pretrain). */
  readonly dropped: string[];
  /** A stored `pos_embed` (checked against the fixed sinusoid table by the caller, then dropped). */
  readonly positionTable: T | undefined;
  readonly headRows: readonly number[] | undefined;
}

/**
 * Checks a stripped state dict against the requested architecture and plans the import.
 * Throws (naming missing, unexpected and mis-shaped keys) before anything is read or written.
 */
export function planImport<T extends ShapedTensor>(entries: Map<string, T>, request: ImportRequest, file: string): ImportPlan<T> {
  const isPretraining = [...entries.keys()].some((k) => /^(decoder\.|encoder_to_decoder\.|mask_token$)/.test(k));
  if (request.pretrain && !isPretraining) {
    throw new CheckpointLayoutError(
      file,
      'has no decoder (no decoder.*, encoder_to_decoder.* or mask_token keys), so --pretrain does not apply: it is a fine-tuned checkpoint',
    );
  }
  const head = entries.get('head.weight');
  let numClasses = head ? head.shape[0]! : 0;
  if (request.numClasses !== undefined && request.numClasses !== numClasses) {
    throw new CheckpointLayoutError(
      file,
      head
        ? `has a head of ${numClasses} classes, not the ${request.numClasses} that --num-classes asks for`
        : `has no head ('head.weight'), so --num-classes ${request.numClasses} cannot be honoured; fine-tune it with 'videomae train' instead`,
    );
  }
  if (request.headRows) {
    if (!head) throw new CheckpointLayoutError(file, 'has no head to map (--head-map needs a fine-tuned checkpoint)');
    const bad = request.headRows.find((row) => !Number.isInteger(row) || row < 0 || row >= numClasses);
    if (bad !== undefined) throw new CheckpointLayoutError(file, `has a head of ${numClasses} classes; the head map selects row ${bad}`);
    numClasses = request.headRows.length;
  }

  let architecture = makeArchitecture(request.arch, { ...request.architecture, numClasses });
  const keepDecoder = isPretraining && request.pretrain === true;
  if (keepDecoder) architecture = { ...architecture, decoder: inferDecoder(entries, architecture, request.decoderNumHeads) };

  const positionTable = entries.get('pos_embed');
  const sources = new Map<string, T>();
  const dropped: string[] = [];
  for (const [name, tensor] of entries) {
    if (name === 'pos_embed') continue;
    if (isPretraining && !keepDecoder && PRETRAINING_ONLY.test(name)) dropped.push(name);
    else sources.set(name, tensor);
  }
  const specs = modelParameters(architecture);
  // A pretraining encoder has no fc_norm: start it as fine-tuning does (unit gain, zero bias).
  const initialized = isPretraining ? specs.filter((s) => s.name.startsWith('fc_norm.') && !sources.has(s.name)) : [];
  const report = compareShapes(specs, sources, new Set(initialized.map((s) => s.name)), request.headRows);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) {
    throw new StateDictMismatchError(
      report,
      `checkpoint '${file}' (as ${describeArchitecture(architecture)}${hint(entries, architecture)})`,
    );
  }
  return {
    architecture,
    kind: isPretraining ? 'pretrain' : 'finetune',
    sources,
    initialized,
    dropped,
    positionTable,
    headRows: request.headRows,
  };
}

function compareShapes<T extends ShapedTensor>(
  specs: ParameterSpec[],
  sources: Map<string, T>,
  initialized: Set<string>,
  headRows?: readonly number[],
): StateDictReport {
  const expected = new Set(specs.map((s) => s.name));
  const missing: string[] = [];
  const mismatched: StateDictReport['mismatched'] = [];
  for (const spec of specs) {
    const tensor = sources.get(spec.name);
    if (!tensor) {
      if (!initialized.has(spec.name)) missing.push(spec.name);
      continue;
    }
    // The head is compared after the map picks its rows.
    const shape = headRows && spec.name.startsWith('head.') ? [headRows.length, ...tensor.shape.slice(1)] : tensor.shape;
    if (!shapesEqual(shape, spec.shape)) mismatched.push({ name: spec.name, expected: spec.shape, actual: tensor.shape });
  }
  const unexpected = [...sources.keys()].filter((name) => !expected.has(name));
  return { missing, unexpected, mismatched };
}

/** The decoder as the checkpoint has it: width and depth from the keys, heads from the official table. */
function inferDecoder<T extends ShapedTensor>(
  entries: Map<string, T>,
  config: VitArchitecture,
  numHeads?: number,
): NonNullable<VitArchitecture['decoder']> {
  const official = decoderFor(config);
  const width = entries.get('decoder.norm.weight')?.shape[0] ?? official.embedDim;
  const depth =
    1 +
    Math.max(
      -1,
      ...[...entries.keys()]
        .map((k) => /^decoder\.blocks\.(\d+)\./.exec(k))
        .filter(Boolean)
        .map((m) => Number(m![1])),
    );
  const hidden = entries.get('decoder.blocks.0.mlp.fc1.weight')?.shape[0] ?? mlpHidden(width, 4);
  const heads = numHeads ?? (width === official.embedDim ? official.numHeads : Math.max(1, Math.round(width / 64)));
  return { embedDim: width, depth: Math.max(1, depth), numHeads: heads, mlpHiddenDim: hidden };
}

function describeArchitecture(a: VitArchitecture): string {
  return `${a.arch}: depth ${a.depth}, width ${a.embedDim}, patch ${a.tubeletSize}x${a.patchSize}x${a.patchSize}, ${a.numFrames}x${a.imageHeight}x${a.imageWidth}`;
}

/** What the checkpoint itself looks like, so a wrong --arch is easy to correct. */
function hint<T extends ShapedTensor>(entries: Map<string, T>, config: VitArchitecture): string {
  const patch = entries.get('patch_embed.proj.weight')?.shape;
  const depth =
    1 +
    Math.max(
      -1,
      ...[...entries.keys()]
        .map((k) => /^blocks\.(\d+)\./.exec(k))
        .filter(Boolean)
        .map((m) => Number(m![1])),
    );
  if (!patch || patch.length !== 5) return '';
  const [width, , tube, p] = patch as number[];
  if (width === config.embedDim && depth === config.depth && p === config.patchSize && tube === config.tubeletSize) return '';
  return `; the checkpoint looks like depth ${depth}, width ${width}, patch ${tube}x${p}x${p}`;
}

export { describeReport };
