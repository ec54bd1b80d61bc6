#!/usr/bin/python3
"""Writes PyTorch checkpoints in the official VideoMAE V2 layouts, for `videomae import-checkpoint`.

The model is the independent PyTorch implementation in make_parity_fixture.py (written from
DESIGN.md's facts, not from our TypeScript), with random weights, saved by torch.save the way the
official code saves them:
  finetune-module.pth   {'module': state_dict}, float32; two tensors are views that share one
                        storage (offset) and the head weight is a transposed view (strides)
  finetune-encoder.pth  {'model': {'encoder.' + k: v}}, float32
  finetune-fp16.pth     {'state_dict': {'_orig_mod.' + k: v.half()}}
  finetune-bf16.pth     {'model': {'module.' + k: v.bfloat16()}}
  pretrain.pth          {'model': encoder.* + decoder.* + encoder_to_decoder + mask_token,
                         'args': argparse.Namespace, 'epoch': 799, 'param_shapes': OrderedDict of
                         torch.Size, 'frozen': a set} (modeling_pretrain.py names, DeepSpeed extras)
  legacy.pth            the pre-1.6 non-zip format
  hostile-global.pth    a torch zip whose pickle names posix.system
  hostile-short-storage.pth  a storage cut shorter than its tensors need
plus io.safetensors: the input `video` and the outputs PyTorch computes (float64 maths on the
stored weights): logits (710 classes), features, logits_fp16 / logits_bf16 (weights rounded to
that type), features_pretrain (encoder of pretrain.pth with a fresh fc_norm, as fine-tuning starts).

  /usr/bin/python3 tools/make_checkpoint_fixtures.py [tiny|small] [out_dir]

`tiny` (committed, test/fixtures/checkpoints): ViT 32 wide, 2 deep, 2 heads, patch 8, 4 frames
of 16x16, 710 classes. `small` / `base` (benchmarks, data/fixtures/vit-<size>, not committed):
ViT-S / ViT-B, 16x224x224, 710 classes, finetune-module.pth and io.safetensors only.
"""
import argparse
import collections
import json
import os
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixture import Block, VideoMAEv2Backbone, write_safetensors  # noqa: E402

CONFIGS = {
    "tiny": dict(arch="vit_small_patch16_224", patchSize=8, tubeletSize=2, embedDim=32, depth=2, numHeads=2,
                 mlpHiddenDim=128, numFrames=4, imageHeight=16, imageWidth=16, numClasses=710, layerNormEps=1e-6,
                 decoder=dict(embedDim=16, depth=1, numHeads=2, mlpHiddenDim=64)),
    "small": dict(arch="vit_small_patch16_224", patchSize=16, tubeletSize=2, embedDim=384, depth=12, numHeads=6,
                  mlpHiddenDim=1536, numFrames=16, imageHeight=224, imageWidth=224, numClasses=710, layerNormEps=1e-6),
    "base": dict(arch="vit_base_patch16_224", patchSize=16, tubeletSize=2, embedDim=768, depth=12, numHeads=12,
                 mlpHiddenDim=3072, numFrames=16, imageHeight=224, imageWidth=224, numClasses=710, layerNormEps=1e-6),
}
SEED = 20230401
ROOT = os.path.join(os.path.dirname(__file__), "..")


def randomize(model):
    """Random everything, so a dropped or misplaced parameter shows; rounded to float32."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm.weight"):
                param.copy_(1 + 0.2 * torch.randn_like(param))
            else:
                param.copy_(0.15 * torch.randn_like(param))
            param.copy_(param.to(torch.float32).to(torch.float64))


def rounded(model, dtype):
    """A copy of the float64 model whose weights went through `dtype` (what a half checkpoint holds)."""
    copy = VideoMAEv2Backbone(model.config).double()
    copy.load_state_dict({k: v.to(dtype).to(torch.float64) for k, v in model.state_dict().items()})
    return copy


def finetune_state(model):
    return {k: v.to(torch.float32) for k, v in model.state_dict().items()}


def with_views(state, d):
    """Same values, stored the awkward ways torch allows: shared storage with offsets, strides."""
    out = dict(state)
    qv = torch.stack([state["blocks.0.attn.q_bias"], state["blocks.0.attn.v_bias"]])
    out["blocks.0.attn.q_bias"], out["blocks.0.attn.v_bias"] = qv[0], qv[1]
    head_t = state["head.weight"].t().contiguous()
    out["head.weight"] = head_t.t()
    assert not out["head.weight"].is_contiguous() and out["blocks.0.attn.v_bias"].storage_offset() == d
    return out


class Decoder(torch.nn.Module):
    """modeling_pretrain.py's decoder: blocks, norm, head predicting 3 x tubelet x p x p values."""

    def __init__(self, c, dc):
        super().__init__()
        self.blocks = torch.nn.ModuleList([Block(dc["embedDim"], dc["numHeads"], dc["mlpHiddenDim"], 1e-6)
                                           for _ in range(dc["depth"])])
        self.norm = torch.nn.LayerNorm(dc["embedDim"], eps=1e-6)
        self.head = torch.nn.Linear(dc["embedDim"], 3 * c["tubeletSize"] * c["patchSize"] ** 2)


def pretrain_state(model, c):
    torch.manual_seed(SEED + 1)
    dc = c["decoder"]
    decoder = Decoder(c, dc)
    randomize(decoder)
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("fc_norm.") or k.startswith("head."):
            continue  # the pretraining encoder has a final norm instead, and no head
        state["encoder." + k] = v.to(torch.float32)
    state["encoder.norm.weight"] = (1 + 0.2 * torch.randn(c["embedDim"])).to(torch.float32)
    state["encoder.norm.bias"] = (0.1 * torch.randn(c["embedDim"])).to(torch.float32)
    for k, v in decoder.state_dict().items():
        state["decoder." + k] = v.to(torch.float32)
    state["encoder_to_decoder.weight"] = (0.1 * torch.randn(dc["embedDim"], c["embedDim"])).to(torch.float32)
    state["mask_token"] = (0.02 * torch.randn(1, 1, dc["embedDim"])).to(torch.float32)
    return state


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this checkpoint ran code",))


def cut_storage(src, dst):
    """Copies a torch zip, cutting its largest storage in half."""
    with zipfile.ZipFile(src) as zin:
        storages = [i for i in zin.infolist() if "/data/" in i.filename]
        largest = max(storages, key=lambda i: i.file_size)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename == largest.filename:
                    data = data[: len(data) // 2]
                zout.writestr(info.filename, data)


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    torch.set_num_threads(os.cpu_count() or 1)
    default_out = os.path.join(ROOT, "test", "fixtures", "checkpoints") if size == "tiny" else os.path.join(ROOT, "data", "fixtures", f"vit-{size}")
    out = sys.argv[2] if len(sys.argv) > 2 else default_out
    os.makedirs(out, exist_ok=True)
    c = CONFIGS[size]
    torch.manual_seed(SEED)
    model = VideoMAEv2Backbone(c).double()
    model.config = c
    randomize(model)
    state = finetune_state(model)
    video = torch.randn(2, 3, c["numFrames"], c["imageHeight"], c["imageWidth"]).to(torch.float64)
    with torch.no_grad():
        logits, features, _ = model(video)
    expected = {"video": video, "logits": logits, "features": features}
    torch.save({"module": with_views(state, c["embedDim"])}, os.path.join(out, "finetune-module.pth"))

    if size == "tiny":
        torch.save({"model": {"encoder." + k: v for k, v in state.items()}}, os.path.join(out, "finetune-encoder.pth"))
        torch.save({"state_dict": {"_orig_mod." + k: v.half() for k, v in state.items()}}, os.path.join(out, "finetune-fp16.pth"))
        torch.save({"model": {"module." + k: v.bfloat16() for k, v in state.items()}}, os.path.join(out, "finetune-bf16.pth"))
        with torch.no_grad():
            expected["logits_fp16"] = rounded(model, torch.float16)(video)[0]
            expected["logits_bf16"] = rounded(model, torch.bfloat16)(video)[0]

        pre = pretrain_state(model, c)
        args = argparse.Namespace(model="pretrain_videomae_tiny", mask_ratio=0.9, decoder_mask_ratio=0.5)
        # DeepSpeed-style extras: torch.Size values and a set, which a strict reader must still parse.
        shapes = collections.OrderedDict((k, v.shape) for k, v in list(pre.items())[:3])
        torch.save({"model": pre, "args": args, "epoch": 799, "param_shapes": shapes, "frozen": {"mask_token"}},
                   os.path.join(out, "pretrain.pth"))
        encoder = VideoMAEv2Backbone(c).double()
        encoder.load_state_dict({k: v for k, v in model.state_dict().items()})
        with torch.no_grad():
            encoder.fc_norm.weight.fill_(1)
            encoder.fc_norm.bias.zero_()
            expected["features_pretrain"] = encoder(video)[1]

        torch.save({"w": torch.zeros(2)}, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
        torch.save({"model": {"patch_embed.proj.bias": torch.zeros(2)}, "evil": Evil()}, os.path.join(out, "hostile-global.pth"))
        cut_storage(os.path.join(out, "finetune-module.pth"), os.path.join(out, "hostile-short-storage.pth"))

    write_safetensors(os.path.join(out, "io.safetensors"), expected)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({**c, "seed": SEED, "torch": torch.__version__}, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: logits[0,:3]={logits[0, :3].tolist()}")


if __name__ == "__main__":
    main()
