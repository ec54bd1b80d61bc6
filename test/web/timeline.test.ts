import { describe, expect, it } from 'vitest';
import { layoutTimeline, segmentsAt } from '../../web/src/lib/timeline.js';
import type { TemporalSegment } from '../../web/src/lib/types.js';

const seg = (label: string, start: number, end: number, score: number): TemporalSegment => ({ label, labelIndex: 0, start, end, score });

const SEGMENTS = [seg('jump', 2, 4, 0.9), seg('spin', 0, 1, 0.95), seg('jump', 6, 8, 0.2), seg('wave', 9, 12, 0.1)];

describe('layoutTimeline', () => {
  it('places segments in percent of the duration, one row per label, labels by their best score', () => {
    const t = layoutTimeline(SEGMENTS, 10, 0);
    expect(t.rows.map((r) => r.label)).toEqual(['spin', 'jump', 'wave']);
    expect(t.rows[1]!.segments.map((p) => [p.left, p.width])).toEqual([
      [20, 20],
      [60, 20],
    ]);
    // Past the end: clipped to the track.
    expect(t.rows[2]!.segments[0]).toMatchObject({ left: 90, width: 10 });
    expect(t).toMatchObject({ shown: 4, total: 4 });
  });

  it('filters by the threshold, keeping emptied rows so rows do not move', () => {
    const t = layoutTimeline(SEGMENTS, 10, 0.5);
    expect(t.rows.map((r) => [r.label, r.segments.length])).toEqual([
      ['spin', 1],
      ['jump', 1],
      ['wave', 0],
    ]);
    expect(t).toMatchObject({ shown: 2, total: 4 });
    // At the score itself a segment stays.
    expect(layoutTimeline(SEGMENTS, 10, 0.9).shown).toBe(2);
    expect(layoutTimeline(SEGMENTS, 10, 0.96).shown).toBe(0);
  });

  it('gives a zero-length segment a minimum width inside the track', () => {
    const [row] = layoutTimeline([seg('blink', 10, 10, 0.5)], 10, 0, 1).rows;
    expect(row!.segments[0]).toMatchObject({ left: 99, width: 1 });
  });

  it('refuses a duration that is not positive', () => {
    expect(() => layoutTimeline(SEGMENTS, 0, 0)).toThrow(/positive duration \(got 0\)/);
    expect(() => layoutTimeline(SEGMENTS, Number.NaN, 0)).toThrow(RangeError);
  });
});

describe('segmentsAt', () => {
  it('gives the segments under way at a time, at or above the threshold, best first', () => {
    expect(segmentsAt(SEGMENTS, 3, 0).map((s) => s.label)).toEqual(['jump']);
    expect(segmentsAt([...SEGMENTS, seg('wave', 2.5, 3.5, 0.99)], 3, 0).map((s) => s.label)).toEqual(['wave', 'jump']);
    expect(segmentsAt(SEGMENTS, 7, 0.5)).toEqual([]);
    expect(segmentsAt(SEGMENTS, 5, 0)).toEqual([]);
  });
});
