import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resizePositionTable } from '../../src/weights/position-resize.js';
import { sinusoidTable } from '../../src/weights/sinusoid-table.js';
import { maxAbsDiff } from '../helpers/numeric.js';

// Made by tools/make_position_resize_golden.py (PyTorch F.interpolate, bicubic, align_corners=False).
const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'position-resize-golden.json'), 'utf8')) as {
  t: number;
  from: [number, number];
  dim: number;
  cases: Array<{ to: [number, number]; table: number[] }>;
};

describe('resizePositionTable', () => {
  const table = sinusoidTable(golden.t * golden.from[0] * golden.from[1], golden.dim);
  for (const c of golden.cases) {
    it(`equals PyTorch's bicubic resize ${golden.from.join('x')} -> ${c.to.join('x')}`, () => {
      const out = resizePositionTable(table, golden.dim, {
        t: golden.t,
        from: { h: golden.from[0], w: golden.from[1] },
        to: { h: c.to[0], w: c.to[1] },
      });
      expect(out.length).toBe(c.table.length);
      expect(maxAbsDiff(out, c.table)).toBeLessThan(1e-5);
    });
  }

  it('is the identity at the same grid and refuses a table of the wrong size', () => {
    const same = resizePositionTable(table, golden.dim, { t: golden.t, from: { h: 4, w: 4 }, to: { h: 4, w: 4 } });
    expect(maxAbsDiff(same, table)).toBe(0);
    expect(() => resizePositionTable(table.subarray(1), golden.dim, { t: 2, from: { h: 4, w: 4 }, to: { h: 5, w: 5 } })).toThrow(
      RangeError,
    );
  });
});
