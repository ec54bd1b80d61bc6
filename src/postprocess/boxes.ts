/**
 * Person-box post-processing for spatiotemporal detection, pure on typed arrays: boxes are
 * `[N, 4]` as [x1, y1, x2, y2] (any unit), with `[N]` scores. Score threshold, greedy NMS,
 * enlargement about the centre (the official AVA pipeline widens detector boxes) and clipping.
 */

/** [x1, y1, x2, y2], in any unit (AVA's are normalized to the frame). */
export type Box = readonly [number, number, number, number];

/** Intersection over union of two boxes; 0 when they do not overlap or both are empty. */
export function boxIoU(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const intersection = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
  return union > 0 ? intersection / union : 0;
}

export interface ScoredBoxes {
  /** [N, 4] as [x1, y1, x2, y2] */
  readonly boxes: Float32Array;
  readonly scores: Float32Array;
}

const boxAt = (b: Float32Array, i: number): [number, number, number, number] => [b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!];

function take(input: ScoredBoxes, keep: readonly number[]): ScoredBoxes {
  const boxes = new Float32Array(keep.length * 4);
  const scores = new Float32Array(keep.length);
  keep.forEach((k, i) => {
    boxes.set(input.boxes.subarray(4 * k, 4 * k + 4), 4 * i);
    scores[i] = input.scores[k]!;
  });
  return { boxes, scores };
}

/** Boxes scoring at least `threshold`, best first. */
export function filterByScore(input: ScoredBoxes, threshold: number): ScoredBoxes {
  const keep = Array.from(input.scores, (_, i) => i)
    .filter((i) => input.scores[i]! >= threshold)
    .sort((a, b) => input.scores[b]! - input.scores[a]! || a - b);
  return take(input, keep);
}

/** Greedy NMS: the best box stays, boxes overlapping it by more than `iouThreshold` go. */
export function nmsBoxes(input: ScoredBoxes, iouThreshold: number, maxBoxes = Infinity): ScoredBoxes {
  const order = Array.from(input.scores, (_, i) => i).sort((a, b) => input.scores[b]! - input.scores[a]! || a - b);
  const keep: number[] = [];
  for (const i of order) {
    if (keep.length >= maxBoxes) break;
    if (keep.every((k) => boxIoU(boxAt(input.boxes, i), boxAt(input.boxes, k)) <= iouThreshold)) keep.push(i);
  }
  return take(input, keep);
}

/** Scales each box about its centre by `factor` (1 = unchanged), then clips to [0, width] x [0, height]. */
export function enlargeAndClip(boxes: Float32Array, factor: number, width: number, height: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length / 4; i++) {
    const [x1, y1, x2, y2] = boxAt(boxes, i);
    const cx = (x1 + x2) / 2;
    const cy = (y1 + y2) / 2;
    const hw = ((x2 - x1) * factor) / 2;
    const hh = ((y2 - y1) * factor) / 2;
    out[4 * i] = Math.min(Math.max(cx - hw, 0), width);
    out[4 * i + 1] = Math.min(Math.max(cy - hh, 0), height);
    out[4 * i + 2] = Math.min(Math.max(cx + hw, 0), width);
    out[4 * i + 3] = Math.min(Math.max(cy + hh, 0), height);
  }
  return out;
}
