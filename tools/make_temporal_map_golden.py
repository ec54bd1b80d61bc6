#!/usr/bin/python3
"""Golden vectors for the temporal mAP (src/eval/temporal-map.ts): a numpy transcription of the
ActivityNet evaluation kit's compute_average_precision_detection / interpolated_prec_rec /
segment_iou (as ActionFormer's libs/utils/metrics.py uses them), on random ground truth and noisy
predictions. Written from the algorithm, not from our TypeScript.

  /usr/bin/python3 tools/make_temporal_map_golden.py > test/fixtures/temporal-map-golden.json
"""
import json

import numpy as np


def segment_iou(target, candidates):
    tt1 = np.maximum(target[0], candidates[:, 0])
    tt2 = np.minimum(target[1], candidates[:, 1])
    inter = (tt2 - tt1).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    return inter.astype(float) / union


def interpolated_prec_rec(prec, rec):
    mprec = np.hstack([[0], prec, [0]])
    mrec = np.hstack([[0], rec, [1]])
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def ap_detection(gt, preds, thresholds):
    """gt: list of (video, start, end); preds: list of (video, start, end, score)."""
    npos = float(len(gt))
    lock_gt = np.ones((len(thresholds), len(gt))) * -1
    scores = np.array([p[3] for p in preds])
    order = np.argsort(scores, kind="stable")[::-1]
    preds = [preds[i] for i in order]
    tp = np.zeros((len(thresholds), len(preds)))
    fp = np.zeros((len(thresholds), len(preds)))
    by_video = {}
    for i, g in enumerate(gt):
        by_video.setdefault(g[0], []).append(i)
    for idx, p in enumerate(preds):
        if p[0] not in by_video:
            fp[:, idx] = 1
            continue
        gidx = by_video[p[0]]
        this_gt = np.array([[gt[i][1], gt[i][2]] for i in gidx])
        tiou = segment_iou(np.array([p[1], p[2]]), this_gt)
        tiou_sorted = np.argsort(tiou, kind="stable")[::-1]
        for t, thr in enumerate(thresholds):
            for j in tiou_sorted:
                if tiou[j] < thr:
                    fp[t, idx] = 1
                    break
                if lock_gt[t, gidx[j]] >= 0:
                    continue
                tp[t, idx] = 1
                lock_gt[t, gidx[j]] = idx
                break
            if fp[t, idx] == 0 and tp[t, idx] == 0:
                fp[t, idx] = 1
    tp_c = np.cumsum(tp, axis=1)
    fp_c = np.cumsum(fp, axis=1)
    rec = tp_c / npos
    prec = tp_c / (tp_c + fp_c)
    return [interpolated_prec_rec(prec[t], rec[t]) for t in range(len(thresholds))]


def main():
    rng = np.random.default_rng(11)
    labels = ["jump", "run", "wave"]
    gt, preds = [], []
    for v in range(6):
        video = f"video_{v}"
        for _ in range(rng.integers(2, 7)):
            label = labels[rng.integers(0, 3)]
            start = float(rng.uniform(0, 90))
            end = start + float(rng.uniform(1, 12))
            gt.append({"video": video, "label": label, "start": start, "end": end})
            for _ in range(rng.integers(0, 4)):
                jitter = rng.normal(0, 1.5, 2)
                preds.append({"video": video, "label": label if rng.uniform() < 0.8 else labels[rng.integers(0, 3)],
                              "start": start + float(jitter[0]), "end": end + float(jitter[1]), "score": float(rng.uniform())})
        for _ in range(rng.integers(1, 5)):  # false alarms
            start = float(rng.uniform(0, 90))
            preds.append({"video": video, "label": labels[rng.integers(0, 3)], "start": start, "end": start + float(rng.uniform(1, 10)), "score": float(rng.uniform())})
    preds.append({"video": "not_in_ground_truth", "label": "run", "start": 1.0, "end": 5.0, "score": 0.99})
    preds = [p for p in preds if p["end"] > p["start"]]
    thresholds = [0.3, 0.4, 0.5, 0.6, 0.7]
    ap = {}
    for label in sorted(set(g["label"] for g in gt)):
        ap[label] = ap_detection([(g["video"], g["start"], g["end"]) for g in gt if g["label"] == label],
                                 [(p["video"], p["start"], p["end"], p["score"]) for p in preds if p["label"] == label], thresholds)
    m = [float(np.mean([ap[c][t] for c in ap])) for t in range(len(thresholds))]
    print(json.dumps({"groundTruth": gt, "predictions": preds, "tiou": thresholds,
                      "expected": {"apPerClass": ap, "mAP": m, "averageMAP": float(np.mean(m))}}))


if __name__ == "__main__":
    main()
