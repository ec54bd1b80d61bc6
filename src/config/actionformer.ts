/**
 * ActionFormer (Zhang et al., ECCV 2022) as the official `LocPointTransformer` builds it
 * (happyharrycn/actionformer_release, libs/modeling): masked 1-D conv embedding, transformer
 * blocks with conv attention (MaskedMHCA / LocalMaskedMHCA), a pyramid of levels at strides
 * 1, 2, 4, ... made by stride-2 blocks, an identity neck with LayerNorms, and shared conv heads.
 *
 * Every field is one key of the official config (libs/core/config.py, configs/*.yaml),
 * camelCased; the doc comment names the key. `thumosActionFormerConfig` gives the official
 * THUMOS14 values (configs/thumos_i3d.yaml merged over the defaults).
 */
import { InvalidParameterError } from '../errors.js';

export interface ActionFormerConfig {
  /** `dataset.input_dim`: feature width of the backbone (its `features` output). */
  readonly inputDim: number;
  /** `dataset.num_classes`: action classes (sigmoid outputs, no background class). */
  readonly numClasses: number;
  /**
   * `dataset.max_seq_len`: training windows are this long; at inference shorter inputs are padded
   * to it and longer ones to a multiple of the largest stride x window (`maxDivFactor`).
   */
  readonly maxSeqLen: number;
  /** `model.backbone_type`: only 'convTransformer' (the ActionFormer backbone) is built here. */
  readonly backboneType: 'convTransformer';
  /** `model.fpn_type`: only 'identity' (per-level LayerNorm, the official THUMOS/ActivityNet neck). */
  readonly fpnType: 'identity';
  /**
   * `model.backbone_arch`: [embedding convs, stem transformer blocks, branch (stride-2) blocks];
   * the pyramid has branch + 1 levels (official: [2, 2, 5] -> 6 levels, strides 1..32).
   */
  readonly backboneArch: readonly [number, number, number];
  /** `model.scale_factor`: downsampling between pyramid levels (official: 2; only 2 is supported). */
  readonly scaleFactor: number;
  /** `model.n_head`: attention heads. */
  readonly numHeads: number;
  /**
   * `model.n_mha_win_size`, one entry per pyramid level (an int in the YAML applies to all):
   * local attention window (odd, > 1: LocalMaskedMHCA), or <= 1 for global attention (MaskedMHCA).
   * THUMOS: 19.
   */
  readonly mhaWinSize: readonly number[];
  /** `model.embd_kernel_size`: kernel of the embedding convs (official: 3). */
  readonly embdKernelSize: number;
  /** `model.embd_dim`: width of the embedding and the transformer (official: 512). */
  readonly embdDim: number;
  /** `model.embd_with_ln`: LayerNorm after each embedding conv (then the conv has no bias). */
  readonly embdWithLn: boolean;
  /** `model.fpn_dim`: width of the neck's outputs; the identity neck needs fpnDim = embdDim. */
  readonly fpnDim: number;
  /** `model.fpn_with_ln`: LayerNorm on each pyramid level in the neck. */
  readonly fpnWithLn: boolean;
  /** `model.fpn_start_level`: first pyramid level fed to the heads (only 0 is supported). */
  readonly fpnStartLevel: number;
  /** `model.head_dim`: width inside the classification and regression heads. */
  readonly headDim: number;
  /** `model.head_kernel_size`: kernel of the head convs (official: 3). */
  readonly headKernelSize: number;
  /** `model.head_num_layers`: conv layers per head including the output conv (official: 3). */
  readonly headNumLayers: number;
  /** `model.head_with_ln`: LayerNorm after each hidden head conv (then the conv has no bias). */
  readonly headWithLn: boolean;
  /** `model.max_buffer_len_factor`: the official point buffer is maxSeqLen x this (official: 6). */
  readonly maxBufferLenFactor: number;
  /** `model.use_abs_pe`: add the sinusoid position table / sqrt(embdDim) after the embedding. */
  readonly useAbsPe: boolean;
  /** `model.use_rel_pe`: relative position bias in local attention (not supported: must be false). */
  readonly useRelPe: boolean;
  /**
   * `model.regression_range`: per level, the [min, max) regression range in feature steps of the
   * input (official THUMOS: (0,4), (4,8), (8,16), (16,32), (32,64), (64,10000)).
   */
  readonly regressionRanges: ReadonlyArray<readonly [number, number]>;
  /** `train_cfg.cls_prior_prob`: initial probability of the classification sigmoid (official: 0.01). */
  readonly clsPriorProb: number;
  /** `train_cfg.center_sample_radius`: centre sampling radius in strides (official: 1.5). */
  readonly centerSampleRadius: number;
  /**
   * `train_cfg.droppath`: drop-path rate of the transformer blocks (official: 0.1). When > 0 the
   * blocks carry AffineDropPath per-channel scales (`drop_path_attn.scale`, `drop_path_mlp.scale`),
   * applied at inference too; when 0 there are none.
   */
  readonly dropPath: number;
  /** `train_cfg.dropout`: dropout in the attention projection and MLP (only 0 is supported). */
  readonly dropout: number;
}

/** The official LayerNorm epsilon (libs/modeling/blocks.py LayerNorm). */
export const ACTIONFORMER_LN_EPS = 1e-5;
/** The official MLP width is 4 x embdDim (TransformerBlock n_hidden default). */
export const ACTIONFORMER_MLP_RATIO = 4;

/** ActionFormer's THUMOS ranges, in feature steps: (0,4), (4,8), (8,16), (16,32), (32,64), (64,inf). */
export const THUMOS_REGRESSION_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 4],
  [4, 8],
  [8, 16],
  [16, 32],
  [32, 64],
  [64, 10000],
];

/**
 * The official THUMOS14 I3D configuration (configs/thumos_i3d.yaml over libs/core/config.py).
 *
 * @example
 * thumosActionFormerConfig() // -> { inputDim: 2048, numClasses: 20, maxSeqLen: 2304, embdDim: 512, mhaWinSize: [19 x 6], ... }
 */
export function thumosActionFormerConfig(overrides: Partial<ActionFormerConfig> = {}): ActionFormerConfig {
  // makeActionFormerConfig's defaults are the official THUMOS values; THUMOS adds its feature width and classes.
  return makeActionFormerConfig({ inputDim: 2048, numClasses: 20, ...overrides });
}

export type ActionFormerConfigOptions = Partial<Omit<ActionFormerConfig, 'mhaWinSize'>> &
  Pick<ActionFormerConfig, 'inputDim' | 'numClasses'> & {
    /** One window for every level, or one per level. */
    readonly mhaWinSize?: number | readonly number[];
  };

/**
 * A checked config from the official defaults (THUMOS values) and `options`. `fpnDim` and
 * `headDim` follow `embdDim` unless given.
 */
export function makeActionFormerConfig(options: ActionFormerConfigOptions): ActionFormerConfig {
  const arch = options.backboneArch ?? [2, 2, 5];
  const embdDim = options.embdDim ?? 512;
  const win = options.mhaWinSize ?? 19;
  const config: ActionFormerConfig = {
    maxSeqLen: 2304,
    backboneType: 'convTransformer',
    fpnType: 'identity',
    scaleFactor: 2,
    numHeads: 4,
    embdKernelSize: 3,
    embdWithLn: true,
    fpnWithLn: true,
    fpnStartLevel: 0,
    headKernelSize: 3,
    headNumLayers: 3,
    headWithLn: true,
    maxBufferLenFactor: 6,
    useAbsPe: false,
    useRelPe: false,
    regressionRanges: THUMOS_REGRESSION_RANGES,
    clsPriorProb: 0.01,
    centerSampleRadius: 1.5,
    dropPath: 0.1,
    dropout: 0,
    ...options,
    backboneArch: [arch[0], arch[1], arch[2]],
    embdDim,
    fpnDim: options.fpnDim ?? embdDim,
    headDim: options.headDim ?? options.fpnDim ?? embdDim,
    mhaWinSize: typeof win === 'number' ? new Array(arch[2] + 1).fill(win) : [...win],
  };
  validateActionFormerConfig(config);
  return config;
}

export function validateActionFormerConfig(c: ActionFormerConfig): void {
  const positive = [
    'inputDim',
    'numClasses',
    'maxSeqLen',
    'scaleFactor',
    'numHeads',
    'embdKernelSize',
    'embdDim',
    'fpnDim',
    'headDim',
    'headKernelSize',
    'headNumLayers',
  ] as const;
  for (const key of positive) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new InvalidParameterError(key, c[key], 'must be a positive integer');
  }
  if (c.backboneType !== 'convTransformer')
    throw new InvalidParameterError('backboneType', c.backboneType, "must be 'convTransformer' (the conv-only backbone is not built here)");
  if (c.fpnType !== 'identity')
    throw new InvalidParameterError('fpnType', c.fpnType, "must be 'identity' (the 'fpn' neck is not built here)");
  if (c.backboneArch.length !== 3 || !c.backboneArch.every((n) => Number.isInteger(n) && n >= 0) || c.backboneArch[0] < 1) {
    throw new InvalidParameterError('backboneArch', c.backboneArch, 'must be [embedding convs >= 1, stem blocks >= 0, branch blocks >= 0]');
  }
  if (c.scaleFactor !== 2) throw new InvalidParameterError('scaleFactor', c.scaleFactor, 'must be 2 (the pyramid strides are powers of 2)');
  if (c.embdDim % c.numHeads !== 0) throw new InvalidParameterError('numHeads', c.numHeads, `must divide embdDim ${c.embdDim}`);
  if (c.fpnDim !== c.embdDim) throw new InvalidParameterError('fpnDim', c.fpnDim, `must equal embdDim ${c.embdDim} (the identity neck)`);
  if (c.fpnStartLevel !== 0)
    throw new InvalidParameterError('fpnStartLevel', c.fpnStartLevel, 'must be 0 (every pyramid level feeds the heads)');
  if (c.embdKernelSize % 2 !== 1) throw new InvalidParameterError('embdKernelSize', c.embdKernelSize, 'must be odd');
  if (c.headKernelSize % 2 !== 1) throw new InvalidParameterError('headKernelSize', c.headKernelSize, 'must be odd');
  if (c.headNumLayers < 1) throw new InvalidParameterError('headNumLayers', c.headNumLayers, 'must be at least 1 (the output conv)');
  if (c.useRelPe) throw new InvalidParameterError('useRelPe', c.useRelPe, 'must be false (relative position encoding is not built here)');
  if (!(c.dropPath >= 0 && c.dropPath < 1)) throw new InvalidParameterError('dropPath', c.dropPath, 'must be in [0, 1)');
  if (c.dropout !== 0) throw new InvalidParameterError('dropout', c.dropout, 'must be 0 (dropout in the transformer is not built here)');
  if (!(c.clsPriorProb >= 0 && c.clsPriorProb < 1)) throw new InvalidParameterError('clsPriorProb', c.clsPriorProb, 'must be in [0, 1)');
  if (!(c.centerSampleRadius >= 0)) throw new InvalidParameterError('centerSampleRadius', c.centerSampleRadius, 'must be >= 0');
  if (!(c.maxBufferLenFactor > 0)) throw new InvalidParameterError('maxBufferLenFactor', c.maxBufferLenFactor, 'must be > 0');
  const levels = pyramidLevels(c);
  if (c.mhaWinSize.length !== levels)
    throw new InvalidParameterError('mhaWinSize', c.mhaWinSize, `must have one window per pyramid level (${levels})`);
  for (const w of c.mhaWinSize) {
    if (!Number.isInteger(w) || (w > 1 && w % 2 !== 1))
      throw new InvalidParameterError(
        'mhaWinSize',
        c.mhaWinSize,
        'must hold odd windows > 1 (local attention) or values <= 1 (global attention)',
      );
  }
  if (c.regressionRanges.length !== levels) {
    throw new InvalidParameterError('regressionRanges', c.regressionRanges.length, `must have one range per level (${levels})`);
  }
  levelStrides(c).forEach((s, l) => {
    const w = c.mhaWinSize[l]!;
    const stride = w > 1 ? s * Math.floor(w / 2) * 2 : s;
    if (c.maxSeqLen % stride !== 0) {
      throw new InvalidParameterError(
        'maxSeqLen',
        c.maxSeqLen,
        `must be divisible by level ${l}'s stride x window ${stride} (the official assert)`,
      );
    }
  });
}

/** Pyramid levels: branch blocks + 1 (official fpn_strides from fpn_start_level 0). */
export function pyramidLevels(c: Pick<ActionFormerConfig, 'backboneArch'>): number {
  return c.backboneArch[2] + 1;
}

/** Stride of each level in input steps: 1, 2, 4, ... */
export function levelStrides(c: Pick<ActionFormerConfig, 'backboneArch' | 'scaleFactor'>): number[] {
  return Array.from({ length: pyramidLevels(c) }, (_, l) => c.scaleFactor ** l);
}

/**
 * The official `max_div_factor`: the largest stride x (window // 2) x 2 (stride alone for global
 * attention); padded lengths at inference are a multiple of it.
 */
export function maxDivFactor(c: Pick<ActionFormerConfig, 'backboneArch' | 'scaleFactor' | 'mhaWinSize'>): number {
  let factor = 1;
  levelStrides(c).forEach((s, l) => {
    const w = c.mhaWinSize[l]!;
    factor = Math.max(factor, w > 1 ? s * Math.floor(w / 2) * 2 : s);
  });
  return factor;
}

/**
 * Length the model runs on for `valid` real steps, as the official `preprocessing` pads at
 * inference: maxSeqLen when valid <= maxSeqLen, else the next multiple of maxDivFactor. (With
 * mixed windows the official LocalMaskedMHCA can then assert on a level whose length is not a
 * multiple of its 2 x (window // 2); the graphs here have no such constraint and give its function.)
 */
export function paddedLength(c: ActionFormerConfig, valid: number): number {
  if (valid <= c.maxSeqLen) return c.maxSeqLen;
  const f = maxDivFactor(c);
  return Math.ceil(valid / f) * f;
}

/** Lengths of each level for an input of `length` steps (a multiple of the largest stride). */
export function levelLengths(config: ActionFormerConfig, length: number): number[] {
  return levelStrides(config).map((s) => length / s);
}
