#!/usr/bin/python3
"""Writes PyTorch checkpoints in the official VideoMAE V2 layouts, for `videomae import-checkpoint`.

The model is the independent PyTorch implementation in make_parity_fixture.py (written from
DESIGN.md's facts, not from our TypeScript), with random weights, saved by torch.save the way the
official code saves them:
Every state dict is what model.state_dict() returns (an OrderedDict with `_metadata`), float32
unless said otherwise:
  finetune-module.pth   DeepSpeed's model states: {'module': state_dict, 'buffer_names', 'param_shapes'
                        (OrderedDicts of torch.Size), 'sparse_tensor_module_names' (a set),
                        'ds_config', 'ds_version', ...}; two tensors are views that share one storage
                        (offset) and the head weight is a transposed view (strides)
  finetune-full.pth     run_class_finetuning's utils.save_model: {'model', 'optimizer' (AdamW after one
                        step), 'epoch', 'scaler', 'args' (argparse.Namespace with numpy scalars and a
                        numpy dtype), 'model_ema' (other weights: logits_ema)}
  finetune-timm.pth     timm's CheckpointSaver: {'state_dict' and 'state_dict_ema' with `backbone.`
                        keys, 'optimizer' (SGD), 'epoch', 'arch', 'version', 'args', 'metric' (np.float64)}
  finetune-parameters.pth  {'model': {'encoder.' + k: nn.Parameter}} (torch._utils._rebuild_parameter)
  finetune-fp16.pth     {'state_dict': compiled model (`_orig_mod.`), .half()}
  finetune-bf16.pth     {'model': DDP-wrapped model (`module.`), .bfloat16()}
  legacy.pth            torch.save(state_dict, _use_new_zipfile_serialization=False): the pre-1.6 format
  pretrain.pth          DeepSpeed's layout of modeling_pretrain.py's state dict (encoder.* + decoder.* +
                        encoder_to_decoder + mask_token), plus 'args' and 'epoch'
  hostile-*.pth         pickles naming posix.system, builtins.eval, functools.partial, numpy.load,
                        numpy's _reconstruct (an ndarray), or calling allowed globals with what
                        torch.save never passes (_rebuild_tensor_v2 on a string, _codecs.encode
                        with rot13, a numpy scalar of dtype object)
  hostile-short-storage.pth  a storage cut shorter than its tensors need
plus io.safetensors: the input `video` and the outputs PyTorch computes (float64 maths on the
stored weights): logits (710 classes), features, logits_ema, logits_fp16 / logits_bf16 (weights
rounded to that type), features_pretrain (encoder of pretrain.pth with a fresh fc_norm, as
fine-tuning starts).

  /usr/bin/python3 tools/make_checkpoint_fixtures.py [tiny|small] [out_dir]

`tiny` (committed, test/fixtures/checkpoints): ViT 32 wide, 2 deep, 2 heads, patch 8, 4 frames
of 16x16, 710 classes. `small` / `base` (benchmarks, data/fixtures/vit-<size>, not committed):
ViT-S / ViT-B, 16x224x224, 710 classes, finetune-module.pth and io.safetensors only.
"""
import argparse
import codecs
import collections
import copy
import functools
import json
import os
import struct
import sys
import zipfile

import numpy as np
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


def float32_copy(model):
    """The float64 reference model as float32 (exact: its weights were rounded to float32)."""
    return copy.deepcopy(model).float()


def with_views(state, d):
    """Same values, stored the awkward ways torch allows: shared storage with offsets, strides.
    Still the OrderedDict state_dict() returned, `_metadata` included."""
    out = collections.OrderedDict(state)
    out._metadata = state._metadata
    qv = torch.stack([state["blocks.0.attn.q_bias"], state["blocks.0.attn.v_bias"]])
    out["blocks.0.attn.q_bias"], out["blocks.0.attn.v_bias"] = qv[0], qv[1]
    head_t = state["head.weight"].t().contiguous()
    out["head.weight"] = head_t.t()
    assert not out["head.weight"].is_contiguous() and out["blocks.0.attn.v_bias"].storage_offset() == d
    return out


class Wrapper(torch.nn.Module):
    """What DDP (`module.`), torch.compile (`_orig_mod.`) or a detector (`backbone.`) put around a
    model: its state_dict() prefixes every key."""

    def __init__(self, attribute, inner):
        super().__init__()
        setattr(self, attribute, inner)


def ema_of(model):
    """model_ema: the same network with slightly different weights (rounded to float32)."""
    ema = copy.deepcopy(model)
    torch.manual_seed(SEED + 2)
    with torch.no_grad():
        for param in ema.parameters():
            param.add_(0.01 * torch.randn_like(param))
            param.copy_(param.to(torch.float32).to(torch.float64))
    return ema


def stepped_optimizer(model32, c, kind):
    """A real optimizer's state_dict after one real step (on a throwaway copy of the model):
    int keys, per-parameter tensors, param_groups as run_class_finetuning builds them."""
    net = copy.deepcopy(model32)
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in net.named_parameters() if p.ndim <= 1]
    groups = [{"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0}, {"params": decay, "weight_decay": 0.05, "lr_scale": 0.75}]
    if kind == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    else:
        optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    torch.manual_seed(SEED + 3)
    video = torch.randn(1, 3, c["numFrames"], c["imageHeight"], c["imageWidth"])
    net(video)[0].logsumexp(1).sum().backward()
    optimizer.step()
    return optimizer.state_dict()


def finetuning_args():
    """run_class_finetuning's argparse.Namespace: every kind of value it holds, numpy ones included."""
    return argparse.Namespace(
        batch_size=4, epochs=35, update_freq=1, save_ckpt_freq=10, model="vit_small_patch16_224",
        tubelet_size=2, input_size=16, drop_path=0.1, model_ema=True, model_ema_decay=0.9999,
        model_ema_force_cpu=False, opt="adamw", opt_eps=1e-8, opt_betas=[0.9, 0.999], clip_grad=None,
        weight_decay=0.05, layer_decay=0.75, lr=np.float64(1e-3), min_lr=1e-6, warmup_epochs=5,
        smoothing=0.1, nb_classes=710, num_frames=16, sampling_rate=4, data_set="Kinetics-710",
        mean=(0.485, 0.456, 0.406), seed=np.int64(0), amp_dtype=np.dtype("float16"), enable_deepspeed=False,
        dist_url="env://", finetune="vit_s_k710_dl_from_giant.pth", start_epoch=0, auto_resume=True,
    )


def deepspeed_layout(state):
    """What DeepSpeed's save_checkpoint writes to mp_rank_00_model_states.pt (VideoMAE V2 pretraining)."""
    return {
        "module": state, "buffer_names": [], "optimizer": None,
        "param_shapes": [collections.OrderedDict((k, v.shape) for k, v in state.items())],
        "frozen_param_shapes": None, "shared_params": {}, "frozen_param_fragments": None,
        "lr_scheduler": None, "sparse_tensor_module_names": set(), "skipped_steps": 0,
        "global_steps": 10, "global_samples": 10, "dp_world_size": 1, "mp_world_size": 1,
        "ds_config": {"train_batch_size": 8, "train_micro_batch_size_per_gpu": 8, "steps_per_print": 1000,
                      "optimizer": {"type": "Adam", "adam_w_mode": True, "params": {"lr": 1e-3, "weight_decay": 0.05, "bias_correction": True, "betas": [0.9, 0.95], "eps": 1e-8}},
                      "fp16": {"enabled": True, "loss_scale": 0, "initial_scale_power": 16, "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1},
                      "bf16": {"enabled": False}, "gradient_clipping": 0.0},
        "ds_version": "0.9.0",
    }


class Decoder(torch.nn.Module):
    """modeling_pretrain.py's decoder: blocks, norm, head predicting 3 x tubelet x p x p values."""

    def __init__(self, c, dc):
        super().__init__()
        self.blocks = torch.nn.ModuleList([Block(dc["embedDim"], dc["numHeads"], dc["mlpHiddenDim"], 1e-6)
                                           for _ in range(dc["depth"])])
        self.norm = torch.nn.LayerNorm(dc["embedDim"], eps=1e-6)
        self.head = torch.nn.Linear(dc["embedDim"], 3 * c["tubeletSize"] * c["patchSize"] ** 2)


class Pretrainer(torch.nn.Module):
    """modeling_pretrain.py's PretrainVisionTransformer: encoder (no fc_norm, no head, a final norm),
    encoder_to_decoder, mask_token, decoder."""

    def __init__(self, model, c):
        super().__init__()
        dc = c["decoder"]
        self.encoder = copy.deepcopy(model).float()
        del self.encoder.fc_norm
        del self.encoder.head
        self.encoder.norm = torch.nn.LayerNorm(c["embedDim"], eps=1e-6)
        self.decoder = Decoder(c, dc)
        self.encoder_to_decoder = torch.nn.Linear(c["embedDim"], dc["embedDim"], bias=False)
        self.mask_token = torch.nn.Parameter(torch.zeros(1, 1, dc["embedDim"]))


def pretrain_state(model, c):
    torch.manual_seed(SEED + 1)
    pretrainer = Pretrainer(model, c)
    with torch.no_grad():
        randomize(pretrainer.decoder)
        pretrainer.encoder.norm.weight.copy_(1 + 0.2 * torch.randn(c["embedDim"]))
        pretrainer.encoder.norm.bias.copy_(0.1 * torch.randn(c["embedDim"]))
        pretrainer.encoder_to_decoder.weight.copy_(0.1 * torch.randn_like(pretrainer.encoder_to_decoder.weight))
        pretrainer.mask_token.copy_(0.02 * torch.randn_like(pretrainer.mask_token))
    return pretrainer.float().state_dict()


class Reduce:
    """An object that unpickles as fn(*args): what a hostile checkpoint hides in its pickle."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


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
    path = lambda name: os.path.join(out, name)  # noqa: E731
    c = CONFIGS[size]
    torch.manual_seed(SEED)
    model = VideoMAEv2Backbone(c).double()
    model.config = c
    randomize(model)
    model32 = float32_copy(model)
    state = model32.state_dict()
    assert isinstance(state, collections.OrderedDict) and hasattr(state, "_metadata")
    video = torch.randn(2, 3, c["numFrames"], c["imageHeight"], c["imageWidth"]).to(torch.float64)
    with torch.no_grad():
        logits, features, _ = model(video)
    expected = {"video": video, "logits": logits, "features": features}
    torch.save({**deepspeed_layout(with_views(state, c["embedDim"]))}, path("finetune-module.pth"))

    if size == "tiny":
        ema = ema_of(model)
        ema32 = float32_copy(ema)
        with torch.no_grad():
            expected["logits_ema"] = ema(video)[0]
        # run_class_finetuning.py -> utils.save_model (without DeepSpeed)
        torch.save({
            "model": state, "optimizer": stepped_optimizer(model32, c, "adamw"), "epoch": 34,
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 0},
            "args": finetuning_args(), "model_ema": ema32.state_dict(),
        }, path("finetune-full.pth"))
        # timm's CheckpointSaver, the fine-tuned model inside a `backbone.` wrapper
        torch.save({
            "epoch": 34, "arch": "vit_small_patch16_224", "state_dict": Wrapper("backbone", model32).state_dict(),
            "optimizer": stepped_optimizer(model32, c, "sgd"), "version": 2, "args": finetuning_args(),
            "state_dict_ema": Wrapper("backbone", ema32).state_dict(), "metric": np.float64(71.25),
        }, path("finetune-timm.pth"))
        # nn.Parameter objects themselves (torch._utils._rebuild_parameter), under `encoder.`
        torch.save({"model": {"encoder." + k: p for k, p in model32.named_parameters()}, "epoch": 1}, path("finetune-parameters.pth"))
        torch.save({"state_dict": Wrapper("_orig_mod", float32_copy(model)).half().state_dict()}, path("finetune-fp16.pth"))
        torch.save({"model": Wrapper("module", float32_copy(model)).bfloat16().state_dict()}, path("finetune-bf16.pth"))
        with torch.no_grad():
            expected["logits_fp16"] = rounded(model, torch.float16)(video)[0]
            expected["logits_bf16"] = rounded(model, torch.bfloat16)(video)[0]
        # the pre-1.6 format, of the real state dict
        torch.save(state, path("legacy.pth"), _use_new_zipfile_serialization=False)

        # VideoMAE V2 pretraining saves through DeepSpeed
        pre = pretrain_state(model, c)
        layout = deepspeed_layout(pre)
        layout["args"] = argparse.Namespace(model="pretrain_videomae_tiny", mask_ratio=0.9, decoder_mask_ratio=0.5)
        layout["epoch"] = 799
        layout["sparse_tensor_module_names"] = {"mask_token"}
        torch.save(layout, path("pretrain.pth"))
        encoder = VideoMAEv2Backbone(c).double()
        encoder.load_state_dict({k: v for k, v in model.state_dict().items()})
        with torch.no_grad():
            encoder.fc_norm.weight.fill_(1)
            encoder.fc_norm.bias.zero_()
            expected["features_pretrain"] = encoder(video)[1]

        small = {"patch_embed.proj.bias": torch.zeros(2)}
        hostile = {
            "hostile-global.pth": Reduce(os.system, ("echo this checkpoint ran code",)),
            "hostile-eval.pth": Reduce(eval, ("__import__('os').system('echo this checkpoint ran code')",)),
            "hostile-partial.pth": Reduce(functools.partial, (print, "this checkpoint ran code")),
            "hostile-numpy-load.pth": Reduce(np.load, ("/etc/passwd", None, True)),
            "hostile-numpy-array.pth": np.array([1.0, 2.0]),
            "hostile-rebuild-tensor.pth": Reduce(torch._utils._rebuild_tensor_v2, ("/etc/passwd", 0, (2,), (1,), False, collections.OrderedDict())),
            # allowed globals, called with what they never get from torch.save
            "hostile-codecs.pth": Reduce(codecs.encode, ("import os", "rot13")),
            "hostile-numpy-scalar.pth": Reduce(np.core.multiarray.scalar, (np.dtype("O"), b"\x00" * 8)),
        }
        for name, evil in hostile.items():
            torch.save({"model": small, "evil": evil}, path(name))
        cut_storage(path("finetune-module.pth"), path("hostile-short-storage.pth"))
        for stale in ["finetune-encoder.pth"]:
            if os.path.exists(path(stale)):
                os.remove(path(stale))

    write_safetensors(path("io.safetensors"), expected)
    with open(path("config.json"), "w") as f:
        json.dump({**c, "seed": SEED, "torch": torch.__version__}, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: logits[0,:3]={logits[0, :3].tolist()}")


if __name__ == "__main__":
    main()
