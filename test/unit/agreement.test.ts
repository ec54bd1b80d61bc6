import { describe, expect, it } from 'vitest';
import { combineAgreements, viewAgreement } from '../../src/tasks/classify/agreement.js';

describe('viewAgreement', () => {
  it('counts views with the same top-1 and the largest probability difference', () => {
    // 2 views x 2 classes: view 0 agrees (class 0), view 1 flips.
    const reference = Float32Array.of(2, 0, 0, 1);
    const logits = Float32Array.of(2, 0, 1, 0);
    const result = viewAgreement(logits, reference, 2);
    expect(result.views).toBe(2);
    expect(result.agreeing).toBe(1);
    const p = 1 / (1 + Math.exp(-1));
    expect(result.maxProbabilityDiff).toBeCloseTo(p - (1 - p), 12);
  });

  it('is exact for identical logits and refuses mismatched lengths', () => {
    const a = Float32Array.of(0.3, -1, 2);
    expect(viewAgreement(a, a, 3)).toEqual({ views: 1, agreeing: 1, maxProbabilityDiff: 0 });
    expect(() => viewAgreement(a, Float32Array.of(1, 2), 3)).toThrow(RangeError);
  });

  it('combines per-video results', () => {
    expect(
      combineAgreements([
        { views: 3, agreeing: 3, maxProbabilityDiff: 0.01 },
        { views: 2, agreeing: 1, maxProbabilityDiff: 0.2 },
      ]),
    ).toEqual({ views: 5, agreeing: 4, maxProbabilityDiff: 0.2 });
  });
});
