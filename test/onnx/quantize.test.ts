import { describe, expect, it } from 'vitest';
import { dequantizePerColumn, quantizePerColumn } from '../../src/onnx/quantize.js';

describe('quantizePerColumn', () => {
  it('scales each column by its own max |w| / 127', () => {
    // [3, 2]: column 0 spans +-2.54, column 1 spans +-0.0127.
    const w = Float32Array.of(2.54, 0.0127, -1, -0.005, 0, 0.0127);
    const q = quantizePerColumn(w, 3, 2);
    expect(q.scales[0]).toBeCloseTo(0.02, 7);
    expect(q.scales[1]).toBeCloseTo(0.0001, 9);
    expect([...q.values]).toEqual([127, 127, -50, -50, 0, 127]);
  });

  it('keeps values in [-127, 127] and reconstructs within half a step', () => {
    const rows = 17;
    const cols = 5;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7) * (1 + (i % cols)));
    const q = quantizePerColumn(w, rows, cols);
    expect(Math.max(...q.values.map(Math.abs))).toBe(127);
    const back = dequantizePerColumn(q, rows, cols);
    for (let i = 0; i < w.length; i++) expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(q.scales[i % cols]! / 2 + 1e-7);
  });

  it('gives an all-zero column scale 1 and zero values', () => {
    const q = quantizePerColumn(Float32Array.of(0, 0.5, 0, -2), 2, 2);
    expect(q.scales[0]).toBe(1);
    expect([...q.values]).toEqual([0, 32, 0, -127]);
  });
});
