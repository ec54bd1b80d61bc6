/** The `import-checkpoint` size flags that ViT-backed imports share (custom depths, widths, inputs). */
import type { ArchitectureOptions } from '../config/architectures.js';

export interface ArchitectureFlags {
  depth?: number;
  embedDim?: number;
  numHeads?: number;
  mlpRatio?: number;
  patchSize?: number;
  numFrames?: number;
  imgSize?: number;
  tubeletSize?: number;
}

/** The flags given, as architecture overrides (`--img-size` sets both sides). */
export function architectureFromFlags(flags: ArchitectureFlags): ArchitectureOptions {
  const architecture: ArchitectureOptions = {};
  for (const key of ['depth', 'embedDim', 'numHeads', 'mlpRatio', 'patchSize', 'numFrames', 'tubeletSize'] as const) {
    if (flags[key]) architecture[key] = flags[key];
  }
  if (flags.imgSize) architecture.imageSize = flags.imgSize;
  return architecture;
}
