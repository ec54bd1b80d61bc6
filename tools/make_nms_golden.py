#!/usr/bin/python3
"""Golden vectors for the 1-D Soft-NMS (src/postprocess/soft-nms-1d.ts).

A plain-Python transcription of ActionFormer's nms_cpu.cpp softnms loop (select the max from
position i on, swap it to i, decay the rest by iou = inter / (area_i + area_j - inter) with area = len + 1e-6: gaussian
exp(-iou^2 / sigma), linear 1 - iou and hard 0 when iou >= threshold; a box under min_score is
swapped with the last and the count shrinks; the first selection is never tested against
min_score, so a group whose every score is below it still keeps its best segment) and of nms.py's batched_nms (per class or all
together, seg_voting in the class-agnostic mode, sorted by score, top max_seg_num), run on random
candidates. Written from the algorithm, not from our TypeScript.

  /usr/bin/python3 tools/make_nms_golden.py > test/fixtures/soft-nms-golden.json
"""
import json
import math
import random


def softnms(segs, scores, iou_threshold, sigma, min_score, method):
    segs = [list(s) for s in segs]
    sc = list(scores)
    inds = list(range(len(sc)))
    n = len(sc)
    i = 0
    while i < n:
        max_pos = i
        for pos in range(i + 1, n):
            if sc[max_pos] < sc[pos]:
                max_pos = pos
        for arr in (segs, sc, inds):
            arr[i], arr[max_pos] = arr[max_pos], arr[i]
        x1, x2 = segs[i]
        pos = i + 1
        while pos < n:
            inter = max(0.0, min(x2, segs[pos][1]) - max(x1, segs[pos][0]))
            ovr = inter / ((x2 - x1 + 1e-6) + (segs[pos][1] - segs[pos][0] + 1e-6) - inter)
            weight = 1.0
            if method == "hard":
                weight = 0.0 if ovr >= iou_threshold else 1.0
            elif method == "linear":
                weight = 1.0 - ovr if ovr >= iou_threshold else 1.0
            else:
                weight = math.exp(-(ovr * ovr) / sigma)
            sc[pos] *= weight
            if sc[pos] < min_score:
                for arr in (segs, sc, inds):
                    arr[pos] = arr[n - 1]
                n -= 1
                pos -= 1
            pos += 1
        i += 1
    return inds[:n], sc[:n]


def seg_voting(nms_segs, all_segs, all_scores, thr):
    out = []
    for s in nms_segs:
        total, a, b = 0.0, 0.0, 0.0
        for seg, score in zip(all_segs, all_scores):
            inter = max(0.0, min(s[1], seg[1]) - max(s[0], seg[0]))
            iou = inter / ((s[1] - s[0]) + (seg[1] - seg[0]) - inter)
            if iou >= thr:
                w = score * iou
                total += w
                a += w * seg[0]
                b += w * seg[1]
        out.append([a / total, b / total])
    return out


def batched_nms(segs, scores, labels, opts):
    kept_segs, kept_scores, kept_labels = [], [], []
    groups = sorted(set(labels)) if opts["perClass"] else [None]
    for g in groups:
        idx = [i for i in range(len(scores)) if g is None or labels[i] == g]
        inds, sc = softnms([segs[i] for i in idx], [scores[i] for i in idx], opts["iouThreshold"], opts["sigma"], opts["minScore"], opts["method"])
        for k, s in zip(inds, sc):
            kept_segs.append(segs[idx[k]])
            kept_scores.append(s)
            kept_labels.append(labels[idx[k]])
    if not opts["perClass"] and opts["votingThreshold"] > 0:
        kept_segs = seg_voting(kept_segs, segs, scores, opts["votingThreshold"])
    order = sorted(range(len(kept_scores)), key=lambda k: -kept_scores[k])[: opts["maxSegments"]]
    return {"segments": [kept_segs[k] for k in order], "scores": [kept_scores[k] for k in order], "labels": [kept_labels[k] for k in order]}


def main():
    rng = random.Random(7)
    n, classes = 300, 4
    segs, scores, labels = [], [], []
    for _ in range(n):
        centre = rng.uniform(0, 200)
        length = rng.uniform(1, 40)
        segs.append([centre - length / 2, centre + length / 2])
        scores.append(rng.uniform(0.001, 1))
        labels.append(rng.randrange(classes))
    base = dict(iouThreshold=0.5, sigma=0.5, minScore=0.001, maxSegments=50, votingThreshold=0.0)
    cases = [
        dict(base, name="gaussian per class", method="gaussian", perClass=True),
        dict(base, name="linear per class", method="linear", perClass=True),
        dict(base, name="hard per class", method="hard", perClass=True),
        dict(base, name="gaussian class-agnostic with voting", method="gaussian", perClass=False, votingThreshold=0.7),
        dict(base, name="min_score above every score: one segment per class", method="gaussian", perClass=True, minScore=2.0),
    ]
    out = {"input": {"segments": segs, "scores": scores, "labels": labels}, "cases": []}
    for case in cases:
        out["cases"].append({"options": case, "expected": batched_nms(segs, scores, labels, case)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
