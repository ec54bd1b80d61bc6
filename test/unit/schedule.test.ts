import { describe, expect, it } from 'vitest';
import { layerDecayScale, layerId, learningRateAt, usesWeightDecay } from '../../src/train/schedule.js';

describe('learning-rate schedule', () => {
  const config = { lr: 1e-3, minLr: 1e-5, warmupSteps: 10, totalSteps: 110 };
  it('warms up linearly from 0, then follows a half cosine to the minimum', () => {
    expect(learningRateAt(config, 0)).toBe(0);
    expect(learningRateAt(config, 5)).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(config, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(config, 60)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5), 12);
    expect(learningRateAt(config, 110)).toBeCloseTo(1e-5, 12);
    expect(learningRateAt(config, 500)).toBeCloseTo(1e-5, 12);
  });
});

describe('layer-wise decay and weight-decay groups', () => {
  it('numbers layers as the official get_layer_id_for_vit', () => {
    expect(layerId('patch_embed.proj.weight', 12)).toBe(0);
    expect(layerId('blocks.0.attn.qkv.weight', 12)).toBe(1);
    expect(layerId('blocks.11.mlp.fc2.bias', 12)).toBe(12);
    expect(layerId('fc_norm.weight', 12)).toBe(13);
    expect(layerId('head.weight', 12)).toBe(13);
  });
  it('scales lr by decay^(depth + 1 - layer)', () => {
    expect(layerDecayScale('head.weight', 4, 0.75)).toBe(1);
    expect(layerDecayScale('blocks.3.attn.proj.weight', 4, 0.75)).toBeCloseTo(0.75, 12);
    expect(layerDecayScale('patch_embed.proj.bias', 4, 0.75)).toBeCloseTo(0.75 ** 5, 12);
  });
  it('skips weight decay on biases, norms and 1-D parameters', () => {
    expect(usesWeightDecay('blocks.0.attn.qkv.weight', [3, 4])).toBe(true);
    expect(usesWeightDecay('blocks.0.attn.q_bias', [4])).toBe(false);
    expect(usesWeightDecay('blocks.0.norm1.weight', [4])).toBe(false);
    expect(usesWeightDecay('head.bias', [4])).toBe(false);
    expect(usesWeightDecay('mask_token', [1, 1, 4])).toBe(false);
  });
});
