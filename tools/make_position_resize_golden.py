#!/usr/bin/python3
"""Golden values for src/weights/position-resize.ts: the sinusoid table of a 2x4x4 token grid
resized per temporal slot to 5x7 and 3x3 by PyTorch's F.interpolate(bicubic, align_corners=False),
as the detection ViTs of MMAction2/AlphAction resize the positional embedding for full frames.

    /usr/bin/python3 tools/make_position_resize_golden.py > test/fixtures/position-resize-golden.json
"""
import json

import numpy as np
import torch
import torch.nn.functional as F


def sinusoid(n, d):
    table = np.array([[p / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for p in range(n)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float32)


t, h0, w0, d = 2, 4, 4, 8
table = sinusoid(t * h0 * w0, d)
cases = []
for h, w in [(5, 7), (3, 3), (4, 4), (8, 10)]:
    planes = table.reshape(t, h0, w0, d).permute(0, 3, 1, 2)
    resized = F.interpolate(planes, size=(h, w), mode='bicubic', align_corners=False)
    out = resized.permute(0, 2, 3, 1).reshape(-1, d)
    cases.append({'to': [h, w], 'table': [round(float(v), 7) for v in out.flatten()]})
print(json.dumps({'t': t, 'from': [h0, w0], 'dim': d, 'cases': cases}))
