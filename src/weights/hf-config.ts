/**
 * A Hugging Face transformers VideoMAE folder's JSON, read into our terms (pure; the caller reads
 * the files): config.json -> architecture, LayerNorm eps, id2label; preprocessor_config.json
 * (VideoMAEImageProcessor) -> mean, std, short side. Every field is checked, and a refusal names
 * the file and the field, so a wrong or foreign config is easy to tell apart from a broken one.
 */
import type { ArchitectureOptions } from '../config/architectures.js';
import { parseLabels } from '../config/labels.js';
import { CheckpointError } from './checkpoint-error.js';

export interface HfModelConfig {
  /** Shape overrides for makeArchitecture (every size comes from config.json). */
  readonly architecture: Required<
    Pick<ArchitectureOptions, 'patchSize' | 'tubeletSize' | 'embedDim' | 'depth' | 'numHeads' | 'numFrames' | 'imageSize'>
  > & { readonly mlpHiddenDim: number };
  readonly layerNormEps: number;
  readonly qkvBias: boolean;
  readonly useMeanPooling: boolean;
  /** The transformers class it was saved from (config.architectures[0]), if recorded. */
  readonly modelClass: string | undefined;
  /** id2label in id order (transformers writes LABEL_0, LABEL_1 when there is no head). */
  readonly labels: string[];
  /** decoder_num_attention_heads, for a pretraining model kept with its decoder. */
  readonly decoderNumHeads: number | undefined;
}

export interface HfPreprocessing {
  readonly mean: [number, number, number];
  readonly std: [number, number, number];
  readonly shortSide: number;
}

/** transformers' nn.LayerNorm(hidden_size) for fc_norm: PyTorch's default eps, not config.layer_norm_eps. */
export const HF_FC_NORM_EPS = 1e-5;

/** VideoMAEImageProcessor's defaults (IMAGENET_STANDARD_MEAN / STD, 224). */
const PROCESSOR_DEFAULTS = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], shortestEdge: 224, crop: 224 } as const;

type Json = Record<string, unknown>;

function objectOf(json: unknown, file: string): Json {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new CheckpointError('invalid_checkpoint', file, 'is not a JSON object');
  return json as Json;
}

function positiveInt(json: Json, key: string, file: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CheckpointError('invalid_checkpoint', file, `has ${key} ${JSON.stringify(value)}; it must be a positive integer`);
  }
  return value;
}

/**
 * Reads config.json of a transformers VideoMAE model.
 *
 * @example
 * parseHfConfig(JSON.parse(readFileSync('config.json', 'utf8')), 'config.json')
 * // -> { architecture: { embedDim: 768, depth: 12, numHeads: 12, mlpHiddenDim: 3072, patchSize: 16, ... }, layerNormEps: 1e-12, labels: [...] }
 */
export function parseHfConfig(json: unknown, file: string): HfModelConfig {
  const config = objectOf(json, file);
  if (config.model_type !== 'videomae') {
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      `has model_type ${JSON.stringify(config.model_type)}; only transformers' 'videomae' models can be imported with --format hf`,
    );
  }
  const act = config.hidden_act ?? 'gelu';
  if (act !== 'gelu') {
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      `has hidden_act ${JSON.stringify(act)}; only 'gelu' (the exact erf form our graph computes) is supported`,
    );
  }
  const channels = positiveInt(config, 'num_channels', file, 3);
  if (channels !== 3) throw new CheckpointError('unsupported_checkpoint', file, `has num_channels ${channels}; only RGB (3) is supported`);
  const imageSize = squareSize(config.image_size ?? 224, 'image_size', file);
  const patchSize = squareSize(config.patch_size ?? 16, 'patch_size', file);
  const eps = config.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0))
    throw new CheckpointError('invalid_checkpoint', file, `has layer_norm_eps ${JSON.stringify(eps)}; it must be a positive number`);
  const hidden = positiveInt(config, 'hidden_size', file, 768);
  const heads = positiveInt(config, 'num_attention_heads', file, 12);
  if (hidden % heads !== 0)
    throw new CheckpointError('invalid_checkpoint', file, `has hidden_size ${hidden}, not a multiple of num_attention_heads ${heads}`);
  const classes = Array.isArray(config.architectures) ? config.architectures : [];
  return {
    architecture: {
      embedDim: hidden,
      depth: positiveInt(config, 'num_hidden_layers', file, 12),
      numHeads: heads,
      mlpHiddenDim: positiveInt(config, 'intermediate_size', file, 3072),
      patchSize,
      tubeletSize: positiveInt(config, 'tubelet_size', file, 2),
      numFrames: positiveInt(config, 'num_frames', file, 16),
      imageSize,
    },
    layerNormEps: eps,
    qkvBias: booleanOf(config, 'qkv_bias', file, true),
    useMeanPooling: booleanOf(config, 'use_mean_pooling', file, true),
    modelClass: typeof classes[0] === 'string' ? classes[0] : undefined,
    labels: labelsOf(config.id2label, file),
    decoderNumHeads: typeof config.decoder_num_attention_heads === 'number' ? config.decoder_num_attention_heads : undefined,
  };
}

function booleanOf(json: Json, key: string, file: string, fallback: boolean): boolean {
  const value = json[key] ?? fallback;
  if (typeof value !== 'boolean')
    throw new CheckpointError('invalid_checkpoint', file, `has ${key} ${JSON.stringify(value)}; it must be true or false`);
  return value;
}

/** image_size / patch_size: an int, or a square [h, w] pair. */
function squareSize(value: unknown, key: string, file: string): number {
  const pair = Array.isArray(value) ? value : [value, value];
  const [h, w] = pair;
  if (pair.length !== 2 || typeof h !== 'number' || !Number.isInteger(h) || h <= 0 || h !== w) {
    throw new CheckpointError(
      Array.isArray(value) && h !== w ? 'unsupported_checkpoint' : 'invalid_checkpoint',
      file,
      `has ${key} ${JSON.stringify(value)}; it must be a positive integer (or a square [h, w] pair)`,
    );
  }
  return h;
}

/** id2label ({"0": "abseiling", ...}) as a list in id order; ids must be 0..n-1. */
function labelsOf(value: unknown, file: string): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CheckpointError('invalid_checkpoint', file, 'has an id2label that is not an object');
  const entries = Object.entries(value as Json);
  const labels = new Array<string>(entries.length);
  for (const [id, label] of entries) {
    const index = Number(id);
    if (!/^\d+$/.test(id) || index >= entries.length || labels[index] !== undefined) {
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `has id2label key ${JSON.stringify(id)}; the keys must be the ids 0..${entries.length - 1}, each once`,
      );
    }
    if (typeof label !== 'string')
      throw new CheckpointError('invalid_checkpoint', file, `has id2label["${id}"] ${JSON.stringify(label)}; labels must be strings`);
    // A label file holds one trimmed label a line; a label it would change cannot be kept.
    if (parseLabels(label).length !== 1 || parseLabels(label)[0] !== label) {
      throw new CheckpointError(
        'unsupported_checkpoint',
        file,
        `has id2label["${id}"] ${JSON.stringify(label)}, which a one-label-a-line file cannot hold (empty, padded, multi-line or 'N: ' prefixed)`,
      );
    }
    labels[index] = label;
  }
  return labels;
}

/**
 * Reads preprocessor_config.json (VideoMAEImageProcessor, or the older VideoMAEFeatureExtractor
 * with integer sizes). Our pipeline always resizes the short side, center-crops a square, scales
 * to [0, 1] and normalizes, so anything else is refused rather than silently served differently.
 */
export function parseHfPreprocessor(json: unknown, file: string, imageSize: number): HfPreprocessing {
  const config = objectOf(json, file);
  const refuse = (why: string): never => {
    throw new CheckpointError('unsupported_checkpoint', file, why);
  };
  for (const key of ['do_resize', 'do_center_crop', 'do_rescale', 'do_normalize']) {
    if (config[key] === false) refuse(`sets ${key} false; the serving pipeline always resizes, center-crops, rescales and normalizes`);
  }
  const factor = config.rescale_factor ?? 1 / 255;
  if (typeof factor !== 'number' || Math.abs(factor * 255 - 1) > 1e-6)
    refuse(`has rescale_factor ${JSON.stringify(factor)}; only 1/255 is supported`);

  const size = config.size ?? { shortest_edge: PROCESSOR_DEFAULTS.shortestEdge };
  let shortSide: number;
  if (typeof size === 'number') shortSide = size;
  else if (typeof size === 'object' && size !== null && typeof (size as Json).shortest_edge === 'number')
    shortSide = (size as Json).shortest_edge as number;
  else shortSide = refuse(`has size ${JSON.stringify(size)}; only a shortest_edge resize (aspect kept) is supported`);
  if (!Number.isInteger(shortSide) || shortSide <= 0)
    throw new CheckpointError('invalid_checkpoint', file, `has size ${JSON.stringify(size)}; shortest_edge must be a positive integer`);

  const crop = config.crop_size ?? { height: PROCESSOR_DEFAULTS.crop, width: PROCESSOR_DEFAULTS.crop };
  const [cropH, cropW] =
    typeof crop === 'number'
      ? [crop, crop]
      : typeof crop === 'object' && crop !== null
        ? [(crop as Json).height, (crop as Json).width]
        : [undefined, undefined];
  if (cropH !== imageSize || cropW !== imageSize) {
    refuse(`has crop_size ${JSON.stringify(crop)}, but the model takes ${imageSize}x${imageSize} (config.json image_size)`);
  }
  if (shortSide < imageSize) refuse(`has size.shortest_edge ${shortSide}, smaller than the ${imageSize}-pixel crop`);
  return {
    mean: triple(config.image_mean ?? PROCESSOR_DEFAULTS.mean, 'image_mean', file),
    std: triple(config.image_std ?? PROCESSOR_DEFAULTS.std, 'image_std', file, true),
    shortSide,
  };
}

function triple(value: unknown, key: string, file: string, positive = false): [number, number, number] {
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    !value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))
  ) {
    throw new CheckpointError(
      'invalid_checkpoint',
      file,
      `has ${key} ${JSON.stringify(value)}; it must be three ${positive ? 'positive ' : ''}numbers (one per RGB channel)`,
    );
  }
  return [value[0], value[1], value[2]];
}
