/**
 * What to draw on the frame shown at a given time, from a task's result: the top labels of a
 * classification, the captions of the temporal segments under way, the people of the nearest
 * spatiotemporal keyframe with their top actions. `marksAt` decides what; `paintMarks` draws it
 * (draw.ts). Both pure.
 */
import type { ClassifyResult } from '../tasks/classify/pipeline.js';
import type { SpatiotemporalResult } from '../tasks/spatiotemporal/detect.js';
import type { TemporalResult } from '../tasks/temporal/detect.js';
import type { Size } from '../video/geometry.js';
import { drawLabel, labelHeight, strokeRect, type Rgb, type RgbImage } from './draw.js';

/** A result to draw, tagged with its task. */
export type Annotation =
  | { readonly task: 'classification'; readonly result: Pick<ClassifyResult, 'labels'> }
  | { readonly task: 'temporal-detection'; readonly result: Pick<TemporalResult, 'segments'> }
  | { readonly task: 'spatiotemporal-detection'; readonly result: Pick<SpatiotemporalResult, 'keyframes'> };

export interface TextLine {
  readonly text: string;
  readonly color: Rgb;
}

export type Mark =
  /** A box in frame pixels [x1, y1, x2, y2] with labels stacked above it. */
  | { readonly kind: 'box'; readonly box: [number, number, number, number]; readonly color: Rgb; readonly labels: readonly string[] }
  /** Lines of text at the top or bottom left of the frame. */
  | { readonly kind: 'caption'; readonly at: 'top' | 'bottom'; readonly lines: readonly TextLine[] };

/** Saturated colours far from each other (and from the greys of most footage), by person or class. */
export const PALETTE: readonly Rgb[] = [
  [255, 40, 40],
  [40, 220, 40],
  [40, 120, 255],
  [255, 210, 0],
  [255, 0, 255],
  [0, 230, 230],
  [255, 140, 0],
  [160, 80, 255],
];

const WHITE: Rgb = [255, 255, 255];

/** Lines of labels per box or caption: more would hide the video. */
export const MAX_LINES = 3;

const scored = (label: string, score: number): string => `${label} ${score.toFixed(2)}`;

/** The keyframe nearest to `time` (its people hold until halfway to the next keyframe), if any. */
export function nearestKeyframe<K extends { time: number }>(keyframes: readonly K[], time: number): K | undefined {
  let best: K | undefined;
  for (const k of keyframes) if (!best || Math.abs(k.time - time) < Math.abs(best.time - time)) best = k;
  return best;
}

/**
 * What the frame at `time` seconds shows, for a frame of `size` pixels.
 *
 * @example
 * marksAt({ task: 'temporal-detection', result: { segments: [{ label: 'jump', labelIndex: 0, start: 1, end: 2, score: 0.5 }] } }, 1.5, { width: 64, height: 48 })
 * // [{ kind: 'caption', at: 'bottom', lines: [{ text: 'jump 0.50', color: [255, 40, 40] }] }]
 */
export function marksAt(annotation: Annotation, time: number, size: Size): Mark[] {
  switch (annotation.task) {
    case 'classification': {
      const lines = annotation.result.labels.slice(0, MAX_LINES).map((l) => ({ text: scored(l.label, l.score), color: WHITE }));
      return lines.length ? [{ kind: 'caption', at: 'top', lines }] : [];
    }
    case 'temporal-detection': {
      const lines = annotation.result.segments
        .filter((s) => s.start <= time && time < s.end)
        .sort((a, b) => b.score - a.score)
        .slice(0, MAX_LINES)
        .map((s) => ({ text: scored(s.label, s.score), color: PALETTE[s.labelIndex % PALETTE.length]! }));
      return lines.length ? [{ kind: 'caption', at: 'bottom', lines }] : [];
    }
    case 'spatiotemporal-detection': {
      const keyframe = nearestKeyframe(annotation.result.keyframes, time);
      return (keyframe?.people ?? []).map((p, i) => ({
        kind: 'box',
        box: [p.box[0] * size.width, p.box[1] * size.height, p.box[2] * size.width, p.box[3] * size.height].map(Math.round) as [
          number,
          number,
          number,
          number,
        ],
        color: PALETTE[i % PALETTE.length]!,
        labels: p.actions.length ? p.actions.slice(0, MAX_LINES).map((a) => scored(a.label, a.score)) : [scored('person', p.score)],
      }));
    }
  }
}

/** Font scale for a frame: one font pixel per 240 pixels of its short side, at least 1. */
export function fontScale(size: Size): number {
  return Math.max(1, Math.round(Math.min(size.width, size.height) / 240));
}

/** Black text on light colours, white on dark ones. */
function textOn(color: Rgb): Rgb {
  return 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140 ? [0, 0, 0] : WHITE;
}

/** Draws `marks` on `image` in place. */
export function paintMarks(image: RgbImage, marks: readonly Mark[], scale = fontScale(image)): void {
  const line = labelHeight(scale);
  for (const mark of marks) {
    if (mark.kind === 'box') {
      // Thick enough to survive 4:2:0 chroma subsampling and compression.
      strokeRect(image, mark.box, mark.color, 2 + scale);
      // Above the box; inside it when the box touches the top of the frame.
      const above = mark.box[1] - mark.labels.length * line;
      const top = above >= 0 ? above : Math.max(0, mark.box[1]);
      mark.labels.forEach((text, i) => drawLabel(image, mark.box[0], top + i * line, text, textOn(mark.color), mark.color, scale));
    } else {
      const top = mark.at === 'top' ? 0 : image.height - mark.lines.length * line;
      mark.lines.forEach((l, i) => drawLabel(image, 0, top + i * line, l.text, l.color, [0, 0, 0], scale));
    }
  }
}
