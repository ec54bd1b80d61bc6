/**
 * Learning-rate schedule and per-parameter scales, as the official optim_factory /
 * cosine_scheduler: linear warmup, then half-cosine to the minimum; layer-wise decay gives block i
 * the scale decay^(depth + 1 - layer_id(i)).
 */
export interface ScheduleConfig {
  readonly lr: number;
  readonly minLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly warmupStartLr?: number;
}

export function learningRateAt(config: ScheduleConfig, step: number): number {
  const start = config.warmupStartLr ?? 0;
  if (step < config.warmupSteps) return start + ((config.lr - start) * step) / config.warmupSteps;
  const span = Math.max(1, config.totalSteps - config.warmupSteps);
  const progress = Math.min(1, (step - config.warmupSteps) / span);
  return config.minLr + 0.5 * (config.lr - config.minLr) * (1 + Math.cos(Math.PI * progress));
}

/** Layer id of a parameter: 0 for the embedding, i + 1 for block i, depth + 1 for the rest. */
export function layerId(name: string, depth: number): number {
  if (name.startsWith('patch_embed') || name === 'mask_token') return 0;
  const match = /^blocks\.(\d+)\./.exec(name);
  if (match) return Number(match[1]) + 1;
  return depth + 1;
}

export function layerDecayScale(name: string, depth: number, decay: number): number {
  return decay ** (depth + 1 - layerId(name, depth));
}

/** Official skip list: no weight decay on 1-D parameters (biases, norms), q/v biases, tokens. */
export function usesWeightDecay(name: string, shape: readonly number[]): boolean {
  return shape.length > 1 && !name.endsWith('.bias') && name !== 'mask_token';
}
