import { describe, expect, it } from 'vitest';
import {
  cropResizeNormalize,
  multiScaleCropBox,
  randomColourTransform,
  randomResizedCropBox,
  trainFrameIndices,
} from '../../src/train/augment.js';
import { PROTOCOLS } from '../../src/video/sampling.js';
import { seededUniform } from '../../src/weights/random-init.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

function frameStack(width: number, height: number, frames: number) {
  return {
    width,
    height,
    frames: Array.from({ length: frames }, (_, f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + f * 13) % 256)),
  };
}

describe('training frame sampling', () => {
  it('draws one frame per segment (segments) and a strided run (stride)', () => {
    const uniform = seededUniform(1);
    const seg = trainFrameIndices({ ...PROTOCOLS.ssv2, numFrames: 8 }, 32, uniform);
    seg.forEach((index, i) => expect(index >= 4 * i && index < 4 * (i + 1)).toBe(true));
    const stride = trainFrameIndices({ ...PROTOCOLS.k400, numFrames: 4, samplingRate: 3 }, 30, uniform);
    expect(stride.slice(1).map((v, i) => v - stride[i]!)).toEqual([3, 3, 3]);
    expect(trainFrameIndices({ ...PROTOCOLS.k400, numFrames: 4 }, 5, uniform).every((i) => i < 5)).toBe(true);
  });
});

describe('crop boxes', () => {
  it('keeps random resized crops inside the frame with area and aspect in range', () => {
    const uniform = seededUniform(2);
    for (let i = 0; i < 200; i++) {
      const box = randomResizedCropBox(120, 80, [0.3, 1], [3 / 4, 4 / 3], uniform);
      expect(box.x >= 0 && box.y >= 0 && box.x + box.width <= 120 && box.y + box.height <= 80).toBe(true);
      const area = (box.width * box.height) / (120 * 80);
      expect(area).toBeGreaterThan(0.25);
    }
  });

  it('uses the multi-scale sizes and fixed offsets', () => {
    const uniform = seededUniform(3);
    const sides = new Set([64, 56, 48, 42]);
    for (let i = 0; i < 100; i++) {
      const box = multiScaleCropBox(96, 64, uniform);
      expect(sides.has(box.width) && sides.has(box.height)).toBe(true);
      expect(box.x + box.width <= 96 && box.y + box.height <= 64).toBe(true);
    }
  });
});

describe('crop, resize and normalize', () => {
  it('copies pixels exactly for a same-size box, normalized, in [3, T, S, S] order', () => {
    const video = frameStack(4, 4, 3);
    const out = new Float32Array(3 * 2 * 16);
    cropResizeNormalize(video, [2, 0], { x: 0, y: 0, width: 4, height: 4 }, 4, false, MEAN, STD, out);
    for (const [t, f] of [
      [0, 2],
      [1, 0],
    ] as const) {
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 16; p++) {
          const expected = (video.frames[f]![p * 3 + c]! / 255 - MEAN[c]!) / STD[c]!;
          expect(out[c * 32 + t * 16 + p]).toBeCloseTo(expected, 5);
        }
      }
    }
  });

  it('mirrors rows when flipping and averages 2x2 blocks when halving', () => {
    const video = frameStack(4, 4, 1);
    const plain = new Float32Array(48);
    const flipped = new Float32Array(48);
    cropResizeNormalize(video, [0], { x: 0, y: 0, width: 4, height: 4 }, 4, false, [0, 0, 0], [1, 1, 1], plain);
    cropResizeNormalize(video, [0], { x: 0, y: 0, width: 4, height: 4 }, 4, true, [0, 0, 0], [1, 1, 1], flipped);
    expect(flipped[1]).toBeCloseTo(plain[2]!, 6);
    expect(flipped[0]).toBeCloseTo(plain[3]!, 6);
    const half = new Float32Array(12);
    cropResizeNormalize(video, [0], { x: 0, y: 0, width: 4, height: 4 }, 2, false, [0, 0, 0], [1, 1, 1], half);
    const px = (x: number, y: number) => video.frames[0]![(y * 4 + x) * 3]! / 255;
    expect(half[0]).toBeCloseTo((px(0, 0) + px(1, 0) + px(0, 1) + px(1, 1)) / 4, 5);
  });

  it('changes colours per clip but never the geometry', () => {
    const video = frameStack(4, 4, 1);
    const colour = randomColourTransform(1, seededUniform(9));
    const out = new Float32Array(48);
    cropResizeNormalize(video, [0], { x: 0, y: 0, width: 4, height: 4 }, 4, false, [0, 0, 0], [1, 1, 1], out, colour);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 16; p++) {
        const expected = Math.min(255, Math.max(0, video.frames[0]![p * 3 + colour.source[c]!]! * colour.gain[c]! + colour.bias[c]!)) / 255;
        expect(out[c * 16 + p]).toBeCloseTo(expected, 5);
      }
    }
    expect(randomColourTransform(0, seededUniform(1))).toEqual({ source: [0, 1, 2], gain: [1, 1, 1], bias: [0, 0, 0] });
  });
});
