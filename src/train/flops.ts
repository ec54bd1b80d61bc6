/**
 * Analytic FLOP counts of the ViT, ActionFormer and AVA head forward passes (2 FLOPs per
 * multiply-add; matmuls, convs and attention only, elementwise ops ignored). A training step is counted as 3x forward (forward + the two
 * matmuls of each backward), the usual convention for achieved-throughput figures.
 */
import { ACTIONFORMER_MLP_RATIO, pyramidLevels, type ActionFormerConfig } from '../config/actionformer.js';
import { tokenGrid, type VitArchitecture } from '../config/architectures.js';

function blockFlops(tokens: number, dim: number, hidden: number): number {
  const linear = 2 * tokens * (dim * 3 * dim + dim * dim + 2 * dim * hidden);
  const attention = 2 * 2 * tokens * tokens * dim;
  return linear + attention;
}

export function encoderForwardFlops(config: VitArchitecture, tokens = tokenGrid(config).count): number {
  const patchVector = 3 * config.tubeletSize * config.patchSize * config.patchSize;
  return 2 * tokens * patchVector * config.embedDim + config.depth * blockFlops(tokens, config.embedDim, config.mlpHiddenDim);
}

export function classifierForwardFlops(config: VitArchitecture): number {
  return encoderForwardFlops(config) + 2 * config.embedDim * config.numClasses;
}

/** Encoder on the visible tokens, projection, decoder on visible + mask tokens, head on mask tokens. */
export function pretrainForwardFlops(config: VitArchitecture, visible: number, masked: number): number {
  const decoder = config.decoder!;
  const patchVector = 3 * config.tubeletSize * config.patchSize * config.patchSize;
  return (
    encoderForwardFlops(config, visible) +
    2 * visible * config.embedDim * decoder.embedDim +
    decoder.depth * blockFlops(visible + masked, decoder.embedDim, decoder.mlpHiddenDim) +
    2 * masked * decoder.embedDim * patchVector
  );
}

/**
 * ActionFormer (the official PtTransformer with the convTransformer backbone and identity neck,
 * as src/train/actionformer.ts builds it) on one window of `length` steps (config.maxSeqLen by
 * default). Counted, 2 FLOPs per multiply-add:
 * - embedding convs, kernel k: 2 T k in out each (inputDim -> embdDim, then embdDim -> embdDim);
 * - each transformer block at its output length T_o (T in the stem, T / 2^l for branch block l):
 *   the three depthwise kernel-3 convs of q, k, v (2 x 3 T_o E each, stride 2 computed at the
 *   output steps as the official Conv1d does), the q, k, v and output 1x1 projections (4 x 2 T_o E^2),
 *   the MLP E -> 4E -> E (2 x 2 T_o 4E^2), and attention: scores and weighted values over the
 *   keys each query sees, 2 x 2 T_o keys E, with keys = 2 (window // 2) + 1 for a local window
 *   (window > 1) and keys = T_o for global attention (window <= 1);
 * - the classification and regression heads on every level: (headNumLayers - 1) kernel-k convs
 *   (fpnDim -> headDim, then headDim -> headDim) and the output conv (headDim -> classes, or 2).
 * LayerNorms, masks, pooling, activations and the loss are elementwise and not counted.
 */
export function actionFormerForwardFlops(c: ActionFormerConfig, length = c.maxSeqLen): number {
  const E = c.embdDim;
  const conv = (steps: number, k: number, inDim: number, outDim: number) => 2 * steps * k * inDim * outDim;
  let flops = 0;
  for (let i = 0; i < c.backboneArch[0]; i++) flops += conv(length, c.embdKernelSize, i === 0 ? c.inputDim : E, E);
  const block = (steps: number, window: number) => {
    const keys = window > 1 ? 2 * Math.floor(window / 2) + 1 : steps;
    const depthwise = 3 * 2 * 3 * steps * E;
    const linear = 2 * steps * (4 * E * E + 2 * E * ACTIONFORMER_MLP_RATIO * E);
    return depthwise + linear + 2 * 2 * steps * keys * E;
  };
  for (let b = 0; b < c.backboneArch[1]; b++) flops += block(length, c.mhaWinSize[0]!);
  const lengths = Array.from({ length: pyramidLevels(c) }, (_, l) => length / 2 ** l);
  for (let l = 1; l < lengths.length; l++) flops += block(lengths[l]!, c.mhaWinSize[l]!);
  for (const steps of lengths) {
    for (const outputs of [c.numClasses, 2]) {
      for (let i = 0; i < c.headNumLayers - 1; i++) flops += conv(steps, c.headKernelSize, i === 0 ? c.fpnDim : c.headDim, c.headDim);
      flops += conv(steps, c.headKernelSize, c.headNumLayers > 1 ? c.headDim : c.fpnDim, outputs);
    }
  }
  return flops;
}

/** The AVA head on `boxes` RoI-pooled features [boxes, embedDim]: the linear layer to the classes. */
export function avaHeadForwardFlops(boxes: number, embedDim: number, numClasses: number): number {
  return 2 * boxes * embedDim * numClasses;
}
