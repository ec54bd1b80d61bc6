/**
 * Spatiotemporal results over the player: which keyframe to show at a time, and where a
 * normalized box lands on a canvas over a video drawn with object-fit: contain. Pure.
 */
import type { Keyframe, Person } from './types.js';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Where a video of `videoWidth` x `videoHeight` shows inside a box of `boxWidth` x `boxHeight`
 * (object-fit: contain: scaled to fit, centred, bars on the other axis).
 *
 * @example
 * contentRect(800, 300, 768, 576) // { x: 200, y: 0, width: 400, height: 300 }
 */
export function contentRect(boxWidth: number, boxHeight: number, videoWidth: number, videoHeight: number): Rect {
  if (!(videoWidth > 0 && videoHeight > 0)) return { x: 0, y: 0, width: boxWidth, height: boxHeight };
  const scale = Math.min(boxWidth / videoWidth, boxHeight / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return { x: (boxWidth - width) / 2, y: (boxHeight - height) / 2, width, height };
}

/**
 * A normalized `[x1, y1, x2, y2]` box in the coordinates of `content`, clipped to it.
 *
 * @example
 * scaleBox([0.5, 0, 1, 0.5], { x: 200, y: 0, width: 400, height: 300 }) // { x: 400, y: 0, width: 200, height: 150 }
 */
export function scaleBox(box: readonly number[], content: Rect): Rect {
  if (box.length !== 4 || box.some((v) => !Number.isFinite(v))) throw new RangeError(`a box is [x1, y1, x2, y2] (got [${box.join(', ')}])`);
  const [x1, y1, x2, y2] = box.map((v) => Math.min(1, Math.max(0, v))) as [number, number, number, number];
  return {
    x: content.x + Math.min(x1, x2) * content.width,
    y: content.y + Math.min(y1, y2) * content.height,
    width: Math.abs(x2 - x1) * content.width,
    height: Math.abs(y2 - y1) * content.height,
  };
}

/**
 * The keyframe whose people are shown at `time`: the nearest one (an earlier one on a tie), as
 * the annotated video draws them; undefined when there are none.
 *
 * @example
 * nearestKeyframe([{ time: 1, ... }, { time: 3, ... }], 2.4)?.time // 3
 */
export function nearestKeyframe<K extends Pick<Keyframe, 'time'>>(keyframes: readonly K[], time: number): K | undefined {
  let best: K | undefined;
  for (const k of keyframes) if (!best || Math.abs(k.time - time) < Math.abs(best.time - time)) best = k;
  return best;
}

/**
 * A person's caption: the `n` best actions with their scores.
 *
 * @example
 * personCaption({ actions: [{ id: 8, label: 'stand', score: 0.91 }], ... }, 2) // 'stand 0.91'
 */
export function personCaption(person: Pick<Person, 'actions'>, n = 2): string {
  const top = [...person.actions].sort((a, b) => b.score - a.score).slice(0, n);
  return top.length ? top.map((a) => `${a.label} ${a.score.toFixed(2)}`).join(', ') : 'no action';
}
