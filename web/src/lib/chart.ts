/**
 * Classification over time: each ranked label's per-clip scores as a polyline in an SVG of
 * `width` x `height` (time left to right, score 0 at the bottom, `top` at the top). Pure.
 */
import type { ClipScores } from './types.js';

export interface ChartSeries {
  readonly label: string;
  /** SVG polyline points: "x,y x,y ...", one per clip at the centre of its span. */
  readonly points: string;
  readonly dots: ReadonlyArray<{ x: number; y: number; score: number; time: number }>;
}

/** Tops the score axis may have: the chart uses the smallest that holds every score. */
const TOPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1];

/**
 * The score axis's top for these clips: small scores (an 11-class model's are near 0.1) fill the
 * chart instead of lying on its floor.
 *
 * @example
 * chartTop([{ index: 0, start: 0, end: 2, scores: [0.23, 0.1] }]) // 0.25
 */
export function chartTop(clips: readonly ClipScores[]): number {
  const max = Math.max(0, ...clips.flatMap((c) => c.scores));
  return TOPS.find((t) => max <= t) ?? 1;
}

/**
 * @example
 * clipChart([{ index: 0, start: 0, end: 2, scores: [0.5] }], ['jump'], 4, 100, 50)
 * // [{ label: 'jump', points: '25,25', dots: [{ x: 25, y: 25, score: 0.5, time: 1 }] }]
 */
export function clipChart(
  clips: readonly ClipScores[],
  labels: readonly string[],
  duration: number,
  width: number,
  height: number,
  top = 1,
): ChartSeries[] {
  const span = duration > 0 ? duration : Math.max(1e-9, ...clips.map((c) => c.end));
  return labels.map((label, i) => {
    const dots = [...clips]
      .sort((a, b) => a.start + a.end - (b.start + b.end))
      .map((clip) => {
        const time = (clip.start + clip.end) / 2;
        const score = clip.scores[i] ?? 0;
        return {
          x: round((Math.min(span, Math.max(0, time)) / span) * width),
          y: round((1 - Math.min(1, Math.max(0, score / top))) * height),
          score,
          time,
        };
      });
    return { label, points: dots.map((d) => `${d.x},${d.y}`).join(' '), dots };
  });
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
