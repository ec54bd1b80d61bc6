#!/usr/bin/python3
"""Writes model folders in the Hugging Face transformers VideoMAE layout, for
`videomae import-checkpoint --format hf` and `videomae pull`.

The numbers come from the independent PyTorch model in make_parity_fixture.py (random weights),
run with the semantics of transformers' VideoMAEForVideoClassification: block LayerNorms use
config.layer_norm_eps (1e-12, the transformers default that the MCG-NJU conversions keep),
fc_norm is a plain nn.LayerNorm (eps 1e-5). The weights are renamed to the transformers names by
a module tree that has exactly those names, so pytorch_model.bin is what
`torch.save(model.state_dict())` writes (an OrderedDict with _metadata).

  classify/   VideoMAEForVideoClassification: config.json (as transformers writes it, id2label
              with string keys), model.safetensors ({"format": "pt"} metadata), pytorch_model.bin,
              preprocessor_config.json (VideoMAEImageProcessor)
  pretrain/   VideoMAEForPreTraining: encoder + videomae.layernorm + decoder, encoder_to_decoder,
              mask_token; model.safetensors only, no preprocessor_config.json
  io.safetensors  input `video` [B,3,T,H,W], expected `logits` and `features` of classify/,
              `features_pretrain` (the pretrain encoder, mean-pooled, with a fresh fc_norm of
              eps 1e-5, as our import starts it)

  /usr/bin/python3 tools/make_hf_fixture.py [out_dir]   (default test/fixtures/hf)
"""
import collections
import json
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixture import VideoMAEv2Backbone, write_safetensors  # noqa: E402

C = dict(arch="custom", patchSize=8, tubeletSize=2, embedDim=32, depth=2, numHeads=2, mlpHiddenDim=128,
         numFrames=4, imageHeight=16, imageWidth=16, numClasses=5, layerNormEps=1e-12)
LABELS = ["abseiling", "air drumming", "answering questions", "applauding", "applying cream"]
SEED = 20240515
FC_NORM_EPS = 1e-5
ROOT = os.path.join(os.path.dirname(__file__), "..")


class SelfAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(d))
        self.v_bias = nn.Parameter(torch.zeros(d))


class Dense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class Attention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attention = SelfAttention(d)
        self.output = Dense(d, d)


class Layer(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.attention = Attention(d)
        self.intermediate = Dense(d, hidden)
        self.output = Dense(hidden, d)
        self.layernorm_before = nn.LayerNorm(d)
        self.layernorm_after = nn.LayerNorm(d)


class PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        k = (c["tubeletSize"], c["patchSize"], c["patchSize"])
        self.projection = nn.Conv3d(3, c["embedDim"], kernel_size=k, stride=k)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.patch_embeddings = PatchEmbeddings(c)


class Encoder(nn.Module):
    def __init__(self, c, depth, d, hidden):
        super().__init__()
        self.layer = nn.ModuleList([Layer(d, hidden) for _ in range(depth)])


class VideoMAEModel(nn.Module):
    def __init__(self, c, final_norm):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c, c["depth"], c["embedDim"], c["mlpHiddenDim"])
        if final_norm:
            self.layernorm = nn.LayerNorm(c["embedDim"])


class ForVideoClassification(nn.Module):
    """Only the names and shapes of transformers' class (the maths is VideoMAEv2Backbone's)."""

    def __init__(self, c):
        super().__init__()
        self.videomae = VideoMAEModel(c, final_norm=False)
        self.fc_norm = nn.LayerNorm(c["embedDim"])
        self.classifier = nn.Linear(c["embedDim"], c["numClasses"])


class Decoder(nn.Module):
    def __init__(self, c, d, hidden):
        super().__init__()
        self.decoder_layers = nn.ModuleList([Layer(d, hidden) for _ in range(1)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3 * c["tubeletSize"] * c["patchSize"] ** 2)


class ForPreTraining(nn.Module):
    def __init__(self, c, dd=16):
        super().__init__()
        self.videomae = VideoMAEModel(c, final_norm=True)
        self.encoder_to_decoder = nn.Linear(c["embedDim"], dd, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder = Decoder(c, dd, 4 * dd)


def randomize(module):
    with torch.no_grad():
        for name, param in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                param.copy_(1 + 0.2 * torch.randn_like(param))
            else:
                param.copy_(0.15 * torch.randn_like(param))
            param.copy_(param.to(torch.float32).to(torch.float64))


def copy_encoder(ref, hf_model):
    """The reference model's weights under transformers' names (qkv split into query/key/value)."""
    d = ref.config["embedDim"]
    with torch.no_grad():
        hf_model.embeddings.patch_embeddings.projection.weight.copy_(ref.patch_embed.proj.weight)
        hf_model.embeddings.patch_embeddings.projection.bias.copy_(ref.patch_embed.proj.bias)
        for blk, layer in zip(ref.blocks, hf_model.encoder.layer):
            w = blk.attn.qkv.weight
            layer.attention.attention.query.weight.copy_(w[:d])
            layer.attention.attention.key.weight.copy_(w[d:2 * d])
            layer.attention.attention.value.weight.copy_(w[2 * d:])
            layer.attention.attention.q_bias.copy_(blk.attn.q_bias)
            layer.attention.attention.v_bias.copy_(blk.attn.v_bias)
            layer.attention.output.dense.load_state_dict(blk.attn.proj.state_dict())
            layer.intermediate.dense.load_state_dict(blk.mlp.fc1.state_dict())
            layer.output.dense.load_state_dict(blk.mlp.fc2.state_dict())
            layer.layernorm_before.load_state_dict(blk.norm1.state_dict())
            layer.layernorm_after.load_state_dict(blk.norm2.state_dict())


def hf_config(c, architectures, use_mean_pooling, labels):
    """config.json the way PretrainedConfig.to_json_string writes it (sorted keys, indent 2)."""
    id2label = {str(i): name for i, name in enumerate(labels)} if labels else {"0": "LABEL_0", "1": "LABEL_1"}
    config = {
        "architectures": architectures,
        "attention_probs_dropout_prob": 0.0,
        "decoder_hidden_size": 16,
        "decoder_intermediate_size": 64,
        "decoder_num_attention_heads": 2,
        "decoder_num_hidden_layers": 1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": c["embedDim"],
        "id2label": id2label,
        "image_size": c["imageHeight"],
        "initializer_range": 0.02,
        "intermediate_size": c["mlpHiddenDim"],
        "label2id": {name: int(i) for i, name in id2label.items()},
        "layer_norm_eps": c["layerNormEps"],
        "model_type": "videomae",
        "norm_pix_loss": True,
        "num_attention_heads": c["numHeads"],
        "num_channels": 3,
        "num_frames": c["numFrames"],
        "num_hidden_layers": c["depth"],
        "patch_size": c["patchSize"],
        "qkv_bias": True,
        "torch_dtype": "float32",
        "transformers_version": "4.40.0",
        "tubelet_size": c["tubeletSize"],
        "use_mean_pooling": use_mean_pooling,
    }
    if labels:
        config["problem_type"] = "single_label_classification"
    return json.dumps(dict(sorted(config.items())), indent=2) + "\n"


def save_safetensors(path, state):
    """safetensors as transformers' save_pretrained writes it: F32, {"format": "pt"} metadata."""
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(state):
        data = state[name].detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(state[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def float32_state(module):
    state = module.state_dict()
    out = collections.OrderedDict((k, v.to(torch.float32)) for k, v in state.items())
    out._metadata = state._metadata  # what torch.save(model.state_dict()) carries
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "hf")
    torch.manual_seed(SEED)
    ref = VideoMAEv2Backbone(C).double()
    ref.config = C
    randomize(ref)
    ref.fc_norm.eps = FC_NORM_EPS
    video = torch.randn(2, 3, C["numFrames"], C["imageHeight"], C["imageWidth"]).to(torch.float64)
    with torch.no_grad():
        logits, features, tokens = ref(video)

    hf = ForVideoClassification(C).double()
    copy_encoder(ref, hf.videomae)
    hf.fc_norm.load_state_dict(ref.fc_norm.state_dict())
    hf.classifier.load_state_dict(ref.head.state_dict())
    classify = os.path.join(out, "classify")
    os.makedirs(classify, exist_ok=True)
    state = float32_state(hf)
    save_safetensors(os.path.join(classify, "model.safetensors"), state)
    torch.save(state, os.path.join(classify, "pytorch_model.bin"))
    with open(os.path.join(classify, "config.json"), "w") as f:
        f.write(hf_config(C, ["VideoMAEForVideoClassification"], True, LABELS))
    with open(os.path.join(classify, "preprocessor_config.json"), "w") as f:
        json.dump({
            "crop_size": {"height": C["imageHeight"], "width": C["imageWidth"]},
            "do_center_crop": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "VideoMAEImageProcessor",
            "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 1 / 255,
            "size": {"shortest_edge": 20},
        }, f, indent=2)
        f.write("\n")

    torch.manual_seed(SEED + 1)
    pre = ForPreTraining(C).double()
    randomize(pre)
    copy_encoder(ref, pre.videomae)
    pretrain = os.path.join(out, "pretrain")
    os.makedirs(pretrain, exist_ok=True)
    save_safetensors(os.path.join(pretrain, "model.safetensors"), float32_state(pre))
    with open(os.path.join(pretrain, "config.json"), "w") as f:
        f.write(hf_config(C, ["VideoMAEForPreTraining"], False, None))
    with torch.no_grad():
        ref.fc_norm.weight.fill_(1)
        ref.fc_norm.bias.zero_()
        features_pretrain = ref(video)[1]

    write_safetensors(os.path.join(out, "io.safetensors"),
                      {"video": video, "logits": logits, "features": features, "features_pretrain": features_pretrain})
    print(f"wrote {out}: logits[0,:3]={logits[0, :3].tolist()}")


if __name__ == "__main__":
    main()
