/**
 * ActionFormer's label assignment and losses against hand-worked cases.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeActionFormerConfig } from '../../src/config/actionformer.js';
import { assignTargets } from '../../src/train/actionformer-targets.js';
import { initBackend } from '../../src/tfjs/backend.js';
import { diouLoss1d, sigmoidFocalLoss } from '../../src/train/losses.js';

const config = makeActionFormerConfig({
  inputDim: 4,
  numClasses: 3,
  backboneArch: [2, 2, 1],
  mhaWinSize: 3,
  maxSeqLen: 8,
  regressionRanges: [
    [0, 4],
    [4, 1000],
  ],
});

beforeAll(async () => {
  await initBackend('cpu');
});

describe('assignTargets', () => {
  it('claims the points near the centre, in the level whose range holds the farther distance', () => {
    // Segment [2, 5], class 1. Level 0 (stride 1): centre 3.5 +- 1.5 -> points 3 and 4 (2 is on the edge),
    // farthest distance 2 in [0, 4]. Level 1 (stride 2): point 4 is near enough, but 2 is not in [4, 1000].
    const t = assignTargets(config, 8, Float32Array.of(2, 5), Int32Array.of(1));
    expect(t.points).toBe(8 + 4);
    expect(Array.from(t.positive)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(t.cls.subarray(3 * 3, 5 * 3))).toEqual([0, 1, 0, 0, 1, 0]);
    expect(Array.from(t.offsets.subarray(6, 10))).toEqual([1, 2, 2, 1]);
  });

  it('sends a long segment to the coarse level, in strides', () => {
    // [0, 16] centre 8: level 1 points 6, 8 and 10 are within 3 of the centre; farthest 8..10 is in [4, 1000].
    const t = assignTargets(config, 16, Float32Array.of(0, 16), Int32Array.of(2));
    const level1 = Array.from(t.positive.subarray(16));
    expect(level1).toEqual([0, 0, 0, 1, 1, 1, 0, 0]);
    expect(Array.from(t.offsets.subarray(2 * (16 + 4), 2 * (16 + 5)))).toEqual([4, 4]);
    expect(Array.from(t.positive.subarray(0, 16)).every((v) => v === 0)).toBe(true); // too long for level 0's range
  });

  it('gives a point to the shortest claimant; equally short ones all lend their class', () => {
    const t = assignTargets(config, 8, Float32Array.of(1, 6, 2, 5, 2, 5), Int32Array.of(0, 1, 2));
    // Point 3: [1, 6] (length 5), [2, 5] twice (length 3): classes 1 and 2, regression to [2, 5].
    expect(Array.from(t.cls.subarray(3 * 3, 4 * 3))).toEqual([0, 1, 1]);
    expect(Array.from(t.offsets.subarray(6, 8))).toEqual([1, 2]);
  });
});

describe('losses', () => {
  it('focal loss: alpha_t (1 - p_t)^2 BCE, summed over weighted positions', () => {
    const loss = sigmoidFocalLoss(tf.tensor([[0, 0]]), tf.tensor([[1, 0]]), tf.tensor([[1]]));
    // target 1 at p = 0.5: 0.25 x 0.25 x ln 2; target 0 at p = 0.5: 0.75 x 0.25 x ln 2.
    expect(loss.dataSync()[0]).toBeCloseTo((0.0625 + 0.1875) * Math.LN2, 6);
    expect(sigmoidFocalLoss(tf.tensor([[0, 0]]), tf.tensor([[1, 0]]), tf.tensor([[0]])).dataSync()[0]).toBe(0);
  });

  it('DIoU: 1 - IoU + (centre offset / enclosing)^2', () => {
    const loss = diouLoss1d(
      tf.tensor([
        [2, 1],
        [1, 1],
      ]),
      tf.tensor([
        [1, 1],
        [1, 1],
      ]),
      tf.tensor([[1], [1]]),
    );
    expect(loss.dataSync()[0]).toBeCloseTo(1 / 3 + (0.5 / 3) ** 2, 6);
  });
});
