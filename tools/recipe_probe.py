"""PyTorch probe for choosing the bundled classifier's recipe (issue 17): the same VideoMAE V2 ViT
as the project's trainer (tubelet Conv3d patch embedding, fixed sinusoid positions, q/v biases,
mean pooling + fc_norm + head scaled by 0.001, AdamW with warmup + cosine, layer decay, no weight
decay on 1-D parameters, clip 5), trained from scratch on the decoded clips of a
`videomae make-dataset synthetic` folder, printing the train loss and held-out top-1 every
--eval steps. `--cnn` trains the small 3D CNN baseline instead. Fast for trying recipes; the
bundled model itself is trained by `videomae train`.

Needs Debian's python3-torch, python3-opencv and libopenblas0-pthread (without OpenBLAS the
reference BLAS runs at about 2 GFLOP/s). One thread per run:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/recipe_probe.py --data DIR --patch 8 --steps 1500
"""
import argparse, csv, math, os, time, sys
import numpy as np, cv2, torch, torch.nn as nn, torch.nn.functional as F
ap = argparse.ArgumentParser()
ap.add_argument('--data', required=True); ap.add_argument('--per-class', type=int, default=0)
ap.add_argument('--patch', type=int, default=8); ap.add_argument('--tubelet', type=int, default=2)
ap.add_argument('--dim', type=int, default=96); ap.add_argument('--depth', type=int, default=4); ap.add_argument('--heads', type=int, default=2)
ap.add_argument('--frames', type=int, default=8); ap.add_argument('--size', type=int, default=64)
ap.add_argument('--steps', type=int, default=1500); ap.add_argument('--batch', type=int, default=16)
ap.add_argument('--lr', type=float, default=1e-3); ap.add_argument('--ld', type=float, default=0.75); ap.add_argument('--wd', type=float, default=0.05)
ap.add_argument('--warm', type=int, default=100); ap.add_argument('--ls', type=float, default=0.1); ap.add_argument('--dp', type=float, default=0.1)
ap.add_argument('--eval', type=int, default=250); ap.add_argument('--seed', type=int, default=1); ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--cnn', action='store_true')
ap.add_argument('--embed-lr', type=float, default=0, help='lr scale of the patch embedding (0: layer decay decides)')
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)
labels = open(f'{a.data}/labels.txt').read().split()
def load(split):
    rows = list(csv.reader(open(f'{a.data}/{split}.csv')))
    rows = [r for r in rows if r and r[0] != 'path']
    if a.per_class and split == 'train':
        cnt = {}; keep = []
        for r in rows:
            cnt[r[1]] = cnt.get(r[1], 0) + 1
            if cnt[r[1]] <= a.per_class: keep.append(r)
        rows = keep
    X = []; Y = []
    for p, l in rows:
        cap = cv2.VideoCapture(f'{a.data}/{p}'); fr = []
        while True:
            ok, f = cap.read()
            if not ok: break
            f = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
            if f.shape[0] != a.size: f = cv2.resize(f, (a.size, a.size), interpolation=cv2.INTER_AREA)
            fr.append(f)
        X.append(np.stack(fr)); Y.append(labels.index(l))
    return np.stack(X), np.array(Y)
t0 = time.time(); Xtr, Ytr = load('train'); Xva, Yva = load('val'); print('loaded', Xtr.shape, Xva.shape, f'{time.time()-t0:.1f}s', flush=True)
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1); std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
T = Xtr.shape[1]
def sample(n, train):
    seg = T / a.frames
    if train: idx = [int(seg * i + rng.random() * seg) for i in range(a.frames)]
    else: idx = [int(seg * i + seg / 2) for i in range(a.frames)]
    return idx
def batch(X, ids, train):
    clips = np.stack([X[i][sample(0, train)] for i in ids])  # B T H W C
    x = torch.from_numpy(clips).float().permute(0, 4, 1, 2, 3) / 255.
    return (x - mean) / std
def sinusoid(n, d):
    pos = np.arange(n)[:, None]; i = np.arange(d)[None]
    ang = pos / np.power(10000, 2 * (i // 2) / d); ang[:, 0::2] = np.sin(ang[:, 0::2]); ang[:, 1::2] = np.cos(ang[:, 1::2])
    return torch.tensor(ang, dtype=torch.float32)[None]
class Block(nn.Module):
    def __init__(s, d, h, dp):
        super().__init__(); s.n1 = nn.LayerNorm(d, eps=1e-6); s.qkv = nn.Linear(d, 3 * d, bias=False); s.qb = nn.Parameter(torch.zeros(d)); s.vb = nn.Parameter(torch.zeros(d))
        s.proj = nn.Linear(d, d); s.n2 = nn.LayerNorm(d, eps=1e-6); s.fc1 = nn.Linear(d, 4 * d); s.fc2 = nn.Linear(4 * d, d); s.h = h; s.dp = dp
    def droppath(s, x):
        if not s.training or s.dp == 0: return x
        keep = (torch.rand(x.shape[0], 1, 1) >= s.dp).float() / (1 - s.dp); return x * keep
    def forward(s, x):
        B, N, D = x.shape; y = s.n1(x)
        qkv = F.linear(y, s.qkv.weight, torch.cat([s.qb, torch.zeros_like(s.vb), s.vb])).reshape(B, N, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q * (D // s.h) ** -0.5) @ k.transpose(-2, -1)
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D)
        x = x + s.droppath(s.proj(o))
        return x + s.droppath(s.fc2(F.gelu(s.fc1(s.n2(x)))))
class ViT(nn.Module):
    def __init__(s):
        super().__init__(); d = a.dim
        s.pe = nn.Conv3d(3, d, (a.tubelet, a.patch, a.patch), (a.tubelet, a.patch, a.patch))
        n = (a.frames // a.tubelet) * (a.size // a.patch) ** 2; s.register_buffer('pos', sinusoid(n, d))
        s.blocks = nn.ModuleList([Block(d, a.heads, a.dp * i / max(1, a.depth - 1)) for i in range(a.depth)])
        s.fcn = nn.LayerNorm(d, eps=1e-6); s.head = nn.Linear(d, len(labels))
        s.apply(s._init); s.head.weight.data.mul_(0.001); s.head.bias.data.mul_(0.001)
    def _init(s, m):
        if isinstance(m, nn.Linear): nn.init.trunc_normal_(m.weight, std=.02); nn.init.zeros_(m.bias) if m.bias is not None else None
        if isinstance(m, nn.LayerNorm): nn.init.ones_(m.weight); nn.init.zeros_(m.bias)
    def forward(s, x):
        x = s.pe(x).flatten(2).transpose(1, 2) + s.pos
        for b in s.blocks: x = b(x)
        return s.head(s.fcn(x.mean(1)))
    def layer_id(s, n):
        if n.startswith('pe'): return 0
        if n.startswith('blocks.'): return int(n.split('.')[1]) + 1
        return a.depth + 1
class CNN(nn.Module):
    def __init__(s):
        super().__init__(); c = [3, 32, 64, 64, 128, 128, 128]; L = []
        for i in range(6): L += [nn.Conv3d(c[i], c[i + 1], 3, stride=(1, 2, 2) if i % 2 else 1, padding=1), nn.BatchNorm3d(c[i + 1]), nn.ReLU()]
        s.f = nn.Sequential(*L); s.head = nn.Linear(128, len(labels))
    def forward(s, x): return s.head(s.f(x).mean((2, 3, 4)))
    def layer_id(s, n): return 0
model = CNN() if a.cnn else ViT()
groups = []
for n, p in model.named_parameters():
    scale = a.ld ** (a.depth + 1 - model.layer_id(n)) if a.ld < 1 and not a.cnn else 1
    if a.embed_lr and n.startswith('pe'): scale = a.embed_lr
    wd = 0 if p.ndim == 1 or n.endswith('.bias') or n in ('qb', 'vb') else a.wd
    groups.append({'params': [p], 'weight_decay': wd, 'scale': scale})
opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.999))
def lr_at(s):
    if s < a.warm: return a.lr * s / a.warm
    return 1e-5 + 0.5 * (a.lr - 1e-5) * (1 + math.cos(math.pi * (s - a.warm) / max(1, a.steps - a.warm)))
def evaluate():
    model.eval(); correct = 0
    with torch.no_grad():
        for i in range(0, len(Yva), 64):
            ids = list(range(i, min(i + 64, len(Yva)))); correct += (model(batch(Xva, ids, False)).argmax(1).numpy() == Yva[ids]).sum()
    model.train(); return correct / len(Yva)
t0 = time.time(); losses = []
print(f'params {sum(p.numel() for p in model.parameters())}', flush=True)
for s in range(a.steps):
    ids = rng.choice(len(Ytr), a.batch, replace=False)
    for g in opt.param_groups: g['lr'] = lr_at(s) * g['scale']
    loss = F.cross_entropy(model(batch(Xtr, ids, True)), torch.from_numpy(Ytr[ids]), label_smoothing=a.ls)
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step(); losses.append(loss.item())
    if (s + 1) % a.eval == 0 or s + 1 == a.steps:
        print(f'step {s+1} loss {np.mean(losses[-a.eval:]):.3f} val {evaluate()*100:.1f}% t {time.time()-t0:.0f}s', flush=True)
