/**
 * Temporal action detection mAP, the ActivityNet way (ActionFormer's libs/utils/metrics.py,
 * after the ActivityNet evaluation kit): per class, predictions in decreasing score order are
 * matched greedily to the unmatched ground truth of their video with the highest tIoU at or above
 * each threshold; AP is the VOC-style interpolated area under precision/recall; mAP averages the
 * classes that have ground truth. Pure: no files, no I/O.
 */
import { temporalIoU } from '../postprocess/soft-nms-1d.js';

export interface TemporalInstance {
  readonly video: string;
  readonly label: string;
  readonly start: number;
  readonly end: number;
}

export interface TemporalPrediction extends TemporalInstance {
  readonly score: number;
}

export interface TemporalMapResult {
  readonly tiou: number[];
  /** Per tIoU threshold (same order as `tiou`), the mean over classes. */
  readonly mAP: number[];
  readonly averageMAP: number;
  /** Per class, AP at each threshold. */
  readonly apPerClass: Record<string, number[]>;
  readonly groundTruthCount: number;
  readonly predictionCount: number;
}

/** VOC-style interpolated AP: the area under the precision envelope (ActivityNet's interpolated_prec_rec). */
export function interpolatedAP(precision: ArrayLike<number>, recall: ArrayLike<number>): number {
  const n = precision.length;
  const mprec = [0, ...Array.from(precision), 0];
  const mrec = [0, ...Array.from(recall), 1];
  for (let i = n; i >= 0; i--) mprec[i] = Math.max(mprec[i]!, mprec[i + 1]!);
  let ap = 0;
  for (let i = 1; i < mrec.length; i++) {
    if (mrec[i] !== mrec[i - 1]) ap += (mrec[i]! - mrec[i - 1]!) * mprec[i]!;
  }
  return ap;
}

/** numpy's argsort()[::-1] on a stable sort: descending, and among equals the later one first. */
function descendingOrder(values: readonly number[]): number[] {
  return values
    .map((_, i) => i)
    .sort((a, b) => values[a]! - values[b]! || a - b)
    .reverse();
}

/** AP of one class at every threshold. */
export function averagePrecisionForClass(
  groundTruth: readonly TemporalInstance[],
  predictions: readonly TemporalPrediction[],
  thresholds: readonly number[],
): number[] {
  if (groundTruth.length === 0) return thresholds.map(() => 0);
  const byVideo = new Map<string, number[]>();
  groundTruth.forEach((g, i) => {
    let list = byVideo.get(g.video);
    if (!list) byVideo.set(g.video, (list = []));
    list.push(i);
  });
  const order = descendingOrder(predictions.map((p) => p.score));
  const matched = thresholds.map(() => new Int32Array(groundTruth.length).fill(-1));
  const tp = thresholds.map(() => new Float64Array(order.length));
  const fp = thresholds.map(() => new Float64Array(order.length));
  order.forEach((p, rank) => {
    const prediction = predictions[p]!;
    const candidates = byVideo.get(prediction.video);
    if (!candidates) {
      thresholds.forEach((_, t) => {
        fp[t]![rank] = 1;
      });
      return;
    }
    const ious = candidates.map((g) => temporalIoU(prediction.start, prediction.end, groundTruth[g]!.start, groundTruth[g]!.end));
    const byIoU = descendingOrder(ious);
    thresholds.forEach((threshold, t) => {
      for (const k of byIoU) {
        if (ious[k]! < threshold) break;
        const g = candidates[k]!;
        if (matched[t]![g]! >= 0) continue;
        tp[t]![rank] = 1;
        matched[t]![g] = rank;
        break;
      }
      if (!tp[t]![rank]) fp[t]![rank] = 1;
    });
  });
  return thresholds.map((_, t) => {
    let tpSum = 0;
    let fpSum = 0;
    const precision = new Float64Array(order.length);
    const recall = new Float64Array(order.length);
    for (let i = 0; i < order.length; i++) {
      tpSum += tp[t]![i]!;
      fpSum += fp[t]![i]!;
      recall[i] = tpSum / groundTruth.length;
      precision[i] = tpSum / (tpSum + fpSum);
    }
    return interpolatedAP(precision, recall);
  });
}

/**
 * mAP at each tIoU threshold and their mean, over the classes present in the ground truth.
 *
 * @example
 * evaluateTemporalDetection([{ video: 'v', label: 'jump', start: 1, end: 3 }],
 *   [{ video: 'v', label: 'jump', start: 1, end: 3, score: 0.9 }], [0.5])
 * // -> { mAP: [1], averageMAP: 1, apPerClass: { jump: [1] }, ... }
 */
export function evaluateTemporalDetection(
  groundTruth: readonly TemporalInstance[],
  predictions: readonly TemporalPrediction[],
  thresholds: readonly number[],
): TemporalMapResult {
  const classes = [...new Set(groundTruth.map((g) => g.label))].sort();
  const apPerClass: Record<string, number[]> = {};
  for (const label of classes) {
    apPerClass[label] = averagePrecisionForClass(
      groundTruth.filter((g) => g.label === label),
      predictions.filter((p) => p.label === label),
      thresholds,
    );
  }
  const mAP = thresholds.map((_, t) => (classes.length ? classes.reduce((sum, c) => sum + apPerClass[c]![t]!, 0) / classes.length : 0));
  return {
    tiou: [...thresholds],
    mAP,
    averageMAP: mAP.length ? mAP.reduce((a, b) => a + b, 0) / mAP.length : 0,
    apPerClass,
    groundTruthCount: groundTruth.length,
    predictionCount: predictions.length,
  };
}

/** "0.3:0.7:0.1" -> [0.3, 0.4, 0.5, 0.6, 0.7]; "0.5" -> [0.5]; "0.3,0.5" -> [0.3, 0.5]. */
export function parseThresholds(text: string): number[] {
  const range = /^\s*([\d.]+)\s*:\s*([\d.]+)\s*:\s*([\d.]+)\s*$/.exec(text);
  let values: number[];
  if (range) {
    const [from, to, step] = range.slice(1).map(Number) as [number, number, number];
    if (!(step > 0) || to < from) throw new RangeError(`tIoU range '${text}' needs from <= to and a positive step`);
    const count = Math.floor((to - from) / step + 1e-9) + 1;
    values = Array.from({ length: count }, (_, i) => +(from + i * step).toFixed(10));
  } else {
    values = text.split(',').map((v) => Number(v.trim()));
  }
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0 || v > 1)) {
    throw new RangeError(`tIoU thresholds '${text}' must be numbers in (0, 1] (a list '0.3,0.5' or a range '0.3:0.7:0.1')`);
  }
  return values;
}
