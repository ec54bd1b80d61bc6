/**
 * Temporal detection as a timeline: one row per label, each segment placed in percent of the
 * video's duration, filtered by a score threshold. Pure: the page draws what this returns.
 */
import type { TemporalSegment } from './types.js';

export interface PlacedSegment {
  readonly segment: TemporalSegment;
  /** Percent of the track from its left edge. */
  readonly left: number;
  /** Percent of the track, at least `minWidth` so a short segment stays visible and clickable. */
  readonly width: number;
}

export interface TimelineRow {
  readonly label: string;
  readonly segments: readonly PlacedSegment[];
}

export interface Timeline {
  readonly rows: readonly TimelineRow[];
  /** Segments at or above the threshold, and all segments. */
  readonly shown: number;
  readonly total: number;
}

/**
 * Rows of the segments scoring at least `threshold`, one per label that has any segment at all
 * (a row emptied by the threshold stays, so rows do not jump while the slider moves), labels in
 * the order of their best segment; within a row, segments by start time.
 *
 * @example
 * layoutTimeline([{ label: 'jump', labelIndex: 0, start: 2, end: 4, score: 0.9 }], 10, 0.5)
 * // { rows: [{ label: 'jump', segments: [{ left: 20, width: 20, segment: ... }] }], shown: 1, total: 1 }
 */
export function layoutTimeline(segments: readonly TemporalSegment[], duration: number, threshold: number, minWidth = 0.5): Timeline {
  if (!(duration > 0)) throw new RangeError(`the timeline needs a positive duration (got ${duration})`);
  const best = new Map<string, number>();
  for (const s of segments) best.set(s.label, Math.max(best.get(s.label) ?? -Infinity, s.score));
  const labels = [...best.keys()].sort((a, b) => best.get(b)! - best.get(a)! || a.localeCompare(b));
  let shown = 0;
  const rows = labels.map((label) => {
    const placed = segments
      .filter((s) => s.label === label && s.score >= threshold)
      .sort((a, b) => a.start - b.start || b.score - a.score)
      .map((segment) => {
        const start = clamp(segment.start / duration, 0, 1) * 100;
        const end = clamp(segment.end / duration, 0, 1) * 100;
        const width = Math.max(end - start, minWidth);
        return { segment, left: Math.min(start, 100 - width), width };
      });
    shown += placed.length;
    return { label, segments: placed };
  });
  return { rows, shown, total: segments.length };
}

/** The segments under way at `time`, best first (the caption under the player). */
export function segmentsAt(segments: readonly TemporalSegment[], time: number, threshold: number): TemporalSegment[] {
  return segments.filter((s) => s.score >= threshold && s.start <= time && time <= s.end).sort((a, b) => b.score - a.score);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
