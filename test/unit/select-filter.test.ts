import { describe, expect, it } from 'vitest';
import { arithmeticRuns, groupIndices, MAX_SELECT_TERMS, selectFilter } from '../../src/video/decode.js';

describe('arithmeticRuns', () => {
  it('compresses the stride grid of k400 clips into one run', () => {
    expect(arithmeticRuns([0, 4, 8, 12, 16])).toEqual([{ start: 0, step: 4, count: 5 }]);
  });

  it('keeps stragglers as single terms', () => {
    expect(arithmeticRuns([0, 4, 8, 12, 13])).toEqual([
      { start: 0, step: 4, count: 4 },
      { start: 13, step: 1, count: 1 },
    ]);
    expect(arithmeticRuns([5])).toEqual([{ start: 5, step: 1, count: 1 }]);
    expect(arithmeticRuns([0, 1, 3, 4, 6, 7]).every((r) => r.count <= 2)).toBe(true);
  });

  it('covers every value exactly once', () => {
    const values = [0, 2, 3, 5, 9, 13, 17, 18, 19, 20, 40];
    const expanded = arithmeticRuns(values).flatMap((r) => Array.from({ length: r.count }, (_, i) => r.start + i * r.step));
    expect(expanded).toEqual(values);
  });
});

describe('selectFilter', () => {
  it('selects relative frame numbers, then converts to RGB at the source size with default flags', () => {
    expect(selectFilter([100, 104, 108, 112, 130], { width: 768, height: 576 })).toBe(
      'select=(between(n\\,0\\,12)*not(mod(n-0\\,4))+eq(n\\,30)),scale=768:576,format=rgb24',
    );
  });

  it('never lets a group need more terms than ffmpeg parses', () => {
    const irregular: number[] = [];
    for (let i = 0, k = 0; irregular.length < 500; k++) {
      irregular.push(i);
      i += 1 + ((k * 7) % 4);
    }
    for (const group of groupIndices(irregular)) {
      expect(arithmeticRuns(group.map((i) => i - group[0]!)).length).toBeLessThanOrEqual(MAX_SELECT_TERMS);
    }
    expect(groupIndices(irregular).flat()).toEqual(irregular);
  });
});
