#!/usr/bin/python3
"""Exports the PyTorch reference ViT (tools/make_parity_fixture.py) with torch.onnx.export, as a
speed baseline for our own exporter: `npm run bench` runs both graphs on ONNX Runtime in one run.

Needs Debian's python3-torch:  /usr/bin/python3 tools/export_torch_vit.py OUT.onnx [small|base]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixture import VideoMAEv2Backbone  # noqa: E402

SIZES = {
    "small": dict(embedDim=384, depth=12, numHeads=6, mlpHiddenDim=1536),
    "base": dict(embedDim=768, depth=12, numHeads=12, mlpHiddenDim=3072),
}


def main():
    out = sys.argv[1]
    size = sys.argv[2] if len(sys.argv) > 2 else "small"
    config = dict(arch=f"vit_{size}_patch16_224", patchSize=16, tubeletSize=2, numFrames=16,
                  imageHeight=224, imageWidth=224, numClasses=400, layerNormEps=1e-6, **SIZES[size])
    torch.manual_seed(0)
    model = VideoMAEv2Backbone(config).float().eval()
    video = torch.randn(1, 3, 16, 224, 224)
    torch.onnx.export(model, (video,), out, input_names=["video"], output_names=["logits", "features", "tokens"],
                      dynamic_axes={"video": {0: "batch"}}, opset_version=17, do_constant_folding=True)
    print(f"wrote {out} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
