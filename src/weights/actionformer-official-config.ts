/**
 * Reads an official ActionFormer config YAML (happyharrycn/actionformer_release, configs/*.yaml)
 * the way the official `load_config` does: the file merged over libs/core/config.py's DEFAULTS
 * (a key the file sets wins; a nested dict is merged key by key). The result is our
 * ActionFormerConfig (the architecture), the postprocessing settings (test_cfg) and the feature
 * settings (dataset.feat_stride / num_frames / default_fps). An option this service cannot run
 * the way the official code does is refused with an error naming the key.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ServiceError } from '../errors.js';
import type { DecodeOptions } from '../postprocess/temporal-decode.js';
import type { SoftNmsOptions } from '../postprocess/soft-nms-1d.js';
import { makeActionFormerConfig, type ActionFormerConfig } from '../config/actionformer.js';

/** libs/core/config.py DEFAULTS, the parts that shape the model, its inputs and its outputs. */
export const OFFICIAL_DEFAULTS = {
  init_rand_seed: 1234567891,
  dataset_name: 'epic',
  model_name: 'LocPointTransformer',
  dataset: {
    feat_stride: 16,
    num_frames: 32,
    default_fps: null,
    input_dim: 2304,
    num_classes: 97,
    downsample_rate: 1,
    max_seq_len: 2304,
    trunc_thresh: 0.5,
    crop_ratio: null,
    force_upsampling: false,
  },
  model: {
    backbone_type: 'convTransformer',
    fpn_type: 'identity',
    backbone_arch: [2, 2, 5],
    scale_factor: 2,
    regression_range: [
      [0, 4],
      [4, 8],
      [8, 16],
      [16, 32],
      [32, 64],
      [64, 10000],
    ],
    n_head: 4,
    n_mha_win_size: -1,
    embd_kernel_size: 3,
    embd_dim: 512,
    embd_with_ln: true,
    fpn_dim: 512,
    fpn_with_ln: true,
    fpn_start_level: 0,
    head_dim: 512,
    head_kernel_size: 3,
    head_num_layers: 3,
    head_with_ln: true,
    max_buffer_len_factor: 6.0,
    use_abs_pe: false,
    use_rel_pe: false,
  },
  train_cfg: {
    center_sample: 'radius',
    center_sample_radius: 1.5,
    loss_weight: 1.0,
    cls_prior_prob: 0.01,
    init_loss_norm: 2000,
    clip_grad_l2norm: -1,
    head_empty_cls: [],
    dropout: 0.0,
    droppath: 0.1,
    label_smoothing: 0.0,
  },
  test_cfg: {
    pre_nms_thresh: 0.001,
    pre_nms_topk: 5000,
    iou_threshold: 0.1,
    min_score: 0.01,
    max_seg_num: 1000,
    nms_method: 'soft',
    nms_sigma: 0.5,
    duration_thresh: 0.05,
    multiclass_nms: true,
    ext_score_file: null,
    voting_thresh: 0.75,
  },
} as const;

/** How the features the model reads were made (dataset.*), in frames of the source video. */
export interface OfficialFeatureSettings {
  /** `dataset.feat_stride`: frames between consecutive features. */
  readonly featureStride: number;
  /** `dataset.num_frames`: frames per feature clip. */
  readonly numFrames: number;
  /** `dataset.default_fps`: the fps to assume when a video's own is not given (null: must be given). */
  readonly defaultFps: number | null;
}

export interface OfficialActionFormerSettings {
  readonly datasetName: string;
  readonly config: ActionFormerConfig;
  readonly postprocess: DecodeOptions & { readonly nms: SoftNmsOptions };
  readonly features: OfficialFeatureSettings;
}

/** 422: the config file cannot be read, or asks for something the service does not run. */
export class OfficialConfigError extends ServiceError {
  constructor(file: string, key: string | undefined, reason: string, code = 'invalid_config') {
    super(422, code, `ActionFormer config '${file}'${key ? `: '${key}'` : ''} ${reason}`, { parameter: key ?? 'config' });
  }
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The official `_merge(defaults, config)`: every default key the file lacks is filled in, recursively for dicts. */
export function mergeOfficialDefaults(config: Dict, defaults: Dict = OFFICIAL_DEFAULTS as unknown as Dict): Dict {
  const out: Dict = { ...config };
  for (const [key, value] of Object.entries(defaults)) {
    if (!(key in out)) out[key] = structuredClone(value);
    else if (isDict(value) && isDict(out[key])) out[key] = mergeOfficialDefaults(out[key] as Dict, value);
  }
  return out;
}

/**
 * Reads and checks an official config file.
 *
 * @example
 * readOfficialActionFormerConfig('configs/thumos_i3d.yaml')
 * // -> { datasetName: 'thumos', config: { inputDim: 2048, numClasses: 20, mhaWinSize: [19 x 6], ... },
 * //      postprocess: { scoreThreshold: 0.001, topK: 2000, ..., nms: { method: 'gaussian', maxSegments: 200, ... } },
 * //      features: { featureStride: 4, numFrames: 16, defaultFps: null } }
 */
export function readOfficialActionFormerConfig(file: string): OfficialActionFormerSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OfficialConfigError(file, undefined, `cannot be read: ${(error as Error).message}`, 'file_not_found');
  }
  let raw: unknown;
  try {
    raw = parse(text, { version: '1.1' }); // PyYAML (the official yaml.load) reads YAML 1.1
  } catch (error) {
    throw new OfficialConfigError(file, undefined, `is not valid YAML: ${(error as Error).message}`);
  }
  if (!isDict(raw)) throw new OfficialConfigError(file, undefined, 'is not a YAML mapping of config sections');
  return officialSettingsFrom(mergeOfficialDefaults(raw), file);
}

/** The merged official config dict -> our settings (pure; `file` only names the source in errors). */
export function officialSettingsFrom(cfg: Dict, file: string): OfficialActionFormerSettings {
  const section = (name: string): Dict => {
    const value = cfg[name];
    if (!isDict(value)) throw new OfficialConfigError(file, name, `must be a mapping (got ${JSON.stringify(value)})`);
    return value;
  };
  const dataset = section('dataset');
  const model = section('model');
  const train = section('train_cfg');
  const test = section('test_cfg');
  const get = (s: Dict, name: string, key: string) => ({ key: `${name}.${key}`, value: s[key] });
  const num = (
    { key, value }: { key: string; value: unknown },
    check: (n: number) => boolean = Number.isFinite,
    what = 'a number',
  ): number => {
    if (typeof value !== 'number' || !check(value))
      throw new OfficialConfigError(file, key, `must be ${what} (got ${JSON.stringify(value)})`);
    return value;
  };
  const int = (entry: { key: string; value: unknown }, min = 1): number =>
    num(entry, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
  const bool = ({ key, value }: { key: string; value: unknown }): boolean => {
    if (typeof value !== 'boolean') throw new OfficialConfigError(file, key, `must be true or false (got ${JSON.stringify(value)})`);
    return value;
  };
  const unsupported = (key: string, value: unknown, reason: string): never => {
    throw new OfficialConfigError(
      file,
      key,
      `is ${JSON.stringify(value)}, which this service does not support: ${reason}`,
      'unsupported_config',
    );
  };
  const D = (k: string) => get(dataset, 'dataset', k);
  const M = (k: string) => get(model, 'model', k);
  const TR = (k: string) => get(train, 'train_cfg', k);
  const TE = (k: string) => get(test, 'test_cfg', k);

  // What the official code can do and we do not: refused by name, before anything is built.
  if (cfg.model_name !== 'LocPointTransformer')
    unsupported('model_name', cfg.model_name, "only 'LocPointTransformer' (PtTransformer) is imported");
  if (model.backbone_type !== 'convTransformer')
    unsupported('model.backbone_type', model.backbone_type, "only 'convTransformer' is built (not the conv-only backbone)");
  if (model.fpn_type !== 'identity') unsupported('model.fpn_type', model.fpn_type, "only the 'identity' neck is built (not 'fpn')");
  if (model.use_rel_pe !== false) unsupported('model.use_rel_pe', model.use_rel_pe, 'relative position encoding is not built');
  if (Array.isArray(model.embd_dim) || Array.isArray(dataset.input_dim))
    unsupported('model.embd_dim', model.embd_dim, 'multi-stream features (lists of input_dim / embd_dim) are not built');
  if (test.ext_score_file !== null && test.ext_score_file !== undefined)
    unsupported('test_cfg.ext_score_file', test.ext_score_file, 'external classification scores (score fusion) are not applied');
  if (dataset.downsample_rate !== 1)
    unsupported('dataset.downsample_rate', dataset.downsample_rate, 'features are read at their own stride (downsample_rate 1)');
  if (dataset.force_upsampling === true)
    unsupported('dataset.force_upsampling', dataset.force_upsampling, 'features are not resized to a fixed length');
  const nmsMethod = test.nms_method;
  if (nmsMethod !== 'soft' && nmsMethod !== 'hard')
    unsupported('test_cfg.nms_method', nmsMethod, "only 'soft' (Gaussian Soft-NMS) and 'hard' are run");

  const arch = model.backbone_arch;
  if (!Array.isArray(arch) || arch.length !== 3 || !arch.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new OfficialConfigError(
      file,
      'model.backbone_arch',
      `must be three non-negative integers [embedding convs, stem blocks, branch blocks] (got ${JSON.stringify(arch)})`,
    );
  }
  const win = model.n_mha_win_size;
  const windows = Array.isArray(win) ? win : [win];
  if (!windows.every((w) => Number.isInteger(w)))
    throw new OfficialConfigError(
      file,
      'model.n_mha_win_size',
      `must be an integer or one integer per pyramid level (got ${JSON.stringify(win)})`,
    );
  const ranges = model.regression_range;
  if (!Array.isArray(ranges) || !ranges.every((r) => Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number'))) {
    throw new OfficialConfigError(file, 'model.regression_range', `must be a list of [min, max] pairs (got ${JSON.stringify(ranges)})`);
  }

  let config: ActionFormerConfig;
  try {
    config = makeActionFormerConfig({
      inputDim: int(D('input_dim')),
      numClasses: int(D('num_classes')),
      maxSeqLen: int(D('max_seq_len')),
      backboneType: 'convTransformer',
      fpnType: 'identity',
      backboneArch: [arch[0], arch[1], arch[2]] as [number, number, number],
      scaleFactor: int(M('scale_factor')),
      numHeads: int(M('n_head')),
      mhaWinSize: Array.isArray(win) ? (win as number[]) : (win as number),
      embdKernelSize: int(M('embd_kernel_size')),
      embdDim: int(M('embd_dim')),
      embdWithLn: bool(M('embd_with_ln')),
      fpnDim: int(M('fpn_dim')),
      fpnWithLn: bool(M('fpn_with_ln')),
      fpnStartLevel: int(M('fpn_start_level'), 0),
      headDim: int(M('head_dim')),
      headKernelSize: int(M('head_kernel_size')),
      headNumLayers: int(M('head_num_layers')),
      headWithLn: bool(M('head_with_ln')),
      maxBufferLenFactor: num(M('max_buffer_len_factor'), (n) => n > 0, 'a positive number'),
      // the sinusoid table is computed (a non-persistent buffer, never in the checkpoint), re-interpolated past max_seq_len as the official inference does
      useAbsPe: bool(M('use_abs_pe')),
      useRelPe: false,
      regressionRanges: (ranges as number[][]).map(([a, b]) => [a!, b!] as const),
      clsPriorProb: num(TR('cls_prior_prob'), (n) => n >= 0 && n < 1, 'in [0, 1)'),
      centerSampleRadius: num(TR('center_sample_radius'), (n) => n >= 0, 'a number >= 0'),
      dropPath: num(TR('droppath'), (n) => n >= 0 && n < 1, 'in [0, 1)'),
      // train_cfg.dropout acts only while training (nn.Dropout is the identity in eval mode): checked, not kept
      dropout: num(TR('dropout'), (n) => n >= 0 && n < 1, 'in [0, 1)') * 0,
    });
  } catch (error) {
    if (error instanceof OfficialConfigError) throw error;
    // makeActionFormerConfig names our field; say which official key it came from.
    const field = (error as ServiceError).details?.parameter;
    throw new OfficialConfigError(
      file,
      field ? (OFFICIAL_KEY_OF[field] ?? field) : undefined,
      `cannot be built: ${(error as Error).message}`,
      'unsupported_config',
    );
  }
  const defaultFps = dataset.default_fps;
  if (defaultFps !== null && defaultFps !== undefined && !(typeof defaultFps === 'number' && defaultFps > 0)) {
    throw new OfficialConfigError(file, 'dataset.default_fps', `must be a positive number or null (got ${JSON.stringify(defaultFps)})`);
  }
  const datasetName = cfg.dataset_name;
  if (typeof datasetName !== 'string')
    throw new OfficialConfigError(file, 'dataset_name', `must be a string (got ${JSON.stringify(datasetName)})`);
  const unit = (n: number) => n >= 0 && n <= 1;
  return {
    datasetName,
    config,
    postprocess: {
      scoreThreshold: num(TE('pre_nms_thresh'), (n) => n >= 0, 'a number >= 0'),
      topK: int(TE('pre_nms_topk')),
      minDuration: num(TE('duration_thresh'), (n) => n >= 0, 'a number >= 0'),
      nms: {
        // batched_nms runs SoftNMSop with method 2 (Gaussian) for 'soft'
        method: nmsMethod === 'soft' ? 'gaussian' : 'hard',
        iouThreshold: num(TE('iou_threshold'), unit, 'in [0, 1]'),
        sigma: num(TE('nms_sigma'), (n) => n > 0, 'a positive number'),
        minScore: num(TE('min_score'), (n) => n >= 0, 'a number >= 0'),
        maxSegments: int(TE('max_seg_num')),
        perClass: bool(TE('multiclass_nms')),
        votingThreshold: num(TE('voting_thresh'), unit, 'in [0, 1]'),
      },
    },
    features: {
      featureStride: int(D('feat_stride')),
      numFrames: int(D('num_frames')),
      defaultFps: (defaultFps as number | null | undefined) ?? null,
    },
  };
}

/** Our ActionFormerConfig field -> the official key it is read from (for error messages). */
const OFFICIAL_KEY_OF: Readonly<Record<string, string>> = {
  inputDim: 'dataset.input_dim',
  numClasses: 'dataset.num_classes',
  maxSeqLen: 'dataset.max_seq_len',
  backboneArch: 'model.backbone_arch',
  scaleFactor: 'model.scale_factor',
  numHeads: 'model.n_head',
  mhaWinSize: 'model.n_mha_win_size',
  embdKernelSize: 'model.embd_kernel_size',
  embdDim: 'model.embd_dim',
  fpnDim: 'model.fpn_dim',
  fpnStartLevel: 'model.fpn_start_level',
  headDim: 'model.head_dim',
  headKernelSize: 'model.head_kernel_size',
  headNumLayers: 'model.head_num_layers',
  regressionRanges: 'model.regression_range',
  clsPriorProb: 'train_cfg.cls_prior_prob',
  centerSampleRadius: 'train_cfg.center_sample_radius',
  dropPath: 'train_cfg.droppath',
  dropout: 'train_cfg.dropout',
  maxBufferLenFactor: 'model.max_buffer_len_factor',
};
