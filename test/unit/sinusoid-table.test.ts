import { describe, expect, it } from 'vitest';
import { sinusoidTable } from '../../src/weights/sinusoid-table.js';

describe('sinusoidTable', () => {
  it('matches the numpy reference (get_sinusoid_encoding_table) at ViT-S 16x224x224', () => {
    const d = 384;
    const table = sinusoidTable(1568, d);
    expect(table.length).toBe(1568 * d);
    // Golden values printed by numpy from the official formula, float64 then float32.
    const golden: Array<[number, number, number]> = [
      [0, 0, 0],
      [0, 1, 1],
      [1, 0, 0.8414709568023682],
      [1, 1, 0.5403022766113281],
      [7, 10, -0.7004148960113525],
      [100, 3, 0.481519490480423],
      [1567, 382, 0.16366064548492432],
      [1567, 383, 0.9865167140960693],
      [800, 200, 0.3146122992038727],
    ];
    for (const [n, j, value] of golden) expect(table[n * d + j]).toBeCloseTo(value, 6);
  });

  it('alternates sin and cos with the same angle per pair', () => {
    const table = sinusoidTable(5, 8);
    for (let n = 0; n < 5; n++) {
      for (let j = 0; j < 8; j += 2) {
        const s = table[n * 8 + j]!;
        const c = table[n * 8 + j + 1]!;
        expect(s * s + c * c).toBeCloseTo(1, 6);
      }
    }
  });
});
