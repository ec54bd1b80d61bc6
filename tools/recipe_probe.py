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
import resource
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
ap.add_argument('--pretrain', type=int, default=0, help='dual-masking pretraining steps (reconstruction) before fine-tuning; 0: none')
ap.add_argument('--enc-ratio', type=float, default=0.9); ap.add_argument('--dec-ratio', type=float, default=0.5, help='running-cell ratio; 0: decoder reconstructs every encoder-masked token')
ap.add_argument('--masking-cost', type=int, default=0, help='time N pretraining steps of dual masking and of encoder-only masking, interleaved, and count the activations each saves for backward; then exit')
ap.add_argument('--pt-lr', type=float, default=1.5e-3); ap.add_argument('--pt-batch', type=int, default=32)
ap.add_argument('--save', default='', help='write the encoder after pretraining / the model after fine-tuning (torch.save)')
ap.add_argument('--init', default='', help='start fine-tuning from this saved encoder')
ap.add_argument('--teacher', default='', help='saved fine-tuned teacher (with --teacher-dim/--teacher-depth) to distil from (soft targets, T=1, weight --alpha)')
ap.add_argument('--teacher-dim', type=int, default=128); ap.add_argument('--teacher-depth', type=int, default=6); ap.add_argument('--alpha', type=float, default=0.5)
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
    def __init__(s, d=None, depth=None):
        super().__init__(); d = d or a.dim; depth = depth or a.depth; s.depth = depth
        s.pe = nn.Conv3d(3, d, (a.tubelet, a.patch, a.patch), (a.tubelet, a.patch, a.patch))
        n = (a.frames // a.tubelet) * (a.size // a.patch) ** 2; s.register_buffer('pos', sinusoid(n, d))
        s.blocks = nn.ModuleList([Block(d, a.heads, a.dp * i / max(1, a.depth - 1)) for i in range(depth)])
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
        return s.depth + 1
class MAE(nn.Module):
    """VideoMAE V2 pretraining: encoder on the tube-mask-visible tokens, decoder (width 64, 2 heads, depth 4
    as vit_mini's) on those plus mask tokens at the running-cell positions, MSE on per-token normalised pixels."""
    def __init__(s, enc):
        super().__init__(); s.enc = enc; d = a.dim; dd = 64
        s.norm = nn.LayerNorm(d, eps=1e-6); s.e2d = nn.Linear(d, dd, bias=False); s.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        s.register_buffer('dpos', sinusoid(enc.pos.shape[1], dd)); s.blocks = nn.ModuleList([Block(dd, 2, 0) for _ in range(4)])
        s.dnorm = nn.LayerNorm(dd, eps=1e-6); s.dhead = nn.Linear(dd, 3 * a.tubelet * a.patch ** 2)
        for m in [s.e2d, s.dhead, *s.blocks]: m.apply(enc._init)
        nn.init.trunc_normal_(s.mask_token, std=.02)
    def forward(s, x, vis, rec):
        B = x.shape[0]; t = s.enc.pe(x).flatten(2).transpose(1, 2) + s.enc.pos
        t = torch.gather(t, 1, vis[..., None].expand(-1, -1, t.shape[2]))
        for b in s.enc.blocks: t = b(t)
        t = s.e2d(s.norm(t)) + torch.gather(s.dpos.expand(B, -1, -1), 1, vis[..., None].expand(-1, -1, s.dpos.shape[2]))
        m = s.mask_token + torch.gather(s.dpos.expand(B, -1, -1), 1, rec[..., None].expand(-1, -1, s.dpos.shape[2]))
        y = torch.cat([t, m], 1)
        for b in s.blocks: y = b(y)
        return s.dhead(s.dnorm(y[:, t.shape[1]:]))
def masks(B, dec_ratio=None):
    """Tube mask (same spatial positions in every slot) and running-cell decoder mask, as index lists."""
    dec_ratio = a.dec_ratio if dec_ratio is None else dec_ratio
    g = a.size // a.patch; nt = a.frames // a.tubelet; per = g * g; nmask = int(a.enc_ratio * per)
    vis = []; rec = []
    for _ in range(B):
        m = np.zeros(per, bool); m[rng.permutation(per)[:nmask]] = True
        start = rng.integers(4); v = []; r = []
        for ti in range(nt):
            if dec_ratio > 0:
                q = [1] * int(4 * dec_ratio) + [0] * (4 - int(4 * dec_ratio)); ph = (start + ti + 1) % 4
            for y in range(g):
                for xx in range(g):
                    k = ti * per + y * g + xx
                    if not m[y * g + xx]: v.append(k)
                    elif dec_ratio == 0 or q[((y % 2) * 2 + xx % 2 + ph) % 4]: r.append(k)
        vis.append(v); rec.append(r)
    n = min(map(len, rec)); rec = [r[:n] for r in rec]  # running cells give equal counts; truncation only guards odd grids
    return torch.tensor(vis), torch.tensor(rec)
def targets(x, rec):
    u = x * std + mean; B, C, T_, H, W = u.shape; tb, p = a.tubelet, a.patch
    u = u.reshape(B, C, T_ // tb, tb, H // p, p, W // p, p).permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, -1, tb * p * p, C)
    u = (u - u.mean(2, keepdim=True)) / (u.var(2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    u = u.reshape(B, u.shape[1], -1)
    return torch.gather(u, 1, rec[..., None].expand(-1, -1, u.shape[2]))
class CNN(nn.Module):
    def __init__(s):
        super().__init__(); c = [3, 32, 64, 64, 128, 128, 128]; L = []
        for i in range(6): L += [nn.Conv3d(c[i], c[i + 1], 3, stride=(1, 2, 2) if i % 2 else 1, padding=1), nn.BatchNorm3d(c[i + 1]), nn.ReLU()]
        s.f = nn.Sequential(*L); s.head = nn.Linear(128, len(labels))
    def forward(s, x): return s.head(s.f(x).mean((2, 3, 4)))
    def layer_id(s, n): return 0
model = CNN() if a.cnn else ViT()
if a.masking_cost:
    # Same model, same batches; the two maskings alternate step by step so machine load hits both alike.
    mae = MAE(model); popt = torch.optim.AdamW(mae.parameters(), lr=1e-4, betas=(0.9, 0.95))
    def step(dec_ratio, ids):
        x = batch(Xtr, ids, True); vis, rec = masks(len(ids), dec_ratio); saved = [0]
        def pack(t): saved[0] += t.numel() * t.element_size(); return t
        t1 = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.mse_loss(mae(x, vis, rec), targets(x, rec))
        popt.zero_grad(); loss.backward(); popt.step()
        return time.perf_counter() - t1, saved[0], rec.shape[1]
    times = {0.5: [], 0.0: []}; info = {}
    for i in range(a.masking_cost + 2):
        ids = rng.choice(len(Ytr), a.pt_batch, replace=False)
        for r in (0.5, 0.0) if i % 2 == 0 else (0.0, 0.5):
            dt, saved, nrec = step(r, ids); info[r] = (saved, nrec)
            if i >= 2: times[r].append(dt)  # two warm-up rounds
    d, e = np.median(times[0.5]), np.median(times[0.0]); ratios = np.array(times[0.0]) / np.array(times[0.5])
    for r, name in ((0.5, 'dual (running cell 0.5)'), (0.0, 'encoder-only (decoder on every masked token)')):
        print(f'{name}: median {np.median(times[r])*1000:.0f} ms/step, decoder reconstructs {info[r][1]} tokens, activations saved for backward {info[r][0]/2**20:.0f} MiB', flush=True)
    print(f'encoder-only / dual: {e/d:.2f}x step time (per-round median {np.median(ratios):.2f}x), {info[0.0][0]/info[0.5][0]:.2f}x saved activations', flush=True)
    sys.exit(0)
if a.pretrain:
    mae = MAE(model); pg = []
    for n, p in mae.named_parameters():
        pg.append({'params': [p], 'weight_decay': 0 if p.ndim == 1 or n.endswith('.bias') or n.endswith('qb') or n.endswith('vb') or 'mask_token' in n else a.wd})
    popt = torch.optim.AdamW(pg, lr=a.pt_lr, betas=(0.9, 0.95)); t0 = time.time(); pl = []; pwarm = max(1, a.pretrain // 20)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, with the decoded clips loaded
    for s_ in range(a.pretrain):
        lr = a.pt_lr * s_ / pwarm if s_ < pwarm else 1e-5 + 0.5 * (a.pt_lr - 1e-5) * (1 + math.cos(math.pi * (s_ - pwarm) / max(1, a.pretrain - pwarm)))
        for g in popt.param_groups: g['lr'] = lr
        ids = rng.choice(len(Ytr), a.pt_batch, replace=False); x = batch(Xtr, ids, True); vis, rec = masks(len(ids))
        loss = F.mse_loss(mae(x, vis, rec), targets(x, rec))
        popt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(mae.parameters(), 5.0); popt.step(); pl.append(loss.item())
        if (s_ + 1) % a.eval == 0 or s_ + 1 == a.pretrain:
            print(f'pretrain step {s_+1} loss {np.mean(pl[-a.eval:]):.4f} t {time.time()-t0:.0f}s ({(time.time()-t0)/(s_+1)*1000:.0f} ms/step)', flush=True)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f'pretrain peak RSS {rss1/1024:.0f} MiB ({(rss1-rss0)/1024:.0f} MiB above the loaded clips)', flush=True)
    if a.save: torch.save(model.state_dict(), a.save + '.pretrain.pt')
    del mae, popt
if a.init:
    sd = {k: v for k, v in torch.load(a.init).items() if not k.startswith(('head', 'fcn'))}
    print('init', a.init, model.load_state_dict(sd, strict=False), flush=True)
teacher = None
if a.teacher:
    teacher = ViT(a.teacher_dim, a.teacher_depth); teacher.load_state_dict(torch.load(a.teacher)); teacher.eval()
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
    x = batch(Xtr, ids, True); out = model(x)
    loss = F.cross_entropy(out, torch.from_numpy(Ytr[ids]), label_smoothing=a.ls)
    if teacher is not None:
        with torch.no_grad(): soft = teacher(x).softmax(-1)
        loss = (1 - a.alpha) * loss + a.alpha * F.kl_div(out.log_softmax(-1), soft, reduction='batchmean')
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step(); losses.append(loss.item())
    if (s + 1) % a.eval == 0 or s + 1 == a.steps:
        print(f'step {s+1} loss {np.mean(losses[-a.eval:]):.3f} val {evaluate()*100:.1f}% t {time.time()-t0:.0f}s', flush=True)
if a.save: torch.save(model.state_dict(), a.save + '.pt')
