/**
 * ActionFormer post-processing: segment decoding, steps to seconds, and Soft-NMS against
 * hand-worked cases and golden vectors of a Python transcription (tools/make_nms_golden.py).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTIONFORMER_NMS, batchedNms, temporalIoU, type SoftNmsOptions } from '../../src/postprocess/soft-nms-1d.js';
import { ACTIONFORMER_DECODE, decodeLevels, stepsToSeconds } from '../../src/postprocess/temporal-decode.js';

const three = { segments: Float32Array.of(0, 10, 1, 10, 20, 30), scores: Float32Array.of(0.9, 0.8, 0.7), labels: Int32Array.of(0, 0, 1) };
const opts = (o: Partial<SoftNmsOptions>): SoftNmsOptions => ({ ...ACTIONFORMER_NMS, ...o });

describe('temporalIoU', () => {
  it('is intersection over union of two intervals', () => {
    expect(temporalIoU(0, 10, 1, 10)).toBeCloseTo(0.9, 12);
    expect(temporalIoU(0, 10, 5, 15)).toBeCloseTo(5 / 15, 12);
    expect(temporalIoU(0, 10, 10, 20)).toBe(0);
    expect(temporalIoU(3, 3, 3, 3)).toBe(0);
  });
});

describe('batchedNms, hand-worked', () => {
  it('Gaussian per class: the overlapping segment of the same class decays by exp(-iou^2 / sigma)', () => {
    const out = batchedNms(three, opts({ perClass: true }));
    expect(Array.from(out.labels)).toEqual([0, 1, 0]);
    expect(out.scores[0]).toBeCloseTo(0.9, 6);
    expect(out.scores[1]).toBeCloseTo(0.7, 6);
    expect(out.scores[2]).toBeCloseTo(0.8 * Math.exp(-0.81 / 0.5), 6); // 0.15832
    expect(Array.from(out.segments)).toEqual([0, 10, 20, 30, 1, 10]);
  });

  it('linear decays by 1 - iou above the threshold; hard drops', () => {
    const linear = batchedNms(three, opts({ method: 'linear', iouThreshold: 0.5 }));
    expect(linear.scores[2]).toBeCloseTo(0.8 * 0.1, 6);
    const hard = batchedNms(three, opts({ method: 'hard', iouThreshold: 0.5 }));
    expect(Array.from(hard.segments)).toEqual([0, 10, 20, 30]);
    const loose = batchedNms(three, opts({ method: 'hard', iouThreshold: 0.95 }));
    expect(loose.scores).toHaveLength(3);
  });

  it('class-agnostic with voting: each kept segment becomes the score x IoU weighted mean of its neighbours', () => {
    const two = { segments: Float32Array.of(0, 10, 1, 10), scores: Float32Array.of(0.9, 0.8), labels: Int32Array.of(0, 1) };
    const out = batchedNms(two, opts({ perClass: false, votingThreshold: 0.7 }));
    expect(Array.from(out.labels)).toEqual([0, 1]);
    expect(out.segments[0]).toBeCloseTo((1 * 0.8 * 0.9) / (0.9 + 0.72), 5); // 0.4444
    expect(out.segments[2]).toBeCloseTo((1 * 0.8) / (0.8 + 0.81), 5); // 0.4969
    expect(out.segments[1]).toBeCloseTo(10, 5);
    expect(out.scores[1]).toBeCloseTo(0.8 * Math.exp(-0.81 / 0.5), 6);
  });

  it('drops what decays under minScore and keeps at most maxSegments, best first', () => {
    const same = {
      segments: Float32Array.of(0, 10, 0, 10, 0, 10),
      scores: Float32Array.of(0.5, 0.002, 0.9),
      labels: Int32Array.of(0, 0, 0),
    };
    const out = batchedNms(same, opts({ minScore: 0.001 }));
    expect(Array.from(out.scores).map((s) => +s.toFixed(4))).toEqual([0.9, +(0.5 * Math.exp(-2)).toFixed(4)]);
    expect(batchedNms(three, opts({ maxSegments: 2 })).scores).toHaveLength(2);
  });

  it('keeps the best segment of a class whose every score is below minScore, as the official op does', () => {
    const low = {
      segments: Float32Array.of(0, 10, 20, 30, 0, 10),
      scores: Float32Array.of(0.0004, 0.0008, 0.5),
      labels: Int32Array.of(0, 0, 1),
    };
    const out = batchedNms(low, opts({ minScore: 0.001 }));
    expect(Array.from(out.labels)).toEqual([1, 0]);
    expect(out.scores[1]).toBeCloseTo(0.0008, 7);
    expect(Array.from(out.segments.subarray(2, 4))).toEqual([20, 30]);
  });

  it('refuses inputs whose lengths disagree, and takes empty input', () => {
    expect(() =>
      batchedNms({ segments: Float32Array.of(0, 1), scores: Float32Array.of(1, 2), labels: Int32Array.of(0, 0) }, ACTIONFORMER_NMS),
    ).toThrow(/must agree/);
    expect(
      batchedNms({ segments: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) }, ACTIONFORMER_NMS).scores,
    ).toHaveLength(0);
  });
});

describe('batchedNms against the Python transcription of ActionFormer (300 random candidates)', () => {
  const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'soft-nms-golden.json'), 'utf8'));
  const input = {
    segments: Float32Array.from(golden.input.segments.flat() as number[]),
    scores: Float32Array.from(golden.input.scores as number[]),
    labels: Int32Array.from(golden.input.labels as number[]),
  };
  for (const { options, expected } of golden.cases) {
    it(options.name, () => {
      const out = batchedNms(input, options as SoftNmsOptions);
      expect(Array.from(out.labels)).toEqual(expected.labels);
      for (let i = 0; i < expected.scores.length; i++) expect(out.scores[i]).toBeCloseTo(expected.scores[i], 5);
      const flat = (expected.segments as number[][]).flat();
      for (let i = 0; i < flat.length; i++) expect(out.segments[i]).toBeCloseTo(flat[i]!, 3);
    });
  }
});

describe('decodeLevels and stepsToSeconds', () => {
  it('decodes each level at t = i x stride into [t - left x stride, t + right x stride], masked and thresholded', () => {
    const level0 = {
      logits: Float32Array.of(0, -10, 2, -10, 5, 5),
      offsets: Float32Array.of(1, 1, 0.5, 0.5, 0.01, 0.02),
      mask: Uint8Array.of(1, 1, 0),
      stride: 1,
    };
    const level1 = {
      logits: Float32Array.of(-10, 1, -10, -10),
      offsets: Float32Array.of(2, 3, 1, 1),
      mask: Uint8Array.of(1, 1),
      stride: 2,
    };
    const out = decodeLevels([level0, level1], 2, ACTIONFORMER_DECODE);
    // level 0: position 1 (score sigmoid(2)) then 0 (sigmoid(0)); position 2 is masked out.
    // level 1: position 0 class 1 (sigmoid(1)) -> [0 - 4, 0 + 6]; sigmoid(-10) = 4.5e-5 is under 0.001.
    expect(Array.from(out.segments)).toEqual([0.5, 1.5, -1, 1, -4, 6]);
    expect(Array.from(out.labels)).toEqual([0, 0, 1]);
    expect(out.scores[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(out.scores[2]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
  });

  it('keeps the top K per level and drops segments of 0.05 steps or less', () => {
    const level = {
      logits: Float32Array.of(3, 2, 1),
      offsets: Float32Array.of(1, 1, 0.02, 0.02, 1, 1),
      mask: Uint8Array.of(1, 1, 1),
      stride: 1,
    };
    const out = decodeLevels([level], 1, { ...ACTIONFORMER_DECODE, topK: 2 });
    expect(Array.from(out.segments)).toEqual([-1, 1]); // position 1 is 0.04 long; position 2 is past the top 2
  });

  it('converts steps to seconds at the clip centres, clamped to the video', () => {
    const timing = { featureStride: 4, numFrames: 16, fps: 25, duration: 2 };
    expect(Array.from(stepsToSeconds(Float32Array.of(0, 10, -5, 20), timing)).map((v) => +v.toFixed(4))).toEqual([0.32, 1.92, 0, 2]);
  });
});
