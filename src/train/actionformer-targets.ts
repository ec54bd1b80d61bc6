/**
 * ActionFormer's label assignment (libs/modeling/meta_archs.py, label_points_single_video), pure
 * on typed arrays: every position of every level is a point at t = i x stride (in feature steps
 * of the input); a ground-truth segment claims the point when the point lies within
 * `radius x stride` of the segment's centre (and inside the segment) and the farther of its two
 * distances falls in the level's regression range; among claimants the shortest segment wins
 * (segments as short as it, within 1e-3, all lend their classes). Regression targets are the
 * distances to the winner's ends, in strides.
 */
import { levelLengths, type ActionFormerConfig } from '../config/actionformer.js';

export interface PointTargets {
  /** [P, classes] 0/1, P = sum over levels of T / 2^l. */
  readonly cls: Float32Array;
  /** [P, 2] (left, right) / stride; zero where no segment claims the point. */
  readonly offsets: Float32Array;
  /** [P] 1 where a segment claims the point. */
  readonly positive: Float32Array;
  readonly points: number;
}

/**
 * @param segments [N, 2] start, end in feature steps
 * @param labels [N] class indices
 */
export function assignTargets(config: ActionFormerConfig, length: number, segments: Float32Array, labels: Int32Array): PointTargets {
  const lengths = levelLengths(config, length);
  const points = lengths.reduce((a, b) => a + b, 0);
  const classes = config.numClasses;
  const cls = new Float32Array(points * classes);
  const offsets = new Float32Array(points * 2);
  const positive = new Float32Array(points);
  const n = labels.length;
  let p = 0;
  lengths.forEach((count, level) => {
    const stride = 2 ** level;
    const [low, high] = config.regressionRanges[level]!;
    for (let i = 0; i < count; i++, p++) {
      const t = i * stride;
      let best = Infinity;
      let bestIndex = -1;
      const lens = new Float64Array(n).fill(Infinity);
      for (let g = 0; g < n; g++) {
        const start = segments[2 * g]!;
        const end = segments[2 * g + 1]!;
        const centre = 0.5 * (start + end);
        const tMin = centre - stride * config.centerSampleRadius;
        const tMax = centre + stride * config.centerSampleRadius;
        const inside = Math.min(t - Math.max(tMin, start), Math.min(tMax, end) - t) > 0;
        const farthest = Math.max(t - start, end - t);
        if (!inside || farthest < low || farthest > high) continue;
        lens[g] = end - start;
        if (lens[g]! < best) {
          best = lens[g]!;
          bestIndex = g;
        }
      }
      if (bestIndex < 0) continue;
      positive[p] = 1;
      for (let g = 0; g < n; g++) if (lens[g]! <= best + 1e-3) cls[p * classes + labels[g]!] = 1;
      offsets[2 * p] = (t - segments[2 * bestIndex]!) / stride;
      offsets[2 * p + 1] = (segments[2 * bestIndex + 1]! - t) / stride;
    }
  });
  return { cls, offsets, positive, points };
}
