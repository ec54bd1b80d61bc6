/** Person-box post-processing, hand-worked. */
import { describe, expect, it } from 'vitest';
import { enlargeAndClip, filterByScore, nmsBoxes } from '../../src/postprocess/boxes.js';

const input = {
  boxes: Float32Array.of(0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 10),
  scores: Float32Array.of(0.9, 0.95, 0.85, 0.5),
};

describe('person boxes', () => {
  it('keeps boxes over the threshold, best first', () => {
    expect(Array.from(filterByScore(input, 0.8).scores)).toEqual([0.95, 0.9, 0.85].map((v) => Math.fround(v)));
  });

  it('NMS drops boxes overlapping a better one by more than the threshold', () => {
    // [1,1,11,11] (0.95) vs [0,0,10,10]: IoU 81 / 119 = 0.68 -> dropped at 0.5, kept at 0.7.
    const strict = nmsBoxes(input, 0.5);
    expect(Array.from(strict.boxes)).toEqual([1, 1, 11, 11, 20, 20, 30, 30]);
    expect(nmsBoxes(input, 0.7).scores).toHaveLength(3);
    expect(nmsBoxes(input, 0.5, 1).scores).toHaveLength(1);
  });

  it('enlarges about the centre and clips to the frame', () => {
    expect(Array.from(enlargeAndClip(Float32Array.of(10, 10, 20, 30, 0, 0, 10, 10), 1.2, 100, 25))).toEqual([9, 8, 21, 25, 0, 0, 11, 11]);
  });
});
