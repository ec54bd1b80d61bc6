import { describe, expect, it } from 'vitest';
import { makeActionFormerConfig } from '../../src/config/actionformer.js';
import { actionFormerForwardFlops, avaHeadForwardFlops } from '../../src/train/flops.js';

describe('actionFormerForwardFlops', () => {
  it('matches a hand count on a tiny PtTransformer (one embedding conv, one stem block with window 3, one global branch block)', () => {
    const c = makeActionFormerConfig({
      inputDim: 4,
      numClasses: 2,
      maxSeqLen: 8,
      embdDim: 4,
      numHeads: 1,
      backboneArch: [1, 1, 1],
      mhaWinSize: [3, -1],
      regressionRanges: [
        [0, 4],
        [4, 10000],
      ],
    });
    // Embedding conv, kernel 3, 4 -> 4 channels over 8 steps: 2 x 8 x 3 x 4 x 4.
    const embedding = 768;
    // Stem block, 8 steps, E = 4, window 3 (3 keys per query):
    // depthwise q/k/v 3 x 2 x 3 x 8 x 4 = 576; q/k/v/out projections 4 x 2 x 8 x 16 = 1024;
    // MLP 4 -> 16 -> 4: 2 x 2 x 8 x 64 = 2048; attention 2 x 2 x 8 x 3 x 4 = 384.
    const stem = 576 + 1024 + 2048 + 384;
    // Branch block, stride 2 -> 4 steps, global attention (4 keys per query):
    // depthwise 3 x 2 x 3 x 4 x 4 = 288; projections 4 x 2 x 4 x 16 = 512; MLP 2 x 2 x 4 x 64 = 1024;
    // attention 2 x 2 x 4 x 4 x 4 = 256.
    const branch = 288 + 512 + 1024 + 256;
    // Heads (3 layers, kernel 3): two 4 -> 4 convs and the output conv (4 -> 2 classes, 4 -> 2 offsets)
    // per head, on level 0 (8 steps) and level 1 (4 steps).
    const headsAt = (steps: number) => 2 * (2 * (2 * steps * 3 * 4 * 4) + 2 * steps * 3 * 4 * 2);
    expect(headsAt(8)).toBe(3840);
    const heads = headsAt(8) + headsAt(4);
    expect(actionFormerForwardFlops(c)).toBe(embedding + stem + branch + heads);
    expect(actionFormerForwardFlops(c)).toBe(12640);
  });

  it('counts a window as its keys and scales with the window length', () => {
    const base = { inputDim: 4, numClasses: 2, maxSeqLen: 8, embdDim: 4, numHeads: 1, backboneArch: [1, 1, 0] as const };
    const ranges = { regressionRanges: [[0, 10000]] as ReadonlyArray<readonly [number, number]> };
    const local = actionFormerForwardFlops(makeActionFormerConfig({ ...base, ...ranges, mhaWinSize: [3] }));
    const global = actionFormerForwardFlops(makeActionFormerConfig({ ...base, ...ranges, mhaWinSize: [-1] }));
    // Global attention sees all 8 keys instead of 3: 2 x 2 x 8 x (8 - 3) x 4 more.
    expect(global - local).toBe(640);
  });
});

describe('avaHeadForwardFlops', () => {
  it('is the linear layer over the pooled features', () => {
    expect(avaHeadForwardFlops(8, 96, 8)).toBe(2 * 8 * 96 * 8);
  });
});
