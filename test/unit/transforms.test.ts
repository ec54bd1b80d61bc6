import { describe, expect, it } from 'vitest';
import { packClip } from '../../src/video/transforms.js';

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

describe('packClip', () => {
  it('crops, normalizes with ImageNet mean/std and writes [3, T, S, S]', () => {
    // Two 3x2 frames; pixel (x, y) of frame t has RGB = (10t + x, 100 + y, 200 + x + y).
    const frame = (t: number) => {
      const rgb = new Uint8Array(3 * 2 * 3);
      for (let y = 0; y < 2; y++) {
        for (let x = 0; x < 3; x++) {
          const i = (y * 3 + x) * 3;
          rgb[i] = 10 * t + x;
          rgb[i + 1] = 100 + y;
          rgb[i + 2] = 200 + x + y;
        }
      }
      return rgb;
    };
    const out = new Float32Array(2 + 3 * 2 * 4);
    packClip([frame(0), frame(1)], { width: 3, height: 2 }, { x: 1, y: 0, size: 2 }, IMAGENET, out, 2);
    const at = (c: number, t: number, y: number, x: number) => out[2 + c * 8 + t * 4 + y * 2 + x]!;
    const expected = (value: number, c: number) => (value / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!;
    expect(at(0, 0, 0, 0)).toBeCloseTo(expected(1, 0), 6); // frame 0, x = 1
    expect(at(0, 1, 1, 1)).toBeCloseTo(expected(12, 0), 6); // frame 1, x = 2
    expect(at(1, 1, 1, 0)).toBeCloseTo(expected(101, 1), 6);
    expect(at(2, 0, 1, 1)).toBeCloseTo(expected(203, 2), 6);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(0);
  });

  it('refuses to write past the end of the output', () => {
    expect(() =>
      packClip([new Uint8Array(12)], { width: 2, height: 2 }, { x: 0, y: 0, size: 2 }, IMAGENET, new Float32Array(11), 0),
    ).toThrow(RangeError);
  });
});
