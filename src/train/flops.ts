/**
 * Analytic FLOP counts of the ViT forward pass (2 FLOPs per multiply-add; matmuls and attention
 * only, elementwise ops ignored). A training step is counted as 3x forward (forward + the two
 * matmuls of each backward), the usual convention for achieved-throughput figures.
 */
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
