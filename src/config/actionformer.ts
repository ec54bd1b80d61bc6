/**
 * ActionFormer (Zhang et al., ECCV 2022) as this service builds it on VideoMAE V2 features:
 * masked 1-D conv embedding, transformer blocks with local window self-attention, a pyramid of
 * levels at strides 1, 2, 4, ... (each level halves the sequence), and shared classification and
 * regression heads. The official THUMOS14 settings are the defaults; widths are ours to choose.
 */
import { InvalidParameterError } from '../errors.js';

export interface ActionFormerConfig {
  /** Feature width of the backbone (its `features` output). */
  readonly inputDim: number;
  /** Width inside the model (official: 512). */
  readonly embedDim: number;
  readonly numHeads: number;
  /** Local attention window in positions of the level (official: 19). */
  readonly window: number;
  /** Conv + LayerNorm + ReLU layers of the embedding (official arch[0]: 2). */
  readonly embedLayers: number;
  /** Transformer blocks before the pyramid (official arch[1]: 2). */
  readonly stemLayers: number;
  /** Pyramid levels; level l has stride 2^l (official: 6 -> strides 1..32). */
  readonly levels: number;
  readonly mlpRatio: number;
  /** Conv layers per head including the output conv (official: 3). */
  readonly headLayers: number;
  readonly numClasses: number;
  /** Per level, the [min, max) regression range in feature steps of that level's outputs (official THUMOS). */
  readonly regressionRanges: ReadonlyArray<readonly [number, number]>;
  /** Centre sampling radius in strides (official: 1.5). */
  readonly centerSampleRadius: number;
  /** Initial probability of the classification sigmoid (official: 0.01). */
  readonly priorProb: number;
  readonly layerNormEps: number;
}

export const HEAD_KERNEL = 3;

/** ActionFormer's THUMOS14 ranges, in feature steps: (0,4), (4,8), (8,16), (16,32), (32,64), (64,inf). */
export const THUMOS_REGRESSION_RANGES: ReadonlyArray<readonly [number, number]> = [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, 10000]];

export function makeActionFormerConfig(options: Partial<ActionFormerConfig> & Pick<ActionFormerConfig, 'inputDim' | 'numClasses'>): ActionFormerConfig {
  const config: ActionFormerConfig = {
    embedDim: 128, numHeads: 4, window: 19, embedLayers: 2, stemLayers: 2, levels: 6, mlpRatio: 4, headLayers: 3,
    regressionRanges: THUMOS_REGRESSION_RANGES, centerSampleRadius: 1.5, priorProb: 0.01, layerNormEps: 1e-5,
    ...options,
  };
  validateActionFormerConfig(config);
  return config;
}

export function validateActionFormerConfig(c: ActionFormerConfig): void {
  for (const key of ['inputDim', 'embedDim', 'numHeads', 'window', 'embedLayers', 'stemLayers', 'levels', 'mlpRatio', 'headLayers', 'numClasses'] as const) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new InvalidParameterError(key, c[key], 'must be a positive integer');
  }
  if (c.embedDim % c.numHeads !== 0) throw new InvalidParameterError('numHeads', c.numHeads, `must divide embedDim ${c.embedDim}`);
  if (c.window % 2 !== 1) throw new InvalidParameterError('window', c.window, 'must be odd (a centred window)');
  if (c.headLayers < 2) throw new InvalidParameterError('headLayers', c.headLayers, 'must be at least 2 (one hidden conv and the output conv)');
  if (c.regressionRanges.length !== c.levels) {
    throw new InvalidParameterError('regressionRanges', c.regressionRanges.length, `must have one range per level (${c.levels})`);
  }
}

/** Sequences fed to the model are padded to a multiple of this (every level halves the length). */
export function sequenceMultiple(config: ActionFormerConfig): number {
  return 2 ** (config.levels - 1);
}

/** Lengths of each level for an input of `length` steps (a multiple of sequenceMultiple). */
export function levelLengths(config: ActionFormerConfig, length: number): number[] {
  return Array.from({ length: config.levels }, (_, l) => length / 2 ** l);
}
