import { describe, expect, it } from 'vitest';
import { meanSoftmax, topK } from '../../src/tasks/classify/postprocess.js';

describe('meanSoftmax', () => {
  it('averages probabilities over views, not logits', () => {
    const scores = meanSoftmax(Float32Array.of(0, 0, 10, 0), 2, 2);
    const p = 1 / (1 + Math.exp(-10));
    expect(scores[0]).toBeCloseTo((0.5 + p) / 2, 12);
    expect(scores[1]).toBeCloseTo((0.5 + 1 - p) / 2, 12);
  });

  it('is stable for large logits and sums to one', () => {
    const scores = meanSoftmax(Float32Array.of(1000, 999, -1000), 1, 3);
    expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(scores[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 9);
  });

  it('checks the shape', () => {
    expect(() => meanSoftmax(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });
});

describe('topK', () => {
  it('ranks best first and breaks ties by index', () => {
    expect(topK([0.1, 0.4, 0.4, 0.05], 3)).toEqual([
      { index: 1, score: 0.4 },
      { index: 2, score: 0.4 },
      { index: 0, score: 0.1 },
    ]);
  });

  it('clamps k to the number of classes', () => {
    expect(topK([0.3, 0.7], 10).map((r) => r.index)).toEqual([1, 0]);
  });
});
