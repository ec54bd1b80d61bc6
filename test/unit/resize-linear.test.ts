import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linearResizeTables, resizeLinear } from '../../src/video/resize-linear.js';

// Made by tools/make_resize_golden.py: cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR).
const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'resize-linear-golden.json'), 'utf8')) as {
  opencv: string;
  cases: Array<{
    name: string;
    width: number;
    height: number;
    rgb: number[];
    resized: Array<{ width: number; height: number; rgb: number[] }>;
  }>;
};

describe('resizeLinear', () => {
  for (const c of golden.cases) {
    it(`equals OpenCV ${golden.opencv} INTER_LINEAR on ${c.name} at ${c.resized.map((r) => `${r.width}x${r.height}`).join(', ')}`, () => {
      const src = Uint8Array.from(c.rgb);
      for (const r of c.resized) {
        const out = resizeLinear(src, linearResizeTables({ width: c.width, height: c.height }, { width: r.width, height: r.height }));
        expect(Array.from(out), `${c.name} -> ${r.width}x${r.height}`).toEqual(r.rgb);
      }
    });
  }

  it('reuses its tables across frames and writes into a given buffer', () => {
    const tables = linearResizeTables({ width: 7, height: 5 }, { width: 3, height: 2 });
    const a = Uint8Array.from(golden.cases[0]!.rgb);
    const b = a.map((v) => 255 - v);
    const out = new Uint8Array(3 * 2 * 3);
    expect(resizeLinear(a, tables, out)).toBe(out);
    const first = Array.from(out);
    resizeLinear(b, tables, out);
    expect(Array.from(resizeLinear(a, tables))).toEqual(first);
    expect(Array.from(out)).not.toEqual(first);
  });

  it('handles other channel counts, and refuses wrong sizes by name', () => {
    const gray = Uint8Array.from([0, 100, 200, 255]);
    expect(Array.from(resizeLinear(gray, linearResizeTables({ width: 4, height: 1 }, { width: 2, height: 1 }, 1)))).toEqual([50, 228]);
    const tables = linearResizeTables({ width: 4, height: 4 }, { width: 2, height: 2 });
    expect(() => resizeLinear(new Uint8Array(10), tables)).toThrow(/'src'/);
    expect(() => resizeLinear(new Uint8Array(48), tables, new Uint8Array(3))).toThrow(/'out'/);
    expect(() => linearResizeTables({ width: 0, height: 4 }, { width: 2, height: 2 })).toThrow(/'from'/);
    expect(() => linearResizeTables({ width: 4, height: 4 }, { width: 2.5, height: 2 })).toThrow(/'to'/);
  });
});
