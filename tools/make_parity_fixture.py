#!/usr/bin/python3
"""Writes the ONNX parity fixture: a small VideoMAE V2 model, an input and the expected outputs.

An independent PyTorch implementation of the VideoMAE V2 fine-tuning backbone, written from the
facts in DESIGN.md (not from our TypeScript exporter): tube patch embedding (Conv3d 2 x p x p),
fixed 1-D sinusoid positions, pre-norm blocks with qkv + (q_bias, 0, v_bias), exact GELU,
LayerNorm eps 1e-6, mean pooling, fc_norm, head. It runs in float64 and stores float32.

Needs Debian's python3-torch:  /usr/bin/python3 tools/make_parity_fixture.py [out_dir]
Writes model.json, weights.safetensors (official state_dict names) and io.safetensors
(input `video`, expected `logits`, `features`, `tokens`). CI reads the committed files only.
"""
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = dict(
    arch="vit_tiny_test", patchSize=16, tubeletSize=2, embedDim=64, depth=2, numHeads=4,
    mlpHiddenDim=256, numFrames=4, imageHeight=32, imageWidth=48, numClasses=10, layerNormEps=1e-6,
)
BATCH = 2
SEED = 20230327


def sinusoid_table(n_position, d_hid):
    angles = np.array([[pos / np.power(10000, 2 * (j // 2) / d_hid) for j in range(d_hid)]
                       for pos in range(n_position)])
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    return torch.tensor(angles, dtype=torch.float64).unsqueeze(0)


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
        b, n, c = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # approximate='none' is the erf form


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch, tubelet):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch))

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VideoMAEv2Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["embedDim"]
        self.patch_embed = PatchEmbed(d, c["patchSize"], c["tubeletSize"])
        n = (c["numFrames"] // c["tubeletSize"]) * (c["imageHeight"] // c["patchSize"]) * (c["imageWidth"] // c["patchSize"])
        self.register_buffer("pos_embed", sinusoid_table(n, d), persistent=False)
        self.blocks = nn.ModuleList([Block(d, c["numHeads"], c["mlpHiddenDim"], c["layerNormEps"]) for _ in range(c["depth"])])
        self.fc_norm = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.head = nn.Linear(d, c["numClasses"])

    def forward(self, video):
        x = self.patch_embed(video) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        features = self.fc_norm(x.mean(1))
        return self.head(features), features, x


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, tensor in tensors.items():
        data = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "parity-tiny")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    model = VideoMAEv2Backbone(CONFIG).double()
    # Random everything (biases, q/v biases and LayerNorm gains too), so that a dropped or
    # misplaced parameter shows in the outputs.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "fc_norm.weight":
                param.copy_(1 + 0.2 * torch.randn_like(param))
            else:
                param.copy_(0.15 * torch.randn_like(param))
        # Round the weights to float32 first, so that TypeScript and PyTorch see identical values.
        for param in model.parameters():
            param.copy_(param.to(torch.float32).to(torch.float64))

    state = {k: v for k, v in model.state_dict().items()}
    weights_path = os.path.join(out, "weights.safetensors")
    write_safetensors(weights_path, state)

    c = CONFIG
    video = torch.randn(BATCH, 3, c["numFrames"], c["imageHeight"], c["imageWidth"]).to(torch.float64)
    with torch.no_grad():
        logits, features, tokens = model(video)
    write_safetensors(os.path.join(out, "io.safetensors"),
                      {"video": video, "logits": logits, "features": features, "tokens": tokens})

    sha = hashlib.sha256(open(weights_path, "rb").read()).hexdigest()
    manifest = {
        "schemaVersion": 1,
        "name": "parity-tiny",
        "task": "classification",
        "description": "Parity fixture written by tools/make_parity_fixture.py (PyTorch reference, float64).",
        "architecture": c,
        "preprocessing": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "shortSide": 32, "cropSize": 32},
        "sampling": {"protocol": "fast"},
        "files": {"weights": {"path": "weights.safetensors", "sha256": sha}, "onnx": {"path": "model.onnx"}},
        "provenance": {"source": "random-init", "trained": False, "seed": SEED, "metrics": {},
                       "note": f"torch {torch.__version__}"},
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: logits[0,:3]={logits[0, :3].tolist()}")


if __name__ == "__main__":
    main()
