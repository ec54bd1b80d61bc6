/**
 * Reproducible randomness for training. Every random draw of a step comes from a stream derived
 * from (seed, purpose, step), so a resumed run draws exactly what an uninterrupted one would
 * without saving any generator state.
 */
import { mixSeed, randomInt, seededUniform, type Uniform } from '../weights/random-init.js';

export const STREAMS = { order: 1, sample: 2, mask: 3, dropPath: 4, mix: 5, init: 6 } as const;

/** A uniform [0, 1) stream for one purpose at one step (or epoch). */
export function stream(seed: number, purpose: number, index: number, sub = 0): Uniform {
  return seededUniform(mixSeed(seed, purpose, index, sub));
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(items: T[], uniform: Uniform): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(uniform, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
