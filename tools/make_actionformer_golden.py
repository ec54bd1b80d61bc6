#!/usr/bin/env python3
"""
Golden fixture for ActionFormer import parity, made by the official code
(happyharrycn/actionformer_release), never by ours:

  1. extracts the official repository (a bare git dir, `git archive HEAD`) into a temp folder and
     compiles its 1-D NMS extension (libs/utils/csrc/nms_cpu.cpp) with torch.utils.cpp_extension;
  2. builds PtTransformer (make_meta_arch('LocPointTransformer', **cfg['model'])) from an
     official-format config YAML read by the official load_config, wrapped in nn.DataParallel as
     train.py does;
  3. randomises every constant-initialised parameter (Scale, AffineDropPath scales, biases,
     LayerNorm weights/biases, the cls prior bias) so a wrongly mapped one cannot hide;
  4. takes one real training step (make_optimizer / make_scheduler / ModelEma, as train.py) so the
     optimizer state is real and state_dict differs from state_dict_ema, and saves the checkpoint
     in save_checkpoint's layout {'epoch', 'state_dict', 'scheduler', 'optimizer', 'state_dict_ema'};
  5. runs the EMA model in eval mode (as eval.py) on random features of 731, 1500 and 2304 steps
     (padded to max_seq_len) and on formula features of 2900 steps (padded past it), and writes
     the official segments (seconds), scores and labels to golden.json (and, on the first video,
     those of hard NMS and of class-agnostic Soft-NMS with voting), plus the raw per-level
     outputs at the valid positions (raw_<id>.npz, the 731-step video by default) for debugging.

Usage: /usr/bin/python3 tools/make_actionformer_golden.py
         [--repo /work/.mirror/happyharrycn+actionformer_release/repo]
         [--config test/fixtures/actionformer/thumos_tiny.yaml] [--out test/fixtures/actionformer]
         [--raw-dir DIR] [--raw-videos 731|all]   (raw per-level outputs, raw_<id>.npz)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DEFAULT_REPO = '/work/.mirror/happyharrycn+actionformer_release/repo'
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LENGTHS = (731, 1500, 2304)
FPS = (30.0, 25.0, 29.97)
# Longer than max_seq_len (padded to a multiple of max_div_factor, not to max_seq_len). Its
# features are a formula, not random, so the fixture need not carry them: the test rebuilds them.
LONG_LENGTH, LONG_FPS = 2900, 30.0
FORMULA = 'sin(0.013 * (t + 1) * (c + 1) + 0.7 * c)'


def formula_features(length, channels):
    """[C, T] float32 of FORMULA (computed in float64, then rounded, as the test does)."""
    t = np.arange(length, dtype=np.float64)[None, :]
    c = np.arange(channels, dtype=np.float64)[:, None]
    return np.sin(0.013 * (t + 1) * (c + 1) + 0.7 * c).astype(np.float32)


def extract(repo, into):
    """The official tree at HEAD, and its commit."""
    if os.path.isdir(os.path.join(repo, '.git')):
        repo = os.path.join(repo, '.git')
    archive = subprocess.run(['git', '--git-dir', repo, 'archive', 'HEAD'], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', into], input=archive, check=True)
    commit = subprocess.run(['git', '--git-dir', repo, 'rev-parse', 'HEAD'], check=True, capture_output=True, text=True).stdout.strip()
    return commit


def compile_nms(src_root, build_dir):
    """libs/utils/setup.py's extension (nms_1d_cpu, -fopenmp), built in place and importable by name."""
    from torch.utils.cpp_extension import load
    os.makedirs(build_dir, exist_ok=True)
    module = load(
        name='nms_1d_cpu',
        sources=[os.path.join(src_root, 'libs', 'utils', 'csrc', 'nms_cpu.cpp')],
        extra_cflags=['-fopenmp', '-O2'],
        extra_ldflags=['-fopenmp'],
        build_directory=build_dir,
        verbose=False,
    )
    sys.modules['nms_1d_cpu'] = module
    return module


def stub_evaluation_only_modules():
    """libs/utils/metrics.py (ANETdetection, mAP) imports pandas and joblib at load time; this
    script never evaluates mAP, so where they are not installed, empty stand-ins let libs.utils load."""
    import importlib.util
    import types
    for name in ('pandas', 'joblib'):
        if importlib.util.find_spec(name) is None:
            stub = types.ModuleType(name)
            stub.Parallel = stub.delayed = None
            sys.modules[name] = stub
            print(f'note: {name} is not installed; a stand-in lets libs.utils.metrics import (mAP is not used here)')


def randomise_constants(model, generator):
    """Every parameter that starts constant (all elements equal) gets random values of its kind."""
    import torch
    changed = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.detach().flatten()
            if flat.numel() > 1 and not bool(torch.all(flat == flat[0])):
                continue
            if name.endswith('cls_head.cls_head.conv.bias'):
                # around the prior (-log 99 = -4.6) so scores spread over the NMS thresholds
                values = -3.0 + 0.3 * torch.randn(p.shape, generator=generator)
            elif name.endswith('.bias'):
                values = 0.1 * torch.randn(p.shape, generator=generator)
            else:
                # LayerNorm weights, Scale (0-d), AffineDropPath scales (init 1e-4): positive, near 1
                values = 0.5 + torch.rand(p.shape, generator=generator)
            p.copy_(values)
            changed.append(name)
    return changed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repo', default=DEFAULT_REPO, help='the official repository (bare git dir or a work tree with .git)')
    parser.add_argument('--config', default=os.path.join(ROOT, 'test', 'fixtures', 'actionformer', 'thumos_tiny.yaml'))
    parser.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'actionformer'))
    parser.add_argument('--raw-dir', default=None, help='where raw_<id>.npz go (per-level out_cls_logits / out_offsets at the valid positions); default: --out')
    parser.add_argument('--raw-videos', default='731', help="comma-separated lengths whose raw outputs are written, or 'all' (default 731: the fixture stays small)")
    parser.add_argument('--seed', type=int, default=20240611)
    args = parser.parse_args()

    import torch
    import torch.nn as nn
    torch.set_num_threads(1)

    work = tempfile.mkdtemp(prefix='actionformer-official-')
    commit = extract(args.repo, work)
    compile_nms(work, os.path.join(work, 'build'))
    sys.path.insert(0, work)
    stub_evaluation_only_modules()
    from libs.core import load_config
    from libs.modeling import make_meta_arch
    from libs.utils import make_optimizer, make_scheduler, save_checkpoint, ModelEma, fix_random_seed

    cfg = load_config(args.config)
    fix_random_seed(cfg['init_rand_seed'], include_cuda=False)
    generator = torch.Generator().manual_seed(args.seed)

    # train.py: model, DataParallel, optimizer, scheduler, EMA
    model = make_meta_arch(cfg['model_name'], **cfg['model'])
    randomised = randomise_constants(model, generator)
    model = nn.DataParallel(model, device_ids=cfg['devices'])
    optimizer = make_optimizer(model, cfg['opt'])
    num_iters_per_epoch = 4
    scheduler = make_scheduler(optimizer, cfg['opt'], num_iters_per_epoch)
    model_ema = ModelEma(model)

    # one training iteration (train_one_epoch's body) on a random clip with two actions
    C = cfg['dataset']['input_dim']
    model.train()
    train_video = {
        'video_id': 'train_0', 'feats': torch.randn(C, 400, generator=generator),
        'segments': torch.tensor([[20.0, 60.0], [150.0, 310.0]]), 'labels': torch.tensor([3, 11]),
        'fps': 30.0, 'duration': 400 * 4 / 30.0, 'feat_stride': cfg['dataset']['feat_stride'], 'feat_num_frames': cfg['dataset']['num_frames'],
    }
    optimizer.zero_grad(set_to_none=True)
    losses = model([train_video])
    losses['final_loss'].backward()
    if cfg['train_cfg']['clip_grad_l2norm'] > 0.0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['train_cfg']['clip_grad_l2norm'])
    optimizer.step()
    scheduler.step()
    model_ema.update(model)

    sd, sd_ema = model.state_dict(), model_ema.module.state_dict()
    worst = max(float((sd[k] - sd_ema[k]).abs().max()) for k in sd)
    assert worst > 1e-3, f'state_dict and state_dict_ema barely differ ({worst})'
    os.makedirs(args.out, exist_ok=True)
    save_states = {
        'epoch': 1,
        'state_dict': model.state_dict(),
        'scheduler': scheduler.state_dict(),
        'optimizer': optimizer.state_dict(),
    }
    save_states['state_dict_ema'] = model_ema.module.state_dict()
    save_checkpoint(save_states, False, file_folder=args.out, file_name='checkpoint.pth.tar')

    # eval.py: the EMA weights, eval mode, one video per call
    net = model_ema.module.module
    net.eval()
    stride, nframes = cfg['dataset']['feat_stride'], cfg['dataset']['num_frames']
    videos = []
    for i, (length, fps) in enumerate(list(zip(LENGTHS, FPS)) + [(LONG_LENGTH, LONG_FPS)]):
        video_id = f'video_{length}'
        long = length == LONG_LENGTH
        feats = torch.from_numpy(formula_features(length, C)) if long else torch.randn(C, length, generator=generator)
        # the last segment ends a little before the last feature's clip does
        duration = round((length * stride + nframes) / fps - 0.3, 3)
        if not long:
            np.save(os.path.join(args.out, f'{video_id}.npy'), feats.numpy().T.astype(np.float32).copy())  # [T, C], THUMOS layout
        video = {'video_id': video_id, 'feats': feats, 'fps': fps, 'duration': duration, 'feat_stride': stride, 'feat_num_frames': nframes}
        with torch.no_grad():
            result = model_ema.module([video])[0]
            if args.raw_videos == 'all' or str(length) in args.raw_videos.split(','):
                x, masks = net.preprocessing([video])
                f, m = net.backbone(x, masks)
                f, m = net.neck(f, m)
                cls = net.cls_head(f, m)
                off = net.reg_head(f, m)
                raw = {}
                for l, (c, o, mk) in enumerate(zip(cls, off, m)):
                    valid = mk[0, 0]
                    raw[f'cls_logits_{l}'] = c[0][:, valid].T.numpy()  # [T_l valid, classes]
                    raw[f'offsets_{l}'] = o[0][:, valid].T.numpy()     # [T_l valid, 2]
                raw_dir = args.raw_dir or args.out
                os.makedirs(raw_dir, exist_ok=True)
                np.savez(os.path.join(raw_dir, f'raw_{video_id}.npz'), padded_length=x.shape[-1], **raw)
        videos.append({
            'video_id': video_id, **({'formula': FORMULA} if long else {'features': f'{video_id}.npy'}), 'steps': length,
            'padded_length': int(net.preprocessing([video])[0].shape[-1]), 'fps': fps, 'duration': duration,
            'feat_stride': stride, 'feat_num_frames': nframes,
            'segments': [[float(a), float(b)] for a, b in result['segments'].tolist()],
            'scores': [float(s) for s in result['scores'].tolist()],
            'labels': [int(l) for l in result['labels'].tolist()],
        })

    # The other postprocessing modes the config can ask for, on the first video: hard NMS, and
    # class-agnostic Soft-NMS with segment voting (multiclass_nms False, voting_thresh 0.7).
    variants = []
    first = videos[0]
    for name, change in (('hard', {'nms_method': 'hard'}), ('agnostic', {'multiclass_nms': False})):
        saved = {k: getattr(net, f'test_{k}') for k in change}
        for k, v in change.items():
            setattr(net, f'test_{k}', v)
        feats = torch.from_numpy(np.load(os.path.join(args.out, first['features'])).T.copy())
        video = {'video_id': first['video_id'], 'feats': feats, 'fps': first['fps'], 'duration': first['duration'], 'feat_stride': stride, 'feat_num_frames': nframes}
        with torch.no_grad():
            result = model_ema.module([video])[0]
        for k, v in saved.items():
            setattr(net, f'test_{k}', v)
        variants.append({
            'name': name, 'test_cfg': change, 'video_id': first['video_id'],
            'segments': [[float(a), float(b)] for a, b in result['segments'].tolist()],
            'scores': [float(x) for x in result['scores'].tolist()],
            'labels': [int(x) for x in result['labels'].tolist()],
        })

    golden = {
        'source': 'happyharrycn/actionformer_release', 'commit': commit, 'torch': torch.__version__,
        'config': os.path.basename(args.config), 'checkpoint': 'checkpoint.pth.tar', 'container': 'state_dict_ema',
        'randomised': randomised, 'videos': videos, 'variants': variants,
    }
    with open(os.path.join(args.out, 'golden.json'), 'w') as fd:
        json.dump(golden, fd, indent=1)
        fd.write('\n')
    for v in videos:
        print(f"{v['video_id']}: {len(v['segments'])} segments, top score {max(v['scores'], default=0):.4f}")
    for v in variants:
        print(f"variant {v['name']} ({v['test_cfg']}) on {v['video_id']}: {len(v['segments'])} segments")
    print(f'randomised {len(randomised)} constant parameters; state_dict vs state_dict_ema max |diff| {worst:.4g}')


if __name__ == '__main__':
    main()
