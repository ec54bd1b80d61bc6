/**
 * Reproducible randomness for training. Every random draw of a step comes from a stream derived
 * from (seed, purpose, step), so a resumed run draws exactly what an uninterrupted one would
 * without saving any generator state.
 */
import { seededUniform } from '../weights/random-init.js';

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

export type Uniform = () => number;

export const STREAMS = { order: 1, sample: 2, mask: 3, dropPath: 4, mix: 5, init: 6 } as const;

/** A uniform [0, 1) stream for one purpose at one step (or epoch). */
export function stream(seed: number, purpose: number, index: number, sub = 0): Uniform {
  return seededUniform(mixSeed(seed, purpose, index, sub));
}

export function randomInt(uniform: Uniform, n: number): number {
  return Math.min(n - 1, Math.floor(uniform() * n));
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(items: T[], uniform: Uniform): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(uniform, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
