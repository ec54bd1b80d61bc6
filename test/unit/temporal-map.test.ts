/**
 * Temporal mAP against hand-worked cases and golden vectors of a numpy transcription of the
 * ActivityNet evaluation (tools/make_temporal_map_golden.py).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateTemporalDetection, interpolatedAP, parseThresholds } from '../../src/eval/temporal-map.js';

const gt = (video: string, label: string, start: number, end: number) => ({ video, label, start, end });
const pred = (video: string, label: string, start: number, end: number, score: number) => ({ video, label, start, end, score });

describe('temporal mAP, hand-worked', () => {
  it('a duplicate detection is a false positive after the first, which does not lower AP', () => {
    const result = evaluateTemporalDetection([gt('v', 'a', 1, 3)], [pred('v', 'a', 1, 3, 0.9), pred('v', 'a', 1, 3, 0.8)], [0.5]);
    expect(result.mAP).toEqual([1]);
  });

  it('a false alarm ranked first: precision [0, 1/2, 2/3], recall [0, 1/2, 1] -> AP 2/3', () => {
    const result = evaluateTemporalDetection(
      [gt('v', 'a', 0, 10), gt('v', 'a', 20, 30)],
      [pred('v', 'a', 50, 60, 0.9), pred('v', 'a', 0, 10, 0.8), pred('v', 'a', 20, 30, 0.7)],
      [0.5],
    );
    expect(result.apPerClass.a![0]).toBeCloseTo(2 / 3, 12);
  });

  it('depends on the threshold: tIoU 1/3 is a hit at 0.3 and a miss at 0.5', () => {
    const result = evaluateTemporalDetection([gt('v', 'a', 1, 3)], [pred('v', 'a', 0, 2, 0.9)], [0.3, 0.5]);
    expect(result.mAP).toEqual([1, 0]);
    expect(result.averageMAP).toBe(0.5);
  });

  it('predictions in videos without ground truth, or of the wrong class, never help', () => {
    const result = evaluateTemporalDetection(
      [gt('v', 'a', 0, 10), gt('v', 'b', 0, 10)],
      [pred('elsewhere', 'a', 0, 10, 0.95), pred('v', 'a', 0, 10, 0.5), pred('v', 'c', 0, 10, 0.9)],
      [0.5],
    );
    expect(result.apPerClass.a![0]).toBeCloseTo(0.5, 12); // precision 1/2 at recall 1
    expect(result.apPerClass.b![0]).toBe(0);
    expect(Object.keys(result.apPerClass)).toEqual(['a', 'b']); // classes come from the ground truth
  });

  it('interpolatedAP takes the precision envelope', () => {
    expect(interpolatedAP([1, 0.5, 2 / 3], [0.5, 0.5, 1])).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
  });

  it('parses threshold lists and ranges', () => {
    expect(parseThresholds('0.3:0.7:0.1')).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(parseThresholds('0.5,0.75')).toEqual([0.5, 0.75]);
    expect(() => parseThresholds('0:1:0')).toThrow(/positive step/);
    expect(() => parseThresholds('1.5')).toThrow(/\(0, 1\]/);
  });
});

describe('temporal mAP against the numpy transcription of the ActivityNet kit', () => {
  it('matches AP per class, mAP per tIoU and their average', () => {
    const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'temporal-map-golden.json'), 'utf8'));
    const result = evaluateTemporalDetection(golden.groundTruth, golden.predictions, golden.tiou);
    for (const [label, aps] of Object.entries(golden.expected.apPerClass as Record<string, number[]>)) {
      aps.forEach((ap, t) => expect(result.apPerClass[label]![t], `${label} @ ${golden.tiou[t]}`).toBeCloseTo(ap, 10));
    }
    golden.expected.mAP.forEach((m: number, t: number) => expect(result.mAP[t]).toBeCloseTo(m, 10));
    expect(result.averageMAP).toBeCloseTo(golden.expected.averageMAP, 10);
  });
});
