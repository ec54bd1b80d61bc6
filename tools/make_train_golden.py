"""Golden values for the training subsystem, computed with PyTorch (Debian python3-torch):

- patch embedding: Conv3d(3, D, kernel=(2,p,p), stride=(2,p,p)) on a clip, the reference for
  cutting patches in the data path (tokens in t, h, w order);
- pretraining targets: the official normlize_target path (un-normalize, cut 2 x p x p patches
  as (p0 p1 p2) c, normalize per patch and channel with the unbiased std + 1e-6);
- AdamW (torch.optim.AdamW) with a no-decay group and clip_grad_norm_, three steps;
- soft-target cross-entropy and the temperature-scaled KL distillation loss.

Run: /usr/bin/python3 tools/make_train_golden.py > test/fixtures/train-golden.json
"""
import json
import torch
import torch.nn.functional as F

torch.manual_seed(0)
T, H, W, p, D = 4, 4, 6, 2, 5
mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1)
clip = torch.randn(3, T, H, W, dtype=torch.float64)
weight = torch.randn(D, 3, 2, p, p, dtype=torch.float64)
conv = F.conv3d(clip[None], weight, stride=(2, p, p))[0]  # [D, t, h, w]
tokens = conv.flatten(1).T  # [N, D]

unnorm = clip * std.double() + mean.double()
t, h, w = T // 2, H // p, W // p
# b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c
x = unnorm.reshape(3, t, 2, h, p, w, p).permute(1, 3, 5, 2, 4, 6, 0).reshape(t * h * w, 2 * p * p, 3)
norm = (x - x.mean(dim=-2, keepdim=True)) / (x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
targets = norm.reshape(t * h * w, -1)

# AdamW: a matrix with decay, a bias without; clip the global norm to 1.
w0 = torch.randn(3, 4, dtype=torch.float64)
b0 = torch.randn(4, dtype=torch.float64)
pw = torch.nn.Parameter(w0.clone())
pb = torch.nn.Parameter(b0.clone())
opt = torch.optim.AdamW([{"params": [pw], "weight_decay": 0.05}, {"params": [pb], "weight_decay": 0.0}], lr=0.01, betas=(0.9, 0.95), eps=1e-8)
grads = []
after = []
for step in range(3):
    gw = torch.randn(3, 4, dtype=torch.float64) * (step + 1)
    gb = torch.randn(4, dtype=torch.float64)
    grads.append({"w": gw.flatten().tolist(), "b": gb.tolist()})
    pw.grad = gw.clone()
    pb.grad = gb.clone()
    torch.nn.utils.clip_grad_norm_([pw, pb], 1.0)
    opt.step()
    after.append({"w": pw.detach().flatten().tolist(), "b": pb.detach().flatten().tolist()})

logits = torch.randn(3, 5, dtype=torch.float64)
teacher = torch.randn(3, 5, dtype=torch.float64)
soft = torch.softmax(torch.randn(3, 5, dtype=torch.float64), -1)
ce = torch.sum(-soft * F.log_softmax(logits, -1), -1).mean()
temperature = 2.0
kd = F.kl_div(F.log_softmax(logits / temperature, -1), F.softmax(teacher / temperature, -1), reduction="batchmean") * temperature ** 2

print(json.dumps({
    "source": "tools/make_train_golden.py",
    "patch": {"frames": T, "height": H, "width": W, "patch": p, "dim": D, "clip": clip.flatten().tolist(), "weight": weight.flatten().tolist(),
              "tokens": tokens.flatten().tolist(), "targets": targets.flatten().tolist()},
    "adamw": {"lr": 0.01, "betas": [0.9, 0.95], "eps": 1e-8, "weightDecay": 0.05, "clip": 1.0, "w0": w0.flatten().tolist(), "b0": b0.tolist(), "grads": grads, "after": after},
    "losses": {"logits": logits.flatten().tolist(), "teacher": teacher.flatten().tolist(), "soft": soft.flatten().tolist(), "ce": ce.item(), "temperature": temperature, "kd": kd.item()},
}))
