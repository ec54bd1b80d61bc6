/**
 * Classification post-processing on typed arrays: softmax per view, mean over views, top-k.
 */

/**
 * Softmax of each row of `logits` `[rows, classes]`, then the mean over rows: the official
 * multi-view test averages probabilities, not logits.
 *
 * @example
 * meanSoftmax(Float32Array.of(0, 0, 10, 0), 2, 2) // -> [~0.5, ~0.5]: rows [0.5, 0.5] and [1, 0]
 */
export function meanSoftmax(logits: Float32Array, rows: number, classes: number): Float64Array {
  if (logits.length !== rows * classes) {
    throw new RangeError(`logits hold ${logits.length} values, expected ${rows} x ${classes}`);
  }
  const mean = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const offset = r * classes;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[offset + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c]! - max);
    for (let c = 0; c < classes; c++) mean[c]! += Math.exp(logits[offset + c]! - max) / sum / rows;
  }
  return mean;
}

/**
 * Each clip's own scores for `classes` chosen indices: the mean of the softmax over the clip's
 * crops. `logits` `[clips x crops, classes]` in view order (clip-major, crops in order).
 *
 * @example
 * clipScores(Float32Array.of(0, 0, 10, 0), 2, 1, 2, [0]) // -> [[0.5], [~1]]
 */
export function clipScores(logits: Float32Array, clips: number, crops: number, classes: number, indices: readonly number[]): number[][] {
  const rows = clips * crops;
  if (logits.length !== rows * classes) {
    throw new RangeError(`logits hold ${logits.length} values, expected ${rows} x ${classes}`);
  }
  return Array.from({ length: clips }, (_, clip) => {
    const mean = meanSoftmax(logits.subarray(clip * crops * classes, (clip + 1) * crops * classes), crops, classes);
    return indices.map((index) => mean[index]!);
  });
}

export interface RankedClass {
  readonly index: number;
  readonly score: number;
}

/** The k highest scores, best first; ties keep the lower class index first. */
export function topK(scores: ArrayLike<number>, k: number): RankedClass[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, Math.max(0, Math.min(k, scores.length))).map((index) => ({ index, score: scores[index]! }));
}
