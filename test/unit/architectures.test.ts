import { describe, expect, it } from 'vitest';
import { makeArchitecture, tokenGrid } from '../../src/config/architectures.js';
import { ServiceError } from '../../src/errors.js';
import { backboneParameters, elementCount } from '../../src/weights/parameters.js';

describe('official architectures', () => {
  it.each([
    ['vit_small_patch16_224', 16, 384, 12, 6, 1536],
    ['vit_base_patch16_224', 16, 768, 12, 12, 3072],
    ['vit_large_patch16_224', 16, 1024, 24, 16, 4096],
    ['vit_huge_patch16_224', 16, 1280, 32, 16, 5120],
    ['vit_giant_patch14_224', 14, 1408, 40, 16, 6144],
  ])('%s has patch %i, width %i, depth %i, %i heads, MLP %i', (arch, patch, dim, depth, heads, mlp) => {
    const config = makeArchitecture(arch);
    expect(config).toMatchObject({
      patchSize: patch,
      embedDim: dim,
      depth,
      numHeads: heads,
      mlpHiddenDim: mlp,
      tubeletSize: 2,
      layerNormEps: 1e-6,
      numFrames: 16,
      imageHeight: 224,
    });
  });

  it('counts ViT-B parameters as the official model (86.5 M with a 400-class head)', () => {
    const params = backboneParameters(makeArchitecture('vit_base_patch16_224', { numClasses: 400 }));
    const total = params.reduce((sum, p) => sum + elementCount(p.shape), 0);
    // conv 1,180,416 + 12 blocks x 7,087,104 + fc_norm 1,536 + head 307,600
    expect(total).toBe(86_534_800);
    expect(params.find((p) => p.name === 'patch_embed.proj.weight')!.shape).toEqual([768, 3, 2, 16, 16]);
    expect(params.some((p) => p.name.includes('pos_embed'))).toBe(false);
  });

  it('gives the token grid T/2 x H/p x W/p', () => {
    expect(tokenGrid(makeArchitecture('vit_small_patch16_224'))).toEqual({ t: 8, h: 14, w: 14, count: 1568 });
    expect(tokenGrid(makeArchitecture('vit_giant_patch14_224')).count).toBe(8 * 16 * 16);
    expect(tokenGrid(makeArchitecture('vit_small_patch16_224', { numFrames: 8, imageHeight: 160, imageWidth: 320 })).count).toBe(
      4 * 10 * 20,
    );
  });

  it('rejects sizes the tube embedding cannot cut, naming the parameter', () => {
    expect(() => makeArchitecture('vit_small_patch16_224', { numFrames: 15 })).toThrow(/numFrames.*tubelet/);
    expect(() => makeArchitecture('vit_small_patch16_224', { imageSize: 200 })).toThrow(/imageHeight.*patch size 16/);
    expect(() => makeArchitecture('vit_small_patch16_224', { numHeads: 5 })).toThrow(/numHeads/);
    expect(() => makeArchitecture('vit_nope')).toThrow(ServiceError);
  });
});
