/**
 * VideoMAE V2 backbone architectures, as the official code defines them (modeling_finetune.py):
 * ViT with 2 x p x p tube patches, pre-norm blocks, qkv without bias plus q_bias/v_bias,
 * LayerNorm eps 1e-6, mean pooling then fc_norm then head.
 */
import { InvalidParameterError } from '../errors.js';

export interface VitArchitecture {
  /** Official model name (timm-style) or the name of one of our small configs. */
  readonly arch: string;
  readonly patchSize: number;
  readonly tubeletSize: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  /** Hidden width of the block MLP (mlp_ratio x embedDim, truncated as the official code does). */
  readonly mlpHiddenDim: number;
  /** Frames per clip (T). */
  readonly numFrames: number;
  /** Input height and width in pixels. */
  readonly imageHeight: number;
  readonly imageWidth: number;
  /** Classes of the head; 0 means a backbone without head (no `logits` output). */
  readonly numClasses: number;
  readonly layerNormEps: number;
  /** eps of fc_norm when it differs from the blocks' (Hugging Face builds it with nn.LayerNorm's 1e-5). */
  readonly fcNormEps?: number;
  /** Present on pretraining models: the MAE decoder that reconstructs masked tubes. */
  readonly decoder?: DecoderArchitecture;
}

export interface DecoderArchitecture {
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly mlpHiddenDim: number;
}

/** Official decoder widths/heads (S 192/3, B 384/6, L/H/g 512/8, depth 4); ours for the small configs. */
const DECODER_SHAPES: Readonly<Record<string, readonly [number, number]>> = {
  vit_small_patch16_224: [192, 3],
  vit_base_patch16_224: [384, 6],
  vit_large_patch16_224: [512, 8],
  vit_huge_patch16_224: [512, 8],
  vit_giant_patch14_224: [512, 8],
  vit_mini_patch16_224: [64, 2],
  vit_tiny_test: [32, 2],
};

/** The pretraining decoder of an architecture (depth 4, MLP ratio 4). */
export function decoderFor(config: VitArchitecture, depth = 4): DecoderArchitecture {
  const [embedDim, numHeads] = DECODER_SHAPES[config.arch] ?? [Math.max(32, config.embedDim / 2), Math.max(1, config.numHeads / 2)];
  return { embedDim, depth, numHeads, mlpHiddenDim: mlpHidden(embedDim, 4) };
}

type Shape = Pick<VitArchitecture, 'patchSize' | 'embedDim' | 'depth' | 'numHeads' | 'mlpHiddenDim'>;

/** mlp_hidden_dim = int(embed_dim * mlp_ratio), as in the official Block. */
export function mlpHidden(embedDim: number, mlpRatio: number): number {
  return Math.trunc(embedDim * mlpRatio + 1e-9);
}

/** The five official sizes plus small ones for tests and the bundled default. */
export const ARCHITECTURE_SHAPES: Readonly<Record<string, Shape>> = {
  vit_small_patch16_224: { patchSize: 16, embedDim: 384, depth: 12, numHeads: 6, mlpHiddenDim: mlpHidden(384, 4) },
  vit_base_patch16_224: { patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpHiddenDim: mlpHidden(768, 4) },
  vit_large_patch16_224: { patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16, mlpHiddenDim: mlpHidden(1024, 4) },
  vit_huge_patch16_224: { patchSize: 16, embedDim: 1280, depth: 32, numHeads: 16, mlpHiddenDim: mlpHidden(1280, 4) },
  vit_giant_patch14_224: { patchSize: 14, embedDim: 1408, depth: 40, numHeads: 16, mlpHiddenDim: mlpHidden(1408, 48 / 11) },
  /** The bundled default: small enough to ship and to run fast on two CPU cores. */
  vit_mini_patch16_224: { patchSize: 16, embedDim: 96, depth: 4, numHeads: 2, mlpHiddenDim: mlpHidden(96, 4) },
  /** For tests only. */
  vit_tiny_test: { patchSize: 16, embedDim: 64, depth: 2, numHeads: 4, mlpHiddenDim: mlpHidden(64, 4) },
};

export interface ArchitectureOptions {
  numFrames?: number;
  imageSize?: number;
  imageHeight?: number;
  imageWidth?: number;
  numClasses?: number;
  tubeletSize?: number;
  /** Overrides of the shape, for custom sizes. */
  patchSize?: number;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  mlpRatio?: number;
}

/** The released VideoMAE V2 architectures (timm-style names, as the official code registers them). */
export const OFFICIAL_ARCHS: readonly string[] = [
  'vit_small_patch16_224',
  'vit_base_patch16_224',
  'vit_large_patch16_224',
  'vit_huge_patch16_224',
  'vit_giant_patch14_224',
];

export function architectureNames(): string[] {
  return Object.keys(ARCHITECTURE_SHAPES);
}

/**
 * Builds a validated architecture from a named shape and options.
 *
 * @example
 * makeArchitecture('vit_small_patch16_224', { numClasses: 400 })
 * // -> { patchSize: 16, embedDim: 384, depth: 12, numHeads: 6, mlpHiddenDim: 1536, numFrames: 16, ... }
 */
export function makeArchitecture(arch: string, options: ArchitectureOptions = {}): VitArchitecture {
  const shape = ARCHITECTURE_SHAPES[arch];
  if (!shape) {
    throw new InvalidParameterError('arch', arch, `must be one of ${architectureNames().join(', ')}`);
  }
  const embedDim = options.embedDim ?? shape.embedDim;
  const config: VitArchitecture = {
    arch,
    patchSize: options.patchSize ?? shape.patchSize,
    tubeletSize: options.tubeletSize ?? 2,
    embedDim,
    depth: options.depth ?? shape.depth,
    numHeads: options.numHeads ?? shape.numHeads,
    // A custom width keeps the named shape's MLP ratio unless one is given.
    mlpHiddenDim: mlpHidden(embedDim, options.mlpRatio ?? shape.mlpHiddenDim / shape.embedDim),
    numFrames: options.numFrames ?? 16,
    imageHeight: options.imageHeight ?? options.imageSize ?? 224,
    imageWidth: options.imageWidth ?? options.imageSize ?? 224,
    numClasses: options.numClasses ?? 0,
    layerNormEps: 1e-6,
  };
  validateArchitecture(config);
  return config;
}

/** Checks the divisibility rules the tube patch embedding and attention heads need. */
export function validateArchitecture(config: VitArchitecture): void {
  const positive: Array<keyof VitArchitecture> = [
    'patchSize',
    'tubeletSize',
    'embedDim',
    'depth',
    'numHeads',
    'mlpHiddenDim',
    'numFrames',
    'imageHeight',
    'imageWidth',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new InvalidParameterError(key, value, 'must be a positive integer');
    }
  }
  if (!Number.isInteger(config.numClasses) || config.numClasses < 0) {
    throw new InvalidParameterError('numClasses', config.numClasses, 'must be a non-negative integer');
  }
  if (config.numFrames % config.tubeletSize !== 0) {
    throw new InvalidParameterError('numFrames', config.numFrames, `must be divisible by the tubelet size ${config.tubeletSize}`);
  }
  if (config.imageHeight % config.patchSize !== 0) {
    throw new InvalidParameterError('imageHeight', config.imageHeight, `must be divisible by the patch size ${config.patchSize}`);
  }
  if (config.imageWidth % config.patchSize !== 0) {
    throw new InvalidParameterError('imageWidth', config.imageWidth, `must be divisible by the patch size ${config.patchSize}`);
  }
  if (config.embedDim % config.numHeads !== 0) {
    throw new InvalidParameterError('numHeads', config.numHeads, `must divide the embedding width ${config.embedDim}`);
  }
  if (config.decoder && config.decoder.embedDim % config.decoder.numHeads !== 0) {
    throw new InvalidParameterError(
      'decoder.numHeads',
      config.decoder.numHeads,
      `must divide the decoder width ${config.decoder.embedDim}`,
    );
  }
}

/** Token grid of the encoder: [T / tubelet, H / p, W / p]. */
export function tokenGrid(config: VitArchitecture): { t: number; h: number; w: number; count: number } {
  const t = config.numFrames / config.tubeletSize;
  const h = config.imageHeight / config.patchSize;
  const w = config.imageWidth / config.patchSize;
  return { t, h, w, count: t * h * w };
}
