"""Golden fixtures for one optimizer step of the TF.js trainers (test/train/step-parity.test.ts).

For each case this writes test/fixtures/step-parity/<case>.safetensors (float32, official layout:
weights "w/NAME", AdamW moments "m/NAME" "v/NAME" after 3 steps, inputs "x/NAME", reference
gradients "g/NAME", weights after the step "u/NAME" and the step itself "d/NAME" = u - w) and
<case>.json (architecture, recipe numbers, the clip, the loss and the gradient norm).

The PyTorch side is written from the official code, none of ours: VideoMAE V2 (modeling_pretrain.py
PretrainVisionTransformer, modeling_finetune.py VisionTransformer, engine_for_pretraining.py's
normalized targets and masked loss, optim_factory.py's layer ids and skip list), the AVA head of
tools/make_ava_golden.py (torchvision roi_align), and ActionFormer's own PtTransformer from the
mirror in training mode. Weights are read back from the safetensors written here; math in float64.
  - AdamW: torch.optim.AdamW from state step 3, one param group per tensor with
    lr = lr(step) x layer-decay scale and weight decay 0 where the official rules say so;
  - clipping: torch.nn.utils.clip_grad_norm_ at half the real norm, so it bites;
  - lr(step): src/train/schedule.ts learningRateAt. NB: its warmup is lr x step / warmup, while the
    official utils.cosine_scheduler warms up with np.linspace(0, lr, warmup), lr x step / (warmup - 1)
    (the cosine part agrees); the pretrain and AVA cases sit in the warmup.

Run: /usr/bin/python3 tools/make_step_golden.py  (npm run fixtures:steps)
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'step-parity')
PRIOR_STEPS = 3  # AdamW already took 3 steps: bias correction uses t = 4


# ---------- safetensors (8-byte LE header length, JSON header, raw little-endian data) ----------

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(array.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        assert meta['dtype'] == 'F32', name
        a, b = meta['data_offsets']
        out[name] = np.frombuffer(buf[8 + n + a:8 + n + b], dtype='<f4').reshape(meta['shape']).copy()
    return out


# ---------- recipe pieces ----------

def learning_rate_at(lr, min_lr, warmup, total, step):
    """src/train/schedule.ts learningRateAt."""
    if step < warmup:
        return lr * step / warmup
    span = max(1, total - warmup)
    progress = min(1, (step - warmup) / span)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def layer_id_for_vit(name, num_layers):
    """optim_factory.get_layer_id_for_vit (names without the 'encoder.' prefix)."""
    if name in ('cls_token', 'mask_token', 'pos_embed') or name.startswith('patch_embed'):
        return 0
    if name.startswith('blocks.'):
        return int(name.split('.')[1]) + 1
    return num_layers + 1


def no_decay(name, shape, skip=('mask_token', 'pos_embed', 'cls_token')):
    return len(shape) == 1 or name.endswith('.bias') or name in skip


def adamw_step(params, grads, moments, lr, scales, decay_flags, betas, eps, wd, clip):
    """One official step: clip_grad_norm_ then torch AdamW from state step PRIOR_STEPS."""
    names = list(params)
    tensors = {n: torch.tensor(params[n], dtype=torch.float64, requires_grad=True) for n in names}
    for n in names:
        tensors[n].grad = grads[n].clone()
    norm = torch.nn.utils.clip_grad_norm_([tensors[n] for n in names], clip)
    groups = [{'params': [tensors[n]], 'lr': lr * scales[n], 'weight_decay': wd if decay_flags[n] else 0.0} for n in names]
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    for n in names:
        m, v = moments[n]
        opt.state[tensors[n]] = {
            'step': torch.tensor(float(PRIOR_STEPS)),
            'exp_avg': torch.tensor(m, dtype=torch.float64),
            'exp_avg_sq': torch.tensor(v, dtype=torch.float64),
        }
    opt.step()
    return {n: tensors[n].detach().numpy() for n in names}, float(norm)


def random_moments(rng, params):
    out = {}
    for n, p in params.items():
        g = rng.standard_normal(p.shape) * 0.01
        out[n] = (g, g * g + rng.random(p.shape) * 1e-4)
    return out


def gradients(loss_fn, params):
    tensors = {n: torch.tensor(p, dtype=torch.float64, requires_grad=True) for n, p in params.items()}
    loss = loss_fn(tensors)
    loss.backward()
    return float(loss), {n: t.grad.detach().clone() for n, t in tensors.items()}


def write_case(name, params, moments, inputs, recipe, scales, decay_flags, loss_fn, extra=None):
    """Round-trips the weights through safetensors, runs the step, writes the fixture."""
    path = os.path.join(OUT, f'{name}.safetensors')
    stored = {f'w/{n}': p for n, p in params.items()}
    stored.update({f'm/{n}': m for n, (m, _) in moments.items()})
    stored.update({f'v/{n}': v for n, (_, v) in moments.items()})
    stored.update({f'x/{n}': x for n, x in inputs.items()})
    write_safetensors(path, stored)
    back = read_safetensors(path)
    params = {n: back[f'w/{n}'].astype(np.float64) for n in params}
    moments = {n: (back[f'm/{n}'].astype(np.float64), back[f'v/{n}'].astype(np.float64)) for n in params}
    loss, grads = gradients(loss_fn, params)
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    clip = 0.5 * norm
    lr = learning_rate_at(recipe['lr'], recipe['minLr'], recipe['warmupSteps'], recipe['totalSteps'], recipe['step'])
    updated, norm_seen = adamw_step(
        params, grads, moments, lr, scales, decay_flags, tuple(recipe['betas']), recipe['eps'], recipe['weightDecay'], clip
    )
    assert abs(norm_seen - norm) < 1e-9 * norm
    for n in params:
        back[f'g/{n}'] = grads[n].numpy()
        back[f'u/{n}'] = updated[n]
        back[f'd/{n}'] = updated[n] - params[n]  # the step itself, exact to float32 (u is not, near |w|)
    write_safetensors(path, back)
    meta = dict(recipe, clipGrad=clip, lrAtStep=lr, priorSteps=PRIOR_STEPS, loss=loss, gradNorm=norm)
    meta['lrScales'] = scales
    meta['decay'] = decay_flags
    if extra:
        meta.update(extra)
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'{name}: loss {loss:.6f} grad norm {norm:.4f} clip {clip:.4f} lr {lr:.3e}', file=sys.stderr)


# ---------- VideoMAE V2 (independent of src/train/vit.ts; structure of the official modules) ----------

def sinusoid_table(n, d):
    """get_sinusoid_encoding_table."""
    pos = np.arange(n)[:, None] / np.power(10000, 2 * (np.arange(d) // 2) / d)[None, :]
    pos[:, 0::2] = np.sin(pos[:, 0::2])
    pos[:, 1::2] = np.cos(pos[:, 1::2])
    return torch.tensor(pos)


def vit_block_params(rng, prefix, d, hidden, out):
    def lin(o, i):
        return rng.uniform(-1, 1, (o, i)) * math.sqrt(6 / (o + i))
    out[f'{prefix}.norm1.weight'] = 1 + 0.1 * rng.standard_normal(d)
    out[f'{prefix}.norm1.bias'] = 0.1 * rng.standard_normal(d)
    out[f'{prefix}.attn.qkv.weight'] = lin(3 * d, d)
    out[f'{prefix}.attn.q_bias'] = 0.1 * rng.standard_normal(d)
    out[f'{prefix}.attn.v_bias'] = 0.1 * rng.standard_normal(d)
    out[f'{prefix}.attn.proj.weight'] = lin(d, d)
    out[f'{prefix}.attn.proj.bias'] = 0.1 * rng.standard_normal(d)
    out[f'{prefix}.norm2.weight'] = 1 + 0.1 * rng.standard_normal(d)
    out[f'{prefix}.norm2.bias'] = 0.1 * rng.standard_normal(d)
    out[f'{prefix}.mlp.fc1.weight'] = lin(hidden, d)
    out[f'{prefix}.mlp.fc1.bias'] = 0.1 * rng.standard_normal(hidden)
    out[f'{prefix}.mlp.fc2.weight'] = lin(d, hidden)
    out[f'{prefix}.mlp.fc2.bias'] = 0.1 * rng.standard_normal(d)


def block(w, prefix, x, heads, eps):
    """modeling_pretrain Block with qkv_bias (q_bias, zeros, v_bias), no layer scale, no drop path."""
    B, N, C = x.shape
    h = F.layer_norm(x, (C,), w[f'{prefix}.norm1.weight'], w[f'{prefix}.norm1.bias'], eps)
    bias = torch.cat([w[f'{prefix}.attn.q_bias'], torch.zeros_like(w[f'{prefix}.attn.v_bias']), w[f'{prefix}.attn.v_bias']])
    qkv = F.linear(h, w[f'{prefix}.attn.qkv.weight'], bias).reshape(B, N, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (C // heads) ** -0.5
    attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    a = (attn @ v).transpose(1, 2).reshape(B, N, C)
    x = x + F.linear(a, w[f'{prefix}.attn.proj.weight'], w[f'{prefix}.attn.proj.bias'])
    h = F.layer_norm(x, (C,), w[f'{prefix}.norm2.weight'], w[f'{prefix}.norm2.bias'], eps)
    m = F.linear(F.gelu(F.linear(h, w[f'{prefix}.mlp.fc1.weight'], w[f'{prefix}.mlp.fc1.bias'])), w[f'{prefix}.mlp.fc2.weight'], w[f'{prefix}.mlp.fc2.bias'])
    return x + m


def patch_embed(w, video, cfg):
    """PatchEmbed: Conv3d(kernel = stride = (tubelet, p, p)) -> [B, N, D] in (t, h, w) order."""
    x = F.conv3d(video, w['patch_embed.proj.weight'], w['patch_embed.proj.bias'],
                 stride=(cfg['tubeletSize'], cfg['patchSize'], cfg['patchSize']))
    return x.flatten(2).transpose(1, 2)


VIT = {
    'arch': 'step_parity_tiny', 'patchSize': 4, 'tubeletSize': 2, 'embedDim': 16, 'depth': 2, 'numHeads': 2,
    'mlpHiddenDim': 32, 'numFrames': 4, 'imageHeight': 16, 'imageWidth': 16, 'layerNormEps': 1e-6,
}
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def encoder_params(rng, cfg):
    d, t, p = cfg['embedDim'], cfg['tubeletSize'], cfg['patchSize']
    w = {'patch_embed.proj.weight': rng.standard_normal((d, 3, t, p, p)) * 0.05, 'patch_embed.proj.bias': 0.1 * rng.standard_normal(d)}
    for i in range(cfg['depth']):
        vit_block_params(rng, f'blocks.{i}', d, cfg['mlpHiddenDim'], w)
    return w


def pretrain_case(rng):
    cfg = dict(VIT, numClasses=0, decoder={'embedDim': 8, 'depth': 1, 'numHeads': 2, 'mlpHiddenDim': 16})
    dec = cfg['decoder']
    d, dd = cfg['embedDim'], dec['embedDim']
    t, p = cfg['tubeletSize'], cfg['patchSize']
    gt, gh, gw = cfg['numFrames'] // t, cfg['imageHeight'] // p, cfg['imageWidth'] // p
    n = gt * gh * gw
    pv = 3 * t * p * p
    w = encoder_params(rng, cfg)
    w['norm.weight'] = 1 + 0.1 * rng.standard_normal(d)
    w['norm.bias'] = 0.1 * rng.standard_normal(d)
    w['encoder_to_decoder.weight'] = rng.uniform(-1, 1, (dd, d)) * math.sqrt(6 / (d + dd))
    # trunc_normal(0.02) in the official init; larger here so a wrongly applied weight decay shows.
    w['mask_token'] = 0.3 * rng.standard_normal((1, 1, dd))
    for i in range(dec['depth']):
        vit_block_params(rng, f'decoder.blocks.{i}', dd, dec['mlpHiddenDim'], w)
    w['decoder.norm.weight'] = 1 + 0.1 * rng.standard_normal(dd)
    w['decoder.norm.bias'] = 0.1 * rng.standard_normal(dd)
    w['decoder.head.weight'] = rng.uniform(-1, 1, (pv, dd)) * math.sqrt(6 / (pv + dd))
    w['decoder.head.bias'] = 0.1 * rng.standard_normal(pv)

    B = 2
    video = ((rng.random((B, 3, cfg['numFrames'], cfg['imageHeight'], cfg['imageWidth'])) - MEAN[None, :, None, None, None])
             / STD[None, :, None, None, None]).astype(np.float32).astype(np.float64)
    # TubeMaskingGenerator(ratio 0.75): one spatial mask repeated over time; 1 = masked.
    masks, decode_masks = [], []
    per_frame = gh * gw
    for b in range(B):
        frame = np.hstack([np.zeros(per_frame - int(0.75 * per_frame)), np.ones(int(0.75 * per_frame))])
        rng.shuffle(frame)
        masks.append(np.tile(frame, gt))
        # RunningCellMaskingGenerator(ratio 0.5): 2x2 cells, queue rotated by (start + t + 1) % 4.
        queue = [1, 1, 0, 0]
        start = int(rng.integers(4))
        dm = np.zeros((gt, gh, gw))
        for ti in range(gt):
            phase = (start + ti + 1) % 4
            for y in range(gh):
                for x in range(gw):
                    dm[ti, y, x] = queue[((y % 2) * 2 + (x % 2) + phase) % 4]
        decode_masks.append(dm.reshape(-1))
    mask = torch.tensor(np.stack(masks)).bool()
    decode_mask = torch.tensor(np.stack(decode_masks)).bool()
    video_t = torch.tensor(video)
    eps = cfg['layerNormEps']

    # engine_for_pretraining: normalized targets (normlize_target=True) at the decoder positions.
    unnorm = video_t * torch.tensor(STD)[None, :, None, None, None] + torch.tensor(MEAN)[None, :, None, None, None]
    sq = unnorm.reshape(B, 3, gt, t, gh, p, gw, p).permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, n, t * p * p, 3)
    norm_patches = (sq - sq.mean(dim=-2, keepdim=True)) / (sq.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    images_patch = norm_patches.reshape(B, n, pv)
    labels = images_patch[~decode_mask].reshape(B, -1, pv)
    enc_pos = sinusoid_table(n, d)[None]
    dec_pos = sinusoid_table(n, dd)[None].expand(B, -1, -1)

    def loss_fn(w):
        # PretrainVisionTransformer.forward(x, mask, decode_mask)
        x = patch_embed(w, video_t, cfg) + enc_pos
        x_vis = x[~mask].reshape(B, -1, d)
        for i in range(cfg['depth']):
            x_vis = block(w, f'blocks.{i}', x_vis, cfg['numHeads'], eps)
        x_vis = F.layer_norm(x_vis, (d,), w['norm.weight'], w['norm.bias'], eps)
        x_vis = F.linear(x_vis, w['encoder_to_decoder.weight'])
        pos_vis = dec_pos[~mask].reshape(B, -1, dd)
        pos_mask = dec_pos[~decode_mask].reshape(B, -1, dd)
        x_full = torch.cat([x_vis + pos_vis, w['mask_token'] + pos_mask], dim=1)
        for i in range(dec['depth']):
            x_full = block(w, f'decoder.blocks.{i}', x_full, dec['numHeads'], eps)
        m = pos_mask.shape[1]
        out = F.linear(F.layer_norm(x_full[:, -m:], (dd,), w['decoder.norm.weight'], w['decoder.norm.bias'], eps),
                       w['decoder.head.weight'], w['decoder.head.bias'])
        loss = ((out - labels) ** 2).mean(dim=-1)
        cal = mask[~decode_mask].reshape(B, -1)
        return (loss * cal).sum() / cal.sum()

    recipe = {'lr': 1.5e-3, 'minLr': 1e-5, 'warmupSteps': 5, 'totalSteps': 20, 'step': 3, 'betas': [0.9, 0.95], 'eps': 1e-8,
              'weightDecay': 0.05, 'layerDecay': 1.0, 'batch': B}
    # Pretraining has no layer decay (scale 1); the skip list is the model's no_weight_decay().
    scales = {k: 1.0 for k in w}
    decay = {k: not no_decay(k, w[k].shape) for k in w}
    inputs = {'video': video, 'encoderMask': np.stack(masks), 'decoderMask': np.stack(decode_masks)}
    write_case('pretrain', w, random_moments(rng, w), inputs, recipe, scales, decay, loss_fn,
               {'architecture': cfg, 'encoderRatio': 0.75, 'decoderRatio': 0.5})


def finetune_case(rng):
    classes = 5
    cfg = dict(VIT, numClasses=classes)
    d = cfg['embedDim']
    w = encoder_params(rng, cfg)
    w['fc_norm.weight'] = 1 + 0.1 * rng.standard_normal(d)
    w['fc_norm.bias'] = 0.1 * rng.standard_normal(d)
    # head: trunc_normal(std 0.02) then head.weight.mul_(init_scale) (modeling_finetune, init_scale 0.001)
    w['head.weight'] = np.clip(rng.standard_normal((classes, d)), -2, 2) * 0.02 * 0.001
    w['head.bias'] = 0.01 * rng.standard_normal(classes)
    B = 3
    video = rng.standard_normal((B, 3, cfg['numFrames'], cfg['imageHeight'], cfg['imageWidth'])).astype(np.float32).astype(np.float64)
    labels = np.array([1, 4, 0])
    smoothing = 0.1
    video_t = torch.tensor(video)
    n = (cfg['numFrames'] // cfg['tubeletSize']) * (cfg['imageHeight'] // cfg['patchSize']) * (cfg['imageWidth'] // cfg['patchSize'])
    pos = sinusoid_table(n, d)[None]
    eps = cfg['layerNormEps']

    def loss_fn(w):
        # modeling_finetune.VisionTransformer (use_mean_pooling, drop path 0)
        x = patch_embed(w, video_t, cfg) + pos
        for i in range(cfg['depth']):
            x = block(w, f'blocks.{i}', x, cfg['numHeads'], eps)
        logits = F.linear(F.layer_norm(x.mean(1), (d,), w['fc_norm.weight'], w['fc_norm.bias'], eps), w['head.weight'], w['head.bias'])
        # timm LabelSmoothingCrossEntropy (the criterion without mixup)
        logprobs = F.log_softmax(logits, dim=-1)
        nll = -logprobs.gather(dim=-1, index=torch.tensor(labels)[:, None]).squeeze(1)
        return ((1 - smoothing) * nll + smoothing * (-logprobs.mean(dim=-1))).mean()

    layer_decay = 0.75
    depth = cfg['depth']
    recipe = {'lr': 1e-3, 'minLr': 1e-6, 'warmupSteps': 2, 'totalSteps': 10, 'step': 6, 'betas': [0.9, 0.999], 'eps': 1e-8,
              'weightDecay': 0.05, 'layerDecay': layer_decay, 'batch': B}
    scales = {k: layer_decay ** (depth + 1 - layer_id_for_vit(k, depth)) for k in w}
    decay = {k: not no_decay(k, w[k].shape) for k in w}
    inputs = {'video': video, 'labels': labels.astype(np.float32)}
    write_case('finetune', w, random_moments(rng, w), inputs, recipe, scales, decay, loss_fn,
               {'architecture': cfg, 'labelSmoothing': smoothing})


def ava_case(rng):
    """The AVA head as tools/make_ava_golden.py builds it (official VideoMAE-Action-Detection): final
    norm on the tokens -> temporal mean -> roi_align(7x7, 1/16, sampling_ratio 0, aligned=False) ->
    MaxPool2d(7) -> Linear; BCE with logits (mean) on multi-hot targets. The backbone tokens are a
    fixed input here (the head's own parameters train)."""
    from torchvision.ops import roi_align
    D, C, T, H, W, patch = 16, 6, 2, 4, 5, 16
    B = 2
    w = {
        'norm.weight': 1 + 0.1 * rng.standard_normal(D),
        'norm.bias': 0.1 * rng.standard_normal(D),
        'head.weight': 0.3 * rng.standard_normal((C, D)),
        'head.bias': 0.1 * rng.standard_normal(C),
    }
    tokens = rng.standard_normal((B, T * H * W, D)).astype(np.float32).astype(np.float64)
    # [batch index, x1, y1, x2, y2] in input pixels (map cells x 16); one box partly past the map.
    rois = np.array([[0, 3.5, 4.0, 50.0, 60.0], [0, 20.0, 8.0, 79.0, 40.0], [1, 10.0, 30.0, 70.0, 75.0]], dtype=np.float32)
    targets = (rng.random((len(rois), C)) < 0.4).astype(np.float32)
    tokens_t = torch.tensor(tokens)
    rois_t = torch.tensor(rois.astype(np.float64))
    targets_t = torch.tensor(targets.astype(np.float64))

    def loss_fn(w):
        x = F.layer_norm(tokens_t, (D,), w['norm.weight'], w['norm.bias'], 1e-6)
        x = x.reshape(B, T, H, W, D).permute(0, 4, 1, 2, 3).mean(dim=2)
        pooled = roi_align(x, rois_t, (7, 7), 1.0 / patch, 0)
        pooled = F.max_pool2d(pooled, (7, 7)).view(pooled.size(0), -1)
        return F.binary_cross_entropy_with_logits(F.linear(pooled, w['head.weight'], w['head.bias']), targets_t)

    recipe = {'lr': 1e-3, 'minLr': 1e-6, 'warmupSteps': 4, 'totalSteps': 12, 'step': 2, 'betas': [0.9, 0.999], 'eps': 1e-8,
              'weightDecay': 0.05, 'layerDecay': 1.0, 'batch': B}
    scales = {k: 1.0 for k in w}
    decay = {k: not no_decay(k, w[k].shape) for k in w}
    inputs = {'tokens': tokens, 'rois': rois, 'targets': targets}
    write_case('ava', w, random_moments(rng, w), inputs, recipe, scales, decay, loss_fn,
               {'embedDim': D, 'classes': C, 'temporal': T, 'height': H, 'width': W, 'patchSize': patch})


AF_REPO = '/work/.mirror/happyharrycn+actionformer_release/repo'


def actionformer_case(rng):
    """The official PtTransformer (happyharrycn/actionformer_release at HEAD, extracted from the
    mirror as tools/make_actionformer_forward_golden.py does) in training mode: preprocessing pads
    to max_seq_len, label_points assigns the targets from the segments, losses() gives
    cls (sigmoid focal, sum) + reg (centre DIoU, sum), each / the loss normalizer (EMA from 100).
    Weight decay as train_utils.make_optimizer splits it; no drop path."""
    import subprocess
    import tempfile
    import types
    src = tempfile.mkdtemp(prefix='af-official-')
    archive = subprocess.run(['git', '--git-dir', AF_REPO, 'archive', 'HEAD'], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', src], input=archive, check=True)
    sys.path.insert(0, src)
    stub = types.ModuleType('libs.utils')
    stub.batched_nms = None
    sys.modules['libs.utils'] = stub
    from libs.modeling import make_meta_arch
    from libs.modeling.blocks import AffineDropPath, LayerNorm, MaskedConv1D, Scale
    from libs.core.config import DEFAULTS
    input_dim, classes, max_len, embd, heads = 6, 3, 72, 8, 2
    arch = (2, 2, 2)
    ranges = [(0, 4), (4, 8), (8, 10000)]
    train_cfg = dict(DEFAULTS['train_cfg'], droppath=0.0)
    model = make_meta_arch(
        'LocPointTransformer', backbone_type='convTransformer', fpn_type='identity', backbone_arch=arch, scale_factor=2,
        input_dim=input_dim, max_seq_len=max_len, max_buffer_len_factor=6.0, n_head=heads, n_mha_win_size=19,
        embd_kernel_size=3, embd_dim=embd, embd_with_ln=True, fpn_dim=embd, fpn_with_ln=True, fpn_start_level=0,
        head_dim=embd, regression_range=ranges, head_num_layers=3, head_kernel_size=3, head_with_ln=True,
        use_abs_pe=False, use_rel_pe=False, num_classes=classes, train_cfg=train_cfg, test_cfg=DEFAULTS['test_cfg']).double()
    model.train()
    names = [n for n, _ in model.named_parameters()]
    assert names == list(model.state_dict().keys())
    w = {}
    for n, p in model.named_parameters():
        gain = n.endswith('weight') and ('norm' in n or '.ln1.' in n or '.ln2.' in n)
        w[n] = rng.standard_normal(tuple(p.shape)) * (0.5 if n.endswith('conv.weight') else 0.3) + (1.0 if gain else 0.0)
    # make_optimizer's split: weights of Linear/Conv1d/MaskedConv1D decay; biases, LayerNorm, Scale do not.
    decay = {}
    for mn, m in model.named_modules():
        for pn, _ in m.named_parameters(recurse=False):
            full = f'{mn}.{pn}' if mn else pn
            if pn.endswith('bias'):
                decay[full] = False
            elif pn.endswith('weight') and isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, MaskedConv1D)):
                decay[full] = True
            elif pn.endswith('weight') and isinstance(m, (LayerNorm, torch.nn.GroupNorm)):
                decay[full] = False
            elif pn.endswith('scale') and isinstance(m, (Scale, AffineDropPath)):
                decay[full] = False
    assert set(decay) == set(w), set(w) - set(decay)
    lengths = (60, 72)
    feats = [rng.standard_normal((input_dim, n)).astype(np.float32) for n in lengths]
    segments = [np.array([[3.0, 11.5], [20.0, 52.0], [40.0, 44.0]], dtype=np.float32), np.array([[0.0, 6.0], [30.5, 70.0]], dtype=np.float32)]
    labels = [np.array([0, 2, 1]), np.array([1, 1])]

    def loss_bound(t):
        # The leaves of `gradients` become the model's parameters, so the official forward runs on them.
        for n, _ in list(model.named_parameters()):
            module_name, leaf = n.rsplit('.', 1) if '.' in n else ('', n)
            parent = model.get_submodule(module_name) if module_name else model
            parent._parameters[leaf] = t[n]
        model.loss_normalizer = train_cfg['init_loss_norm']
        videos = [{'feats': torch.tensor(f.astype(np.float64)), 'segments': torch.tensor(sg.astype(np.float64)), 'labels': torch.tensor(lb)}
                  for f, sg, lb in zip(feats, segments, labels)]
        out = model(videos)
        return out['final_loss']

    recipe = {'lr': 1e-3, 'minLr': 1e-6, 'warmupSteps': 3, 'totalSteps': 10, 'step': 5, 'betas': [0.9, 0.999], 'eps': 1e-8,
              'weightDecay': 0.05, 'layerDecay': 1.0, 'batch': 2}
    scales = {k: 1.0 for k in w}
    pad = lambda f: np.pad(f, ((0, 0), (0, max_len - f.shape[1])))  # noqa: E731
    inputs = {'feats': np.stack([pad(f).T for f in feats]), 'mask': np.stack([(np.arange(max_len) < n).astype(np.float32) for n in lengths])}
    for b in range(2):
        inputs[f'segments{b}'] = segments[b]
        inputs[f'labels{b}'] = labels[b].astype(np.float32)
    write_case('actionformer', w, random_moments(rng, w), inputs, recipe, scales, decay, loss_bound, {
        'config': {'inputDim': input_dim, 'numClasses': classes, 'maxSeqLen': max_len, 'embdDim': embd, 'numHeads': heads,
                   'backboneArch': list(arch), 'mhaWinSize': 19, 'embdWithLn': True, 'fpnWithLn': True, 'headWithLn': True,
                   'useAbsPe': False, 'dropPath': 0.0, 'regressionRanges': [list(r) for r in ranges]},
        'initLossNorm': train_cfg['init_loss_norm'], 'lossNormMomentum': 0.9, 'lossWeight': train_cfg['loss_weight'],
        'labelSmoothing': train_cfg['label_smoothing'], 'centerSampleRadius': train_cfg['center_sample_radius'],
    })


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(17)
    pretrain_case(rng)
    finetune_case(rng)
    ava_case(rng)
    actionformer_case(rng)
