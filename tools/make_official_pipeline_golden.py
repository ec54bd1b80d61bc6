#!/usr/bin/python3
"""The official VideoMAE V2 test pipeline on a real video, as a golden for `videomae predict`.

Follows OpenGVLab/VideoMAEv2 dataset/datasets.py (VideoClsDataset, mode 'test', dense sampling)
and engine_for_finetuning.py (merge: softmax per view, mean over views), written from that code
with OpenCV standing in for decord (both decode with ffmpeg's default RGB conversion):
  - every frame_sample_rate-th frame of the whole video, padded with the last to clip_len;
  - functional.resize_clip: short side to short_side_size with cv2.resize(INTER_LINEAR)
    (get_resize_sizes: the long side int(size * long / short));
  - test_num_segment x test_num_crop views: temporal_start = int(chunk * max((T - clip_len) /
    (segments - 1), 0)), spatial_start = int(crop * (long - short_side) / (crops - 1));
  - ClipToTensor (/255), ImageNet mean/std, the model (tools/make_parity_fixture.py, float64)
    with the weights of test/fixtures/checkpoints/finetune-module.pth.

  /usr/bin/python3 tools/make_official_pipeline_golden.py [video]

Writes test/fixtures/official-pipeline/vtest-k400.json: the views' frame indices and crop
offsets and the averaged probabilities (710 classes).
"""
import json
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixture import VideoMAEv2Backbone  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
CHECKPOINTS = os.path.join(ROOT, "test", "fixtures", "checkpoints")
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
SEGMENTS, CROPS, RATE = 5, 3, 4  # the k400 test protocol (test_num_segment 5 in the K400 scripts)
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def read_frames(path):
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


def resize_sizes(h, w, size):
    return (int(size * h / w), size) if w < h else (size, int(size * w / h))


def main():
    video = sys.argv[1] if len(sys.argv) > 1 else VIDEO
    config = json.load(open(os.path.join(CHECKPOINTS, "config.json")))
    clip_len, short_side = config["numFrames"], config["imageHeight"]
    model = VideoMAEv2Backbone(config).double().eval()
    saved = torch.load(os.path.join(CHECKPOINTS, "finetune-module.pth"), map_location="cpu")["module"]
    model.load_state_dict({k: v.double() for k, v in saved.items()})

    frames = read_frames(video)
    indices = list(range(0, len(frames), RATE))
    while len(indices) < clip_len:
        indices.append(indices[-1])
    h, w = frames[0].shape[:2]
    oh, ow = resize_sizes(h, w, short_side)
    buffer = np.stack([cv2.resize(frames[i], (ow, oh), interpolation=cv2.INTER_LINEAR) for i in indices])

    views, probabilities = [], []
    spatial_step = (max(oh, ow) - short_side) / (CROPS - 1)
    temporal_step = max((buffer.shape[0] - clip_len) / (SEGMENTS - 1), 0)
    for chunk in range(SEGMENTS):
        for crop in range(CROPS):
            t0, s0 = int(chunk * temporal_step), int(crop * spatial_step)
            clip = buffer[t0:t0 + clip_len, s0:s0 + short_side] if oh >= ow else buffer[t0:t0 + clip_len, :, s0:s0 + short_side]
            x = (clip.astype(np.float64) / 255 - MEAN) / STD  # T H W C
            x = torch.from_numpy(x).permute(3, 0, 1, 2).unsqueeze(0)  # 1 C T H W
            with torch.no_grad():
                logits = model(x)[0][0]
            probabilities.append(torch.softmax(logits, 0).numpy())
            views.append({"chunk": chunk, "crop": crop, "frames": [indices[t] for t in range(t0, t0 + clip_len)], "offset": s0})
    mean = np.mean(probabilities, axis=0)
    out = os.path.join(ROOT, "test", "fixtures", "official-pipeline", "vtest-k400.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"video": os.path.basename(video), "frames": len(frames), "resized": [oh, ow], "opencv": cv2.__version__,
                   "views": views, "probabilities": [round(float(p), 9) for p in mean]}, f)
        f.write("\n")
    print(f"wrote {out}: {len(views)} views, top-1 {int(mean.argmax())} p={mean.max():.5f}")


if __name__ == "__main__":
    main()
