/**
 * How closely one model's per-view predictions follow a reference's (int8 against float32): pure
 * functions on logits [views, classes], so evaluate and tests share one definition.
 */

export interface ViewAgreement {
  readonly views: number;
  /** Views whose top-1 class is the reference's. */
  readonly agreeing: number;
  /** Largest |p - p_ref| over every view and class (softmax of each view's logits). */
  readonly maxProbabilityDiff: number;
}

function softmaxRow(logits: Float32Array, offset: number, classes: number): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[offset + c]!);
  const out = new Float64Array(classes);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += out[c] = Math.exp(logits[offset + c]! - max);
  for (let c = 0; c < classes; c++) out[c]! /= sum;
  return out;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

export function viewAgreement(logits: Float32Array, reference: Float32Array, classes: number): ViewAgreement {
  if (logits.length !== reference.length || logits.length % classes !== 0) {
    throw new RangeError(`logits hold ${logits.length} values and the reference ${reference.length}, not views x ${classes}`);
  }
  const views = logits.length / classes;
  let agreeing = 0;
  let maxProbabilityDiff = 0;
  for (let v = 0; v < views; v++) {
    const p = softmaxRow(logits, v * classes, classes);
    const q = softmaxRow(reference, v * classes, classes);
    if (argmax(p) === argmax(q)) agreeing++;
    for (let c = 0; c < classes; c++) maxProbabilityDiff = Math.max(maxProbabilityDiff, Math.abs(p[c]! - q[c]!));
  }
  return { views, agreeing, maxProbabilityDiff };
}

/** Sums per-video agreements (max of the maxima). */
export function combineAgreements(parts: readonly ViewAgreement[]): ViewAgreement {
  return parts.reduce(
    (sum, part) => ({
      views: sum.views + part.views,
      agreeing: sum.agreeing + part.agreeing,
      maxProbabilityDiff: Math.max(sum.maxProbabilityDiff, part.maxProbabilityDiff),
    }),
    { views: 0, agreeing: 0, maxProbabilityDiff: 0 },
  );
}
