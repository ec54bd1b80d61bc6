import { describe, expect, it } from 'vitest';
import { clipScores, meanSoftmax, topK } from '../../src/tasks/classify/postprocess.js';

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

describe('clipScores', () => {
  it('gives each clip the mean softmax over its own crops, for the chosen classes in their order', () => {
    // 2 clips x 2 crops x 2 classes: clip 0 is even, clip 1 favours class 1 in both crops.
    const logits = Float32Array.of(0, 0, 0, 0, 0, 10, 0, 10);
    const rows = clipScores(logits, 2, 2, 2, [1, 0]);
    const p = 1 / (1 + Math.exp(-10));
    expect(rows).toHaveLength(2);
    expect(rows[0]![0]).toBeCloseTo(0.5, 12);
    expect(rows[0]![1]).toBeCloseTo(0.5, 12);
    expect(rows[1]![0]).toBeCloseTo(p, 12);
    expect(rows[1]![1]).toBeCloseTo(1 - p, 12);
    // The clips' mean is the whole video's score.
    const whole = meanSoftmax(logits, 4, 2);
    expect((rows[0]![0]! + rows[1]![0]!) / 2).toBeCloseTo(whole[1]!, 12);
  });

  it('checks the shape', () => {
    expect(() => clipScores(new Float32Array(6), 2, 2, 2, [0])).toThrow(RangeError);
  });
});
