/** Top-k accuracy on logits (or scores) [rows, classes]: pure, no I/O. */
export function topKCorrect(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number, k: number): number {
  let correct = 0;
  for (let r = 0; r < labels.length; r++) {
    const target = scores[r * classes + labels[r]!]!;
    let better = 0;
    for (let c = 0; c < classes; c++) {
      const s = scores[r * classes + c]!;
      // Ties count against the target, so constant scores are not "correct".
      if (s > target || (s === target && c < labels[r]!)) better++;
    }
    if (better < k) correct++;
  }
  return correct;
}

export interface AccuracyCounter {
  add(scores: ArrayLike<number>, labels: ArrayLike<number>): void;
  readonly result: { top1: number; top5: number; count: number };
}

export function accuracyCounter(classes: number): AccuracyCounter {
  let top1 = 0;
  let top5 = 0;
  let count = 0;
  return {
    add(scores, labels) {
      top1 += topKCorrect(scores, labels, classes, 1);
      top5 += topKCorrect(scores, labels, classes, Math.min(5, classes));
      count += labels.length;
    },
    get result() {
      return { top1: count ? top1 / count : 0, top5: count ? top5 / count : 0, count };
    },
  };
}
