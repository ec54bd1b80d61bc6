import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { indicesWhere, maskedCount, runningCellMask, tubeMask } from '../../src/train/masking.js';
import { seededUniform } from '../../src/weights/random-init.js';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'running-cell-masks.json'), 'utf8')) as {
  cases: Array<{ grid: [number, number, number]; ratio: number; maps: number[][] }>;
};

describe('running-cell decoder masking', () => {
  for (const {
    grid: [t, h, w],
    ratio,
    maps,
  } of golden.cases) {
    it(`matches the official generator for grid ${t}x${h}x${w} at ratio ${ratio}, every start`, () => {
      maps.forEach((expected, start) => {
        expect(Array.from(runningCellMask({ t, h, w }, ratio, start))).toEqual(expected);
      });
    });
  }

  it('cycles the four 2x2 patterns of DESIGN.md (1 = not reconstructed)', () => {
    // start 3: slot 0 uses phase 0 -> [[1,1],[0,0]], then [[1,0],[0,1]], [[0,0],[1,1]], [[0,1],[1,0]].
    const mask = runningCellMask({ t: 4, h: 2, w: 2 }, 0.5, 3);
    expect(Array.from(mask)).toEqual([1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0]);
  });

  it('reconstructs half of every slot at 0.5', () => {
    const mask = runningCellMask({ t: 8, h: 6, w: 4 }, 0.5, 1);
    for (let t = 0; t < 8; t++) expect(mask.subarray(t * 24, (t + 1) * 24).reduce((a, b) => a + b, 0)).toBe(12);
  });

  it('rejects odd grids and ratios that leave no cell pattern', () => {
    expect(() => runningCellMask({ t: 2, h: 3, w: 4 }, 0.5, 0)).toThrow(/even token grid/);
    expect(() => runningCellMask({ t: 2, h: 2, w: 2 }, 0.1, 0)).toThrow(/decoderMaskRatio/);
  });
});

describe('tube masking', () => {
  it('hides int(0.9 x h x w) patches per slot, the same ones in every slot', () => {
    const grid = { t: 8, h: 14, w: 14 };
    const mask = tubeMask(grid, 0.9, seededUniform(3));
    const first = mask.subarray(0, 196);
    expect(first.reduce((a, b) => a + b, 0)).toBe(176);
    for (let t = 1; t < 8; t++) expect(Array.from(mask.subarray(t * 196, (t + 1) * 196))).toEqual(Array.from(first));
  });

  it('counts as Python int(r x N): 28 of 100 at r = 0.29 (29 would be the rounded product)', () => {
    const mask = tubeMask({ t: 1, h: 10, w: 10 }, 0.29, seededUniform(5));
    expect(mask.reduce((a, b) => a + b, 0)).toBe(28);
    expect(maskedCount(0.29, 100)).toBe(28);
    expect(maskedCount(0.9, 196)).toBe(176);
  });

  it('is reproducible from its seed and differs between seeds', () => {
    const grid = { t: 2, h: 4, w: 4 };
    expect(tubeMask(grid, 0.75, seededUniform(1))).toEqual(tubeMask(grid, 0.75, seededUniform(1)));
    const many = new Set(Array.from({ length: 20 }, (_, s) => tubeMask(grid, 0.75, seededUniform(s)).join('')));
    expect(many.size).toBeGreaterThan(10);
  });

  it('lists visible and masked tokens', () => {
    expect(Array.from(indicesWhere(Uint8Array.from([1, 0, 0, 1]), 0))).toEqual([1, 2]);
  });
});
