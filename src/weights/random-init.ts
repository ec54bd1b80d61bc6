/**
 * Seeded random weights with the official initialization (trunc_normal std 0.02 for weights,
 * zero biases, unit LayerNorm gains): an untrained model that is the same on every machine; and the
 * seeded generator, seed mixing and integer draws that training (train/rng.ts) and the synthetic
 * datasets share.
 */
import type { VitArchitecture } from '../config/architectures.js';
import { elementCount, modelParameters } from './parameters.js';
import type { TensorMap } from './safetensors.js';

/** Mixes integers into one 32-bit seed (murmur3 finalizer per word). */
export function mixSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const word of words) {
    let k = Math.imul(word >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A generator of uniform draws in [0, 1). */
export type Uniform = () => number;

/** An integer in [0, n) from one draw. */
export function randomInt(uniform: Uniform, n: number): number {
  return Math.min(n - 1, Math.floor(uniform() * n));
}

/** mulberry32: a small, fast, well-mixed 32-bit generator; enough for reproducible init. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) truncated to [-2 std, 2 std] (timm's trunc_normal_ with a = -2 std, b = 2 std). */
export function fillTruncatedNormal(out: Float32Array, std: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i++) {
    let z: number;
    do {
      // Box-Muller; 1 - u keeps the log argument in (0, 1].
      z = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    } while (Math.abs(z) > 2);
    out[i] = z * std;
  }
}

export function randomWeights(config: VitArchitecture, seed: number): TensorMap {
  const uniform = seededUniform(seed);
  const tensors: TensorMap = new Map();
  for (const spec of modelParameters(config)) {
    const data = new Float32Array(elementCount(spec.shape));
    if (spec.init === 'ones') data.fill(1);
    else if (spec.init === 'trunc_normal') fillTruncatedNormal(data, 0.02, uniform);
    else if (spec.init === 'xavier_uniform') fillXavierUniform(data, spec.shape, uniform);
    tensors.set(spec.name, { shape: spec.shape, data });
  }
  return tensors;
}

/** Glorot uniform for a Linear weight [out, in]: U(-a, a), a = sqrt(6 / (in + out)). */
export function fillXavierUniform(out: Float32Array, shape: readonly number[], uniform: () => number): void {
  const bound = Math.sqrt(6 / ((shape[0] ?? 1) + (shape[1] ?? 1)));
  for (let i = 0; i < out.length; i++) out[i] = (uniform() * 2 - 1) * bound;
}
