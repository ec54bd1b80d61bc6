/**
 * AVA frame mAP, as the official evaluation (ava_evaluation/ with the Pascal VOC detection
 * evaluator) computes it: per keyframe (video, timestamp), detections of a class in decreasing
 * score order are matched to that frame's ground-truth boxes of the class at IoU >= 0.5, each box
 * once; per class, AP is the interpolated area under precision/recall over all frames; the mean is
 * over the evaluated classes that have ground truth. Frames on the exclusion list are left out,
 * and each frame keeps at most its 50 best-scored detections. Pure: no files.
 */
import { boxIoU, type Box } from '../postprocess/boxes.js';
import { interpolatedAP } from './temporal-map.js';

export interface AvaGroundTruth {
  readonly video: string;
  readonly timestamp: number;
  /** Normalized to the frame. */
  readonly box: Box;
  readonly actionId: number;
}

export interface AvaDetection extends AvaGroundTruth {
  readonly score: number;
}

export interface AvaMapResult {
  readonly iouThreshold: number;
  /** Mean AP over the evaluated classes with ground truth. */
  readonly mAP: number;
  /** Per action id (as a string), its AP; classes without ground truth are left out. */
  readonly apPerClass: Record<string, number>;
  readonly classesEvaluated: number;
  readonly frames: number;
}

/** The official frame key: video id and the timestamp as a 4-digit integer. */
export function frameKey(video: string, timestamp: number): string {
  return `${video},${String(Math.trunc(timestamp)).padStart(4, '0')}`;
}

export interface AvaEvaluationOptions {
  /** Action ids that count (the 60 evaluated classes); others are ignored on both sides. */
  readonly classes: readonly number[];
  readonly excluded?: ReadonlySet<string>;
  readonly iouThreshold?: number;
  /** Detections kept per frame, best first (the official reader's capacity, 50). */
  readonly detectionsPerFrame?: number;
}

/**
 * @example
 * evaluateAva([{ video: 'v', timestamp: 902, box: [0, 0, 0.5, 1], actionId: 12 }],
 *   [{ video: 'v', timestamp: 902, box: [0, 0, 0.5, 1], actionId: 12, score: 0.9 }], { classes: [12] })
 * // -> { mAP: 1, apPerClass: { '12': 1 }, ... }
 */
export function evaluateAva(
  groundTruth: readonly AvaGroundTruth[],
  detections: readonly AvaDetection[],
  options: AvaEvaluationOptions,
): AvaMapResult {
  const iouThreshold = options.iouThreshold ?? 0.5;
  const capacity = options.detectionsPerFrame ?? 50;
  const classes = new Set(options.classes);
  const excluded = options.excluded ?? new Set<string>();
  const keep = (r: AvaGroundTruth) => classes.has(r.actionId) && !excluded.has(frameKey(r.video, r.timestamp));

  const gtByFrame = new Map<string, AvaGroundTruth[]>();
  for (const g of groundTruth.filter(keep)) {
    const key = frameKey(g.video, g.timestamp);
    (gtByFrame.get(key) ?? gtByFrame.set(key, []).get(key)!).push(g);
  }
  // Per frame, the best `capacity` detections (the official heap keeps the highest scores).
  const detByFrame = new Map<string, AvaDetection[]>();
  for (const d of detections.filter(keep)) {
    const key = frameKey(d.video, d.timestamp);
    (detByFrame.get(key) ?? detByFrame.set(key, []).get(key)!).push(d);
  }
  for (const [key, list] of detByFrame) detByFrame.set(key, [...list].sort((a, b) => b.score - a.score).slice(0, capacity));

  const gtCount = new Map<number, number>();
  for (const list of gtByFrame.values()) for (const g of list) gtCount.set(g.actionId, (gtCount.get(g.actionId) ?? 0) + 1);
  const scored = new Map<number, Array<{ score: number; tp: boolean }>>();
  for (const [key, list] of detByFrame) {
    const gts = gtByFrame.get(key) ?? [];
    for (const actionId of new Set(list.map((d) => d.actionId))) {
      const dets = list.filter((d) => d.actionId === actionId).sort((a, b) => b.score - a.score);
      const boxes = gts.filter((g) => g.actionId === actionId);
      const taken = new Array<boolean>(boxes.length).fill(false);
      const out = scored.get(actionId) ?? scored.set(actionId, []).get(actionId)!;
      for (const d of dets) {
        let best = -1;
        let bestIoU = 0;
        boxes.forEach((g, i) => {
          const iou = boxIoU(d.box, g.box);
          if (iou > bestIoU) {
            bestIoU = iou;
            best = i;
          }
        });
        // The highest-overlap box decides: a taken one makes a false positive (as the official code does).
        const tp = best >= 0 && bestIoU >= iouThreshold && !taken[best];
        if (tp) taken[best] = true;
        out.push({ score: d.score, tp });
      }
    }
  }
  const apPerClass: Record<string, number> = {};
  for (const actionId of [...classes].sort((a, b) => a - b)) {
    const total = gtCount.get(actionId) ?? 0;
    if (total === 0) continue;
    const list = [...(scored.get(actionId) ?? [])].sort((a, b) => b.score - a.score);
    let tp = 0;
    const precision: number[] = [];
    const recall: number[] = [];
    list.forEach((d, i) => {
      if (d.tp) tp++;
      precision.push(tp / (i + 1));
      recall.push(tp / total);
    });
    apPerClass[String(actionId)] = list.length ? interpolatedAP(precision, recall) : 0;
  }
  const aps = Object.values(apPerClass);
  return {
    iouThreshold,
    mAP: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0,
    apPerClass,
    classesEvaluated: aps.length,
    frames: gtByFrame.size,
  };
}
