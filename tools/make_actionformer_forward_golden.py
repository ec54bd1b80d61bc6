#!/usr/bin/env python3
"""
Forward golden of the official ActionFormer (happyharrycn/actionformer_release, libs/modeling):
builds PtTransformer for two small configs, randomises every parameter (constant-initialised ones
too: LayerNorm, biases, Scale, AffineDropPath), runs the official inference path
(preprocessing -> backbone -> neck -> heads) on random features of a short and a long video,
and writes weights, inputs and per-level outputs as JSON for test/train/actionformer-golden.test.ts.

    git --git-dir=/work/.mirror/happyharrycn+actionformer_release/repo archive HEAD | tar -x -C /tmp/af
    /usr/bin/python3 tools/make_actionformer_forward_golden.py --repo /tmp/af --out test/fixtures/actionformer-forward-golden.json

Only the forward is used: libs.utils (the NMS C extension) is replaced by a stub.
"""
import argparse
import json
import sys
import types

import numpy as np
import torch

CONFIGS = {
    # Window 19 on every level (THUMOS), LayerNorms everywhere, drop path (AffineDropPath scales).
    'local19': dict(backbone_arch=(2, 2, 2), n_mha_win_size=19, embd_with_ln=True, fpn_with_ln=True, head_with_ln=True,
                    use_abs_pe=False, droppath=0.1, lengths=(50, 100)),
    # Mixed windows incl. global attention (<= 1), no LayerNorms (biased convs), sinusoid PE, no drop path.
    'mixed': dict(backbone_arch=(1, 1, 2), n_mha_win_size=[19, 5, -1], embd_with_ln=False, fpn_with_ln=False, head_with_ln=False,
                  use_abs_pe=True, droppath=0.0, lengths=(40, 130)),
}
INPUT_DIM, NUM_CLASSES, MAX_SEQ_LEN, EMBD, HEADS = 6, 3, 72, 8, 2


def build(repo, c):
    sys.path.insert(0, repo)
    stub = types.ModuleType('libs.utils')
    stub.batched_nms = None
    sys.modules['libs.utils'] = stub
    from libs.modeling import make_meta_arch  # noqa: E402
    from libs.core.config import DEFAULTS  # noqa: E402
    train_cfg = dict(DEFAULTS['train_cfg'], droppath=c['droppath'])
    return make_meta_arch(
        'LocPointTransformer',
        backbone_type='convTransformer', fpn_type='identity', backbone_arch=c['backbone_arch'], scale_factor=2,
        input_dim=INPUT_DIM, max_seq_len=MAX_SEQ_LEN, max_buffer_len_factor=6.0, n_head=HEADS, n_mha_win_size=c['n_mha_win_size'],
        embd_kernel_size=3, embd_dim=EMBD, embd_with_ln=c['embd_with_ln'], fpn_dim=EMBD, fpn_with_ln=c['fpn_with_ln'], fpn_start_level=0,
        head_dim=EMBD, regression_range=[(0, 4), (4, 8), (8, 10000)][: c['backbone_arch'][2] + 1], head_num_layers=3, head_kernel_size=3,
        head_with_ln=c['head_with_ln'], use_abs_pe=c['use_abs_pe'], use_rel_pe=False, num_classes=NUM_CLASSES,
        train_cfg=train_cfg, test_cfg=DEFAULTS['test_cfg'])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repo', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {'source': 'happyharrycn/actionformer_release libs/modeling, PtTransformer eval forward', 'configs': {}}
    for name, c in CONFIGS.items():
        model = build(args.repo, c)
        model.eval()
        weights = {}
        with torch.no_grad():
            for key, p in model.state_dict().items():
                # Conv weights ~ N(0, 0.5^2); LayerNorm gains ~ 1 + N(0, 0.3^2); the rest (biases, Scale,
                # AffineDropPath) ~ N(0, 0.3^2): nothing keeps its constant init.
                is_norm_gain = key.endswith('weight') and ('norm' in key or '.ln1.' in key or '.ln2.' in key)
                p.copy_(torch.randn_like(p) * (0.5 if key.endswith('conv.weight') else 0.3) + (1.0 if is_norm_gain else 0.0))
                weights[key] = {'shape': list(p.shape), 'data': [round(float(v), 7) for v in p.flatten().tolist()]}
        cases = []
        for length in c['lengths']:
            feats = torch.tensor(rng.standard_normal((INPUT_DIM, length)), dtype=torch.float32)
            with torch.no_grad():
                x, m = model.preprocessing([{'feats': feats}])
                f, fm = model.backbone(x, m)
                f, fm = model.neck(f, fm)
                logits = model.cls_head(f, fm)
                offsets = model.reg_head(f, fm)
            cases.append({
                'valid': length, 'padded': int(x.shape[-1]),
                'feats': [round(float(v), 7) for v in feats.flatten().tolist()],  # [C, T]
                'levels': [{'logits': [round(float(v), 6) for v in lg[0].T.flatten().tolist()],  # [T_l, classes]
                            'offsets': [round(float(v), 6) for v in of[0].T.flatten().tolist()],  # [T_l, 2]
                            'mask': [int(v) for v in mk[0, 0].tolist()]} for lg, of, mk in zip(logits, offsets, fm)],
            })
        out['configs'][name] = {
            'model': {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items() if k != 'lengths'},
            'inputDim': INPUT_DIM, 'numClasses': NUM_CLASSES, 'maxSeqLen': MAX_SEQ_LEN, 'embdDim': EMBD, 'numHeads': HEADS,
            'weights': weights, 'cases': cases,
        }
        for mod in [k for k in sys.modules if k == 'libs' or k.startswith('libs.')]:
            if mod != 'libs.utils':
                del sys.modules[mod]
    with open(args.out, 'w') as fd:
        json.dump(out, fd, separators=(',', ':'))


if __name__ == '__main__':
    main()
