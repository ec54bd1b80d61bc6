/** Bad recipes fail before training starts, naming the field. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRecipe, isDirectionSensitive } from '../../src/train/plan.js';
import { parseRecipe, RecipeError } from '../../src/train/recipe.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'videomae-recipe-'));
  mkdirSync(join(dir, 'data'));
  for (const name of ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']) writeFileSync(join(dir, 'data', name), '');
  writeFileSync(join(dir, 'data', 'train.csv'), 'path,label\na.mp4,jumping\nb.mp4,moving_left\nc.mp4,jumping\nd.mp4,moving_left\n');
  writeFileSync(join(dir, 'data', 'labels.txt'), 'jumping\nmoving_left\n');
  writeFileSync(join(dir, 'data', 'other.csv'), 'path,label\na.mp4,swimming\n');
  writeFileSync(join(dir, 'data', 'missing.csv'), 'path,label\nnope.mp4,jumping\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function finetune(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stage: 'finetune',
    out: 'out',
    model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 32 },
    data: { train: 'data/train.csv' },
    optimizer: { lr: 1e-3 },
    epochs: 1,
    batch: 2,
    ...extra,
  };
}

function plan(stages: unknown[]): ReturnType<typeof planRecipe> {
  return planRecipe(parseRecipe({ name: 'r', stages }, dir));
}

function fieldOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).status).toBe(400);
    expect((error as RecipeError).code).toBe('invalid_recipe');
    return (error as RecipeError).field;
  }
  throw new Error('expected a RecipeError');
}

describe('recipe validation', () => {
  it('accepts a good recipe and plans it', () => {
    const [stage] = plan([finetune()]);
    expect(stage!.labels).toEqual(['jumping', 'moving_left']);
    expect(stage!.architecture.numClasses).toBe(2);
    expect(stage!.flip).toBe(false); // moving_left is direction-sensitive
    expect(stage!.train.map((e) => e.target)).toEqual([0, 1, 0, 1]);
  });

  it('names an unknown stage', () => {
    expect(fieldOf(() => plan([{ ...finetune(), stage: 'pretrian' }]))).toBe('stages[0].stage');
  });

  it('names missing data', () => {
    expect(fieldOf(() => plan([finetune({ data: { train: 'data/nothing.csv' } })]))).toBe('stages[0].data.train');
    expect(fieldOf(() => plan([finetune({ data: { train: 'data/missing.csv' } })]))).toBe('stages[0].data.train');
    expect(fieldOf(() => plan([finetune({ data: { train: 'data/train.csv', val: 'data/none.csv' } })]))).toBe('stages[0].data.val');
  });

  it('names a label absent from the label map', () => {
    const field = fieldOf(() => plan([finetune({ data: { train: ['data/train.csv', 'data/other.csv'], labels: 'data/labels.txt' } })]));
    expect(field).toBe('stages[0].data.train[1]');
  });

  it('names shapes that do not divide', () => {
    expect(fieldOf(() => plan([finetune({ model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 40 } })]))).toBe(
      'stages[0].model.imageHeight',
    );
    expect(fieldOf(() => plan([finetune({ model: { arch: 'vit_tiny_test', numFrames: 5, imageSize: 32 } })]))).toBe(
      'stages[0].model.numFrames',
    );
    expect(fieldOf(() => plan([finetune({ model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 32, numHeads: 3 } })]))).toBe(
      'stages[0].model.numHeads',
    );
    expect(fieldOf(() => plan([finetune({ model: { arch: 'vit_nano', numFrames: 4 } })]))).toBe('stages[0].model.arch');
    // 48 px / 16 = 3x3 tokens: no 2x2 running cells.
    const pretrain = { ...finetune({ model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 48 } }), stage: 'pretrain' };
    expect(fieldOf(() => plan([pretrain]))).toBe('stages[0].masking.decoderRatio');
  });

  it('names unknown fields, wrong types and impossible settings', () => {
    expect(fieldOf(() => plan([finetune({ epoch: 3 })]))).toBe('stages[0].epoch');
    expect(fieldOf(() => plan([finetune({ optimizer: { lr: -1 } })]))).toBe('stages[0].optimizer.lr');
    expect(fieldOf(() => plan([finetune({ batch: 8 })]))).toBe('stages[0].batch');
    expect(fieldOf(() => plan([finetune({ augment: { flip: true } })]))).toBe('stages[0].augment.flip');
    expect(fieldOf(() => plan([finetune({ init: 'previous' })]))).toBe('stages[0].init');
    expect(fieldOf(() => plan([finetune({ init: 'no/such/model' })]))).toBe('stages[0].init');
    expect(fieldOf(() => plan([finetune({ head: 'map' })]))).toBe('stages[0].head');
    expect(fieldOf(() => plan([{ ...finetune(), stage: 'distill', teacher: 'nowhere' }]))).toBe('stages[0].teacher');
    expect(fieldOf(() => plan([{ ...finetune({ model: undefined }) }]))).toBe('stages[0].model');
    expect(fieldOf(() => parseRecipe({ stages: [] }, dir))).toBe('name');
  });

  it('knows which labels a horizontal flip would change', () => {
    expect(isDirectionSensitive('moving_left')).toBe(true);
    expect(isDirectionSensitive('Pushing something from right to left')).toBe(true);
    expect(isDirectionSensitive('rotating_clockwise')).toBe(true);
    expect(isDirectionSensitive('playing guitar')).toBe(false);
    expect(isDirectionSensitive('brightness')).toBe(false);
  });
});
