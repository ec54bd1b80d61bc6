/**
 * The two mask generators of VideoMAE V2 dual masking, as the official masking_generator.py
 * defines them, on a token grid [t, h, w] (t = frames / tubelet). Masks are Uint8Array in token
 * order (t, h, w): 1 = masked (hidden from the encoder / not reconstructed by the decoder).
 */
import { InvalidParameterError } from '../errors.js';
import type { Uniform } from '../weights/random-init.js';
import { shuffle } from './rng.js';

export interface TokenGrid {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

/**
 * How many of `n` positions a mask ratio hides: Python's int(ratio * n), as masking_generator.py
 * computes it (0.29 x 100 is 28.999... in floating point, so 28, not 29).
 */
export function maskedCount(ratio: number, n: number): number {
  return Math.trunc(ratio * n);
}

/**
 * Tube masking: one random spatial mask of int(ratio x h x w) patches, repeated over every
 * temporal slot, so a masked patch stays hidden for the whole clip.
 */
export function tubeMask(grid: TokenGrid, ratio: number, uniform: Uniform): Uint8Array {
  checkRatio('encoderMaskRatio', ratio);
  const perFrame = grid.h * grid.w;
  const masked = maskedCount(ratio, perFrame);
  const frame = Array.from({ length: perFrame }, (_, i) => (i >= perFrame - masked ? 1 : 0));
  shuffle(frame, uniform);
  const mask = new Uint8Array(grid.t * perFrame);
  for (let t = 0; t < grid.t; t++) mask.set(frame, t * perFrame);
  return mask;
}

/**
 * Running-cell masking: the spatial grid is tiled with 2x2 cells whose pattern is a rotation of
 * the queue [1 x int(4 ratio), 0 x rest] read in cell order (0,0),(0,1),(1,0),(1,1). Slot t uses
 * rotation (start + t + 1) mod 4, start drawn from 0..3, so the reconstructed cells move over
 * time and every position is reconstructed in some slot.
 */
export function runningCellMask(grid: TokenGrid, ratio: number, start: number): Uint8Array {
  checkRatio('decoderMaskRatio', ratio);
  const maskedPerCell = maskedCount(ratio, 4);
  if (maskedPerCell <= 0 || maskedPerCell >= 4) {
    throw new InvalidParameterError(
      'decoderMaskRatio',
      ratio,
      'must leave between 1 and 3 of the 4 cell positions masked (0.25, 0.5 or 0.75), or be 0 to reconstruct every encoder-masked token',
    );
  }
  if (grid.h % 2 !== 0 || grid.w % 2 !== 0) {
    throw new InvalidParameterError('decoderMaskRatio', ratio, `running-cell masking needs an even token grid; got ${grid.h}x${grid.w}`);
  }
  const queue = [0, 1, 2, 3].map((i) => (i < maskedPerCell ? 1 : 0));
  const perFrame = grid.h * grid.w;
  const mask = new Uint8Array(grid.t * perFrame);
  for (let t = 0; t < grid.t; t++) {
    const phase = (start + t + 1) % 4;
    for (let y = 0; y < grid.h; y++) {
      for (let x = 0; x < grid.w; x++) {
        const cellIndex = (y % 2) * 2 + (x % 2);
        mask[t * perFrame + y * grid.w + x] = queue[(cellIndex + phase) % 4]!;
      }
    }
  }
  return mask;
}

function checkRatio(name: string, ratio: number): void {
  if (!(ratio >= 0 && ratio < 1)) throw new InvalidParameterError(name, ratio, 'must be in [0, 1)');
}

/** Indices of tokens where mask == value, ascending. */
export function indicesWhere(mask: Uint8Array, value: 0 | 1): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i] === value) out.push(i);
  return Int32Array.from(out);
}
