#!/usr/bin/python3
"""The official VideoMAE-Action-Detection AVA test path on a real video, as a parity golden.

An independent PyTorch re-implementation of MCG-NJU/VideoMAE-Action-Detection (modeling_finetune.py
VisionTransformer, data/transforms.py + alphaction video_transforms, datasets.BatchCollator), at a
tiny size that keeps the official structure (the official modules need timm and the alphaction
build, so they are not imported):
  - ViT: Conv3d tube embedding (2 x 16 x 16), the fixed sinusoid table of the 224 x 224 x 16-frame
    model (8 x 14 x 14 tokens) resized per temporal slot to the frame's token grid with
    F.interpolate(bicubic, align_corners=False) (interpolate_pos_embed_online), pre-norm blocks with
    qkv + (q_bias, 0, v_bias), exact GELU, LayerNorm eps 1e-6, the final `norm` on every token;
  - head: token map [B, C, T', H', W'] -> mean over T' -> torchvision roi_align(7x7, 1/16,
    sampling_ratio 0, aligned=False) -> MaxPool2d(7) -> Linear(80); sigmoid at test;
  - test boxes: BoxList xyxy pixels of the original frame, clip_to_image (W - 1, H - 1), resized with
    the frame, extend((0.1, 0.05)) with the +1 px width convention, clipped to the resized frame;
  - the clip: 64 frames around the keyframe (32 before, the keyframe and 31 after), TemporalCrop(16, 4)
    -> offsets -31 ... +29; Resize: short side 256, long side int(256 * long / short), cv2.resize
    (INTER_LINEAR); ToTensor, Normalize(mean (122.7717, 115.9465, 102.9801), std 57.375) on 0-255;
    zero-padded right/bottom to a multiple of 16 (BatchCollator(size_divisible=16)).
Frames come from OpenCV (BGR -> RGB), the model runs in float64.

The checkpoint is written exactly as the official utils.save_model writes it:
  {'model': OrderedDict, 'optimizer': AdamW state_dict (after a real step), 'epoch', 'scaler': the
   loss scaler's state_dict, 'args': argparse.Namespace, 'model_ema': OrderedDict}.

  /usr/bin/python3 tools/make_ava_golden.py [video]

Writes test/fixtures/ava-official/ava-tiny.pth and vtest-ava.json (keyframe, boxes, content and
padded sizes, frame indices, per-box sigmoid scores for 'model' and for 'model_ema').
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import roi_align

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "ava-official")
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
SEED = 20240611

# vit_base_patch16_224's structure at a tiny width: patch 16, tubelet 2, 16 frames, 224 base grid.
DEPTH, WIDTH, HEADS, MLP_RATIO, PATCH, TUBELET, FRAMES, IMG, CLASSES = 2, 32, 2, 4, 16, 2, 16, 224, 80
FRAME_NUM, SAMPLE_RATE, MIN_SIZE, DIVISIBLE = 16, 4, 256, 16
PIXEL_MEAN, PIXEL_STD = [122.7717, 115.9465, 102.9801], [57.375, 57.375, 57.375]
TEST_EXT = (0.1, 0.05)
KEYFRAME_SECONDS = 20.0
# Pixel xyxy boxes of the original 768x576 frame (BoxList after xywh -> xyxy), with a detector score.
BOXES = [
    [370.0, 130.0, 430.0, 300.0, 0.97],   # a pedestrian
    [120.0, 240.0, 190.0, 460.0, 0.91],
    [700.0, 400.0, 767.0, 575.0, 0.85],   # at the bottom-right corner: clipped after enlarging
    [0.0, 10.0, 40.0, 120.0, 0.99],       # at the left edge
    [300.0, 300.0, 306.0, 309.0, 0.95],   # tiny: RoI under one cell, one sample per bin
    [500.0, 100.0, 560.0, 260.0, 0.5],    # under the official box_thresh 0.8: not scored
]


def sinusoid_table(n_position, d_hid):
    angles = np.array([[pos / np.power(10000, 2 * (j // 2) / d_hid) for j in range(d_hid)] for pos in range(n_position)])
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    return torch.tensor(angles, dtype=torch.float).unsqueeze(0)  # float32, as the official table


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, _ = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(TUBELET, PATCH, PATCH), stride=(TUBELET, PATCH, PATCH))

    def forward(self, x):
        return self.proj(x)


class AvaViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed(WIDTH)
        self.grid_size = [IMG // PATCH, IMG // PATCH]
        self.pos_embed = sinusoid_table((IMG // PATCH) ** 2 * (FRAMES // TUBELET), WIDTH)  # not a parameter
        self.blocks = nn.ModuleList([Block(WIDTH, HEADS, MLP_RATIO) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(WIDTH, eps=1e-6)
        self.head = nn.Linear(WIDTH, CLASSES)
        self.max_pooler = nn.MaxPool2d((7, 7))

    def forward(self, x, rois):
        x = self.patch_embed(x)
        b, width, t, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        pos = self.pos_embed.reshape(t, -1, width).reshape(-1, self.grid_size[0], self.grid_size[1], width).permute(0, 3, 1, 2)
        pos = F.interpolate(pos.to(x.dtype), size=[h, w], mode="bicubic", align_corners=False)
        pos = pos.permute(0, 2, 3, 1).flatten(1, 2).reshape(1, -1, width)
        x = x + pos.expand(b, -1, -1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        x = x.reshape(b, t, h, w, -1).permute(0, 4, 1, 2, 3).mean(dim=2)
        pooled = roi_align(x, rois, (7, 7), 1.0 / 16, 0)  # sampling_ratio 0, aligned=False
        pooled = self.max_pooler(pooled).view(pooled.size(0), -1)
        return self.head(pooled)


def randomize(model, generator):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=generator))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            elif name == "head.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=generator))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))


def read_frames(path):
    capture = cv2.VideoCapture(path)
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames, fps


def official_clip(frames, key):
    """AVAVideoDataset._decode_video_data's 64-frame window (left 32 incl. nothing after key-1, right 32 from key), TemporalCrop."""
    span = FRAME_NUM * SAMPLE_RATE
    right, left = span // 2, span - span // 2
    window = list(range(key - left, key + right))
    assert window[0] >= 0 and window[-1] < len(frames), "keyframe too near the ends for this golden"
    start = (len(window) - FRAME_NUM * SAMPLE_RATE) // 2 + (SAMPLE_RATE - 1) // 2
    idx = np.clip(np.arange(start, start + FRAME_NUM * SAMPLE_RATE, SAMPLE_RATE), 0, len(window) - 1)
    return [window[i] for i in idx]


def resize_size(h, w, size):
    if (w <= h and w == size) or (h <= w and h == size):
        return (w, h)
    return (size, int(size * h / w)) if w < h else (int(size * w / h), size)


def test_boxes(boxes, orig_wh, new_wh):
    b = torch.tensor(boxes, dtype=torch.float32)
    b[:, 0].clamp_(0, orig_wh[0] - 1); b[:, 1].clamp_(0, orig_wh[1] - 1)
    b[:, 2].clamp_(0, orig_wh[0] - 1); b[:, 3].clamp_(0, orig_wh[1] - 1)
    rw, rh = new_wh[0] / orig_wh[0], new_wh[1] / orig_wh[1]
    b = b * torch.tensor([rw, rh, rw, rh], dtype=torch.float32)
    w, h = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
    pw, ph = TEST_EXT[0] * w / 2, TEST_EXT[1] * h / 2
    e = torch.stack([b[:, 0] - pw, b[:, 1] - ph, b[:, 2] + pw, b[:, 3] + ph], dim=1)
    e[:, 0].clamp_(0, new_wh[0] - 1); e[:, 1].clamp_(0, new_wh[1] - 1)
    e[:, 2].clamp_(0, new_wh[0] - 1); e[:, 3].clamp_(0, new_wh[1] - 1)
    return e


def main():
    video = sys.argv[1] if len(sys.argv) > 1 else VIDEO
    os.makedirs(OUT, exist_ok=True)
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = AvaViT()
    randomize(model, generator)

    # One real AdamW step (on a random clip and box), so the checkpoint carries a real optimizer state.
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    model.train()
    clip = torch.randn(1, 3, FRAMES, 64, 64, generator=generator)
    target = (torch.rand(1, CLASSES, generator=generator) > 0.9).float()
    loss = F.binary_cross_entropy_with_logits(model(clip, torch.tensor([[0, 4.0, 4.0, 50.0, 60.0]])), target)
    loss.backward()
    optimizer.step()
    model.eval()
    ema = AvaViT()
    ema.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))

    args = argparse.Namespace(
        model="vit_base_patch16_224", batch_size=8, epochs=30, update_freq=1, save_ckpt_freq=5, input_size=224, drop_path=0.2,
        opt="adamw", lr=2.5e-4, layer_decay=0.75, weight_decay=0.05, warmup_epochs=5, model_ema=True, model_ema_decay=0.9999,
        finetune="vit_b_k400_pt_1200e_k710_ft.pth", data_path="data/ava", nb_classes=CLASSES, num_frames=FRAMES, sampling_rate=SAMPLE_RATE,
        output_dir="output/ava", seed=0, dist_eval=True, enable_deepspeed=False,
    )
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 17}
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 29, "scaler": scaler, "args": args,
                  "model_ema": ema.state_dict()}
    assert "pos_embed" not in checkpoint["model"] and not any(k.startswith("fc_norm") for k in checkpoint["model"])
    torch.save(checkpoint, os.path.join(OUT, "ava-tiny.pth"))

    frames, fps = read_frames(video)
    key = int(round(KEYFRAME_SECONDS * fps))
    indices = official_clip(frames, key)
    h0, w0 = frames[0].shape[:2]
    ow, oh = resize_size(h0, w0, MIN_SIZE)
    resized = np.stack([cv2.resize(frames[i], (ow, oh)) for i in indices])  # INTER_LINEAR
    tensor = torch.from_numpy(resized.transpose((3, 0, 1, 2)).astype(np.float32))
    for c in range(3):
        tensor[c].sub_(PIXEL_MEAN[c]).div_(PIXEL_STD[c])
    ph, pw = int(math.ceil(oh / DIVISIBLE) * DIVISIBLE), int(math.ceil(ow / DIVISIBLE) * DIVISIBLE)
    padded = torch.zeros(1, 3, FRAME_NUM, ph, pw, dtype=torch.float32)
    padded[0, :, :, :oh, :ow] = tensor

    kept = [b for b in BOXES if b[4] >= 0.8]  # the official box_thresh
    rois = test_boxes([b[:4] for b in kept], (w0, h0), (ow, oh))
    rois = torch.cat([torch.zeros(len(kept), 1), rois], dim=1)
    scores = {}
    for key_name, net in (("model", model), ("model_ema", ema)):
        with torch.no_grad():
            logits = net.double()(padded.double(), rois.double())
        scores[key_name] = torch.sigmoid(logits).tolist()

    golden = {
        "video": os.path.basename(video), "fps": fps, "frameCount": len(frames), "size": [w0, h0],
        "keyframeSeconds": KEYFRAME_SECONDS, "keyframe": key, "frames": [int(i) for i in indices],
        "content": [ow, oh], "input": [pw, ph],
        "boxesPixels": BOXES, "kept": [i for i, b in enumerate(BOXES) if b[4] >= 0.8],
        "rois": rois[:, 1:].tolist(),
        "scores": scores["model"], "scoresEma": scores["model_ema"],
        "architecture": {"depth": DEPTH, "embedDim": WIDTH, "numHeads": HEADS, "patchSize": PATCH, "numFrames": FRAMES, "imageSize": IMG},
    }
    with open(os.path.join(OUT, "vtest-ava.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: keyframe {key}, frames {indices[0]}..{indices[-1]}, content {ow}x{oh}, input {pw}x{ph}, {len(kept)} boxes")


if __name__ == "__main__":
    main()
