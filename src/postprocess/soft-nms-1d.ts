/**
 * 1-D non-maximum suppression for temporal segments, as ActionFormer does it (libs/utils/nms.py
 * and csrc/nms_cpu.cpp): Soft-NMS with Gaussian, linear or hard decay, per class or class-agnostic,
 * score voting in the class-agnostic mode, then the top `maxSegments` by score. Pure functions on
 * typed arrays; segments are `[N, 2]` as [start, end] in any unit (feature steps or seconds).
 */

export type NmsMethod = 'gaussian' | 'linear' | 'hard';

export interface Segments {
  /** [N, 2] as [start, end]. */
  readonly segments: Float32Array;
  readonly scores: Float32Array;
  readonly labels: Int32Array;
}

export interface SoftNmsOptions {
  readonly method: NmsMethod;
  /** Overlap above which linear and hard NMS decay a score (unused by gaussian). */
  readonly iouThreshold: number;
  /** Gaussian decay exp(-iou^2 / sigma). */
  readonly sigma: number;
  /** Segments whose decayed score falls below this are dropped. */
  readonly minScore: number;
  readonly maxSegments: number;
  /** true: each class on its own; false: all classes compete (and voting applies). */
  readonly perClass: boolean;
  /** Class-agnostic mode only: refine each kept segment by the score x IoU weighted mean of the candidates overlapping it at least this much (0 = off). */
  readonly votingThreshold: number;
}

/** ActionFormer's THUMOS14 settings. */
export const ACTIONFORMER_NMS: SoftNmsOptions = {
  method: 'gaussian',
  iouThreshold: 0.1,
  sigma: 0.5,
  minScore: 0.001,
  maxSegments: 200,
  perClass: true,
  votingThreshold: 0.7,
};

/** Temporal IoU of two segments. */
export function temporalIoU(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const intersection = Math.max(0, Math.min(aEnd, bEnd) - Math.max(aStart, bStart));
  const union = aEnd - aStart + (bEnd - bStart) - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Soft-NMS over one group, in place as ActionFormer's C++ does it: the highest remaining score is
 * swapped to the front, the rest decay by their overlap with it, and a segment under `minScore`
 * is swapped out with the last one. Selected scores never increase, so stopping after `maxKeep`
 * selections gives the same top `maxKeep` (the cost is maxKeep x N, not N^2). Returns the kept
 * positions (into the inputs) in selection order and their decayed scores.
 */
export function softNms1d(
  segments: Float32Array,
  scores: Float32Array,
  indices: readonly number[],
  options: Pick<SoftNmsOptions, 'method' | 'iouThreshold' | 'sigma' | 'minScore'>,
  maxKeep = Infinity,
): { kept: number[]; scores: number[] } {
  const order = Int32Array.from(indices);
  const score = Float64Array.from(indices, (i) => scores[i]!);
  let n = order.length;
  const kept: number[] = [];
  const keptScores: number[] = [];
  for (let i = 0; i < n && kept.length < maxKeep; i++) {
    let best = i;
    for (let k = i + 1; k < n; k++) if (score[k]! > score[best]!) best = k;
    // No minScore test here, as in the official op: the best segment of a group is kept even when
    // every score is below minScore; the decay loop below drops the rest.
    swap(order, score, i, best);
    const top = order[i]!;
    kept.push(top);
    keptScores.push(score[i]!);
    const s0 = segments[2 * top]!;
    const e0 = segments[2 * top + 1]!;
    for (let k = i + 1; k < n; k++) {
      const j = order[k]!;
      const iou = opIoU(s0, e0, segments[2 * j]!, segments[2 * j + 1]!);
      let weight = 1;
      if (options.method === 'gaussian') weight = Math.exp(-(iou * iou) / options.sigma);
      else if (iou >= options.iouThreshold) weight = options.method === 'linear' ? 1 - iou : 0;
      score[k] = score[k]! * weight;
      if (score[k]! < options.minScore) {
        swap(order, score, k, n - 1);
        n--;
        k--;
      }
    }
  }
  return { kept, scores: keptScores };
}

/** The IoU nms_cpu.cpp decays by: each length carries 1e-6, so touching or empty segments never divide by 0. */
function opIoU(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const intersection = Math.max(0, Math.min(aEnd, bEnd) - Math.max(aStart, bStart));
  return intersection / (aEnd - aStart + 1e-6 + (bEnd - bStart + 1e-6) - intersection);
}

function swap(order: Int32Array, score: Float64Array, a: number, b: number): void {
  const o = order[a]!;
  order[a] = order[b]!;
  order[b] = o;
  const s = score[a]!;
  score[a] = score[b]!;
  score[b] = s;
}

/**
 * Score voting (ActionFormer's seg_voting): each kept segment becomes the mean of all candidates
 * whose IoU with it is at least `threshold`, weighted by candidate score x IoU.
 */
export function voteSegments(kept: Float32Array, candidates: Float32Array, candidateScores: Float32Array, threshold: number): Float32Array {
  const out = new Float32Array(kept.length);
  const n = candidateScores.length;
  for (let i = 0; i < kept.length / 2; i++) {
    let total = 0;
    let start = 0;
    let end = 0;
    for (let j = 0; j < n; j++) {
      const iou = temporalIoU(kept[2 * i]!, kept[2 * i + 1]!, candidates[2 * j]!, candidates[2 * j + 1]!);
      if (iou < threshold) continue;
      const w = candidateScores[j]! * iou;
      total += w;
      start += w * candidates[2 * j]!;
      end += w * candidates[2 * j + 1]!;
    }
    out[2 * i] = total > 0 ? start / total : kept[2 * i]!;
    out[2 * i + 1] = total > 0 ? end / total : kept[2 * i + 1]!;
  }
  return out;
}

/**
 * The whole NMS step: per class (or all together), Soft-NMS, optional voting, then the best
 * `maxSegments` by decayed score, highest first.
 *
 * @example
 * batchedNms({ segments: Float32Array.of(0, 10, 1, 10, 20, 30), scores: Float32Array.of(0.9, 0.8, 0.7), labels: Int32Array.of(0, 0, 1) }, ACTIONFORMER_NMS)
 * // -> segments [0,10, 20,30, 1,10], scores [0.9, 0.7, 0.8 * exp(-0.81 / 0.5)], labels [0, 1, 0]
 */
export function batchedNms(input: Segments, options: SoftNmsOptions): Segments {
  const count = input.scores.length;
  if (input.segments.length !== 2 * count || input.labels.length !== count) {
    throw new RangeError(`batchedNms: ${input.segments.length / 2} segments, ${count} scores and ${input.labels.length} labels must agree`);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const key = options.perClass ? input.labels[i]! : 0;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(i);
  }
  const kept: Array<{ index: number; score: number }> = [];
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const result = softNms1d(input.segments, input.scores, groups.get(key)!, options, options.maxSegments);
    result.kept.forEach((index, k) => kept.push({ index, score: result.scores[k]! }));
  }
  let segments: Float32Array = new Float32Array(kept.length * 2);
  kept.forEach(({ index }, k) => {
    segments[2 * k] = input.segments[2 * index]!;
    segments[2 * k + 1] = input.segments[2 * index + 1]!;
  });
  if (!options.perClass && options.votingThreshold > 0) {
    segments = voteSegments(segments, input.segments, input.scores, options.votingThreshold);
  }
  // Highest decayed score first; equal scores keep selection order.
  const order = kept
    .map((_, k) => k)
    .sort((a, b) => kept[b]!.score - kept[a]!.score || a - b)
    .slice(0, options.maxSegments);
  const out: Segments = {
    segments: new Float32Array(order.length * 2),
    scores: new Float32Array(order.length),
    labels: new Int32Array(order.length),
  };
  order.forEach((k, i) => {
    out.segments[2 * i] = segments[2 * k]!;
    out.segments[2 * i + 1] = segments[2 * k + 1]!;
    out.scores[i] = kept[k]!.score;
    out.labels[i] = input.labels[kept[k]!.index]!;
  });
  return out;
}
