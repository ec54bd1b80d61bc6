"""Golden running-cell decoder masks, from a NumPy re-implementation of the official
VideoMAE V2 `Cell` / `RunningCellMaskingGenerator` (masking_generator.py): a queue of
int(4 * ratio) ones then zeros, rotated by a pointer that advances once per temporal slot
before it is read; the pointer starts at 0..3 (one map per start).

Run: /usr/bin/python3 tools/make_mask_golden.py > test/fixtures/running-cell-masks.json
"""
import json
import numpy as np


class Cell:
    def __init__(self, num_masks, num_patches):
        self.size = num_masks + num_patches
        self.queue = np.hstack([np.ones(num_masks), np.zeros(num_patches)])
        self.queue_ptr = 0

    def set_ptr(self, pos):
        self.queue_ptr = pos

    def get_cell(self):
        cell_idx = (np.arange(self.size) + self.queue_ptr) % self.size
        return self.queue[cell_idx]

    def run_cell(self):
        self.queue_ptr += 1


def all_mask_maps(frames, height, width, ratio):
    num_masks_per_cell = int(4 * ratio)
    cell = Cell(num_masks_per_cell, 4 - num_masks_per_cell)
    maps = []
    for ptr_pos in range(cell.size):
        cell.set_ptr(ptr_pos)
        mask = []
        for _ in range(frames):
            cell.run_cell()
            unit = cell.get_cell().reshape(2, 2)
            mask.append(np.tile(unit, [height // 2, width // 2]).flatten())
        maps.append(np.stack(mask, axis=0).flatten().astype(int).tolist())
    return maps


cases = []
for frames, height, width, ratio in [(4, 2, 2, 0.5), (8, 6, 6, 0.5), (3, 4, 6, 0.25), (5, 2, 4, 0.75)]:
    cases.append({"grid": [frames, height, width], "ratio": ratio, "maps": all_mask_maps(frames, height, width, ratio)})
print(json.dumps({"source": "tools/make_mask_golden.py", "cases": cases}))
