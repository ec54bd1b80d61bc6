/**
 * Every stage kind runs the one stage loop (src/train/stage-loop.ts), so ActionFormer and AVA
 * stages resume like the backbone stages (test/train/train-recipe.test.ts 'resuming an
 * interrupted stage'): interrupted mid-epoch and resumed from the checkpoint, they give the
 * per-step losses and the final weights of an uninterrupted run bit for bit, and a checkpoint of
 * a changed stage is refused.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticAvaDataset } from '../../src/datasets/synthetic-ava.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { trainRecipe } from '../../src/kinds/train.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { parseRecipe } from '../../src/train/recipe.js';
import type { StageResult, TrainOptions } from '../../src/train/stage-result.js';
import { REPO_MODELS } from '../helpers/models.js';
import { writeSyntheticFeatureDataset } from '../helpers/temporal-features.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-resume-'));
const quiet = { line: () => undefined, step: () => undefined, count: () => undefined } as unknown as TrainOptions['progress'];
const options: TrainOptions = { backend: 'wasm', progress: quiet! };

beforeAll(async () => {
  writeSyntheticFeatureDataset(dir, { train: 8, val: 2 });
  await makeSyntheticAvaDataset({ out: join(dir, 'ava'), videos: 8, seconds: 6, size: 64, fps: 8, seed: 3, valFraction: 0.25 });
  cpSync(join(REPO_MODELS, 'default'), join(dir, 'default'), { recursive: true, filter: (s) => !s.endsWith('.onnx') });
  await exportModelFolder(join(dir, 'default'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const actionformer = (out: string, lr = 0.001) => ({
  name: 'resume-af',
  seed: 5,
  stages: [
    {
      stage: 'actionformer',
      out,
      data: { features: 'features', annotations: 'annotations.json' },
      model: {
        embdDim: 16,
        numHeads: 2,
        backboneArch: [2, 1, 2],
        mhaWinSize: 5,
        regressionRanges: [
          [0, 4],
          [4, 8],
          [8, 10000],
        ],
      },
      maxSeqLen: 64,
      epochs: 2,
      batch: 3,
      optimizer: { lr, warmupEpochs: 1 },
      export: false,
    },
  ],
});

const ava = (out: string, extra: Record<string, unknown> = {}) => ({
  name: 'resume-ava',
  seed: 6,
  stages: [
    {
      stage: 'ava',
      out,
      backbone: 'default',
      data: { train: 'ava/train.csv', val: 'ava/val.csv', labels: 'ava/labels.txt' },
      clip: { rate: 2, shortSide: 48 },
      epochs: 2,
      batch: 8,
      optimizer: { lr: 0.01, warmupEpochs: 0.5 },
      export: false,
      ...extra,
    },
  ],
});

/** Runs `recipe(out)` uninterrupted into `<name>-straight`, and into `<name>-split` stopped after `stopAfter` steps then resumed. */
async function straightAndSplit(
  name: string,
  recipe: (out: string) => unknown,
  stopAfter: number,
): Promise<{ straight: StageResult; first: StageResult; rest: StageResult }> {
  const [straight] = await trainRecipe(parseRecipe(recipe(`${name}-straight`), dir), options);
  const [first] = await trainRecipe(parseRecipe(recipe(`${name}-split`), dir), { ...options, stopAfter });
  expect(first!.completed).toBe(false);
  const checkpoint = join(dir, `${name}-split`, 'checkpoint.safetensors');
  expect(readCheckpoint(checkpoint).state.step).toBe(stopAfter);
  const [rest] = await trainRecipe(parseRecipe(recipe(`${name}-split`), dir), { ...options, resume: checkpoint });
  expect(rest!.completed).toBe(true);
  return { straight: straight!, first: first!, rest: rest! };
}

/** The two runs' files of one name are byte for byte the same. */
const sameFile = (name: string, file: string): boolean =>
  Buffer.compare(readFileSync(join(dir, `${name}-straight`, file)), readFileSync(join(dir, `${name}-split`, file))) === 0;

const stepRecords = (folder: string): number =>
  readFileSync(join(folder, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => JSON.parse(l).type === 'step').length;

describe('resuming an interrupted actionformer stage', () => {
  it('gives the losses and weights of an uninterrupted run, bit for bit', async () => {
    // 8 videos, batch 3: 3 steps an epoch; stopping after 4 resumes mid-epoch with the loss normalizer carried.
    const { straight, first, rest } = await straightAndSplit('af', (out) => actionformer(out), 4);
    expect(straight.losses).toHaveLength(6);
    expect([...first.losses, ...rest.losses]).toEqual(straight.losses);
    expect(sameFile('af', 'weights.safetensors')).toBe(true);
    expect(rest.metrics).toEqual(straight.metrics);
    expect(stepRecords(join(dir, 'af-split'))).toBe(6);
  }, 120_000);

  it('refuses a checkpoint whose stage changed, and --init', async () => {
    const [first] = await trainRecipe(parseRecipe(actionformer('af-changed'), dir), { ...options, stopAfter: 1 });
    expect(first!.completed).toBe(false);
    await expect(
      trainRecipe(parseRecipe(actionformer('af-changed', 0.01), dir), {
        ...options,
        resume: join(dir, 'af-changed', 'checkpoint.safetensors'),
      }),
    ).rejects.toThrow(/changed since checkpoint/);
    await expect(trainRecipe(parseRecipe(actionformer('af-init'), dir), { ...options, init: join(dir, 'default') })).rejects.toThrow(
      /--init does not apply to ActionFormer stages/,
    );
  }, 60_000);
});

describe('resuming an interrupted ava stage', () => {
  it('gives the losses and weights of an uninterrupted run, bit for bit (frozen backbone)', async () => {
    const { straight, first, rest } = await straightAndSplit('ava', (out) => ava(out), 3);
    expect(straight.steps).toBeGreaterThan(4);
    expect([...first.losses, ...rest.losses]).toEqual(straight.losses);
    expect(sameFile('ava', 'weights.safetensors')).toBe(true);
    expect(rest.metrics).toEqual(straight.metrics);
  }, 120_000);

  it('gives the losses and weights of an uninterrupted run, bit for bit (trained backbone)', async () => {
    const recipe = (out: string) => ava(out, { trainBackbone: true, epochs: 1, batch: 4, optimizer: { lr: 0.002, layerDecay: 0.75 } });
    const { straight, first, rest } = await straightAndSplit('e2e', recipe, 2);
    expect([...first.losses, ...rest.losses]).toEqual(straight.losses);
    expect(sameFile('e2e', 'weights.safetensors')).toBe(true);
    expect(
      Buffer.compare(
        readFileSync(join(dir, 'e2e-straight-backbone', 'weights.safetensors')),
        readFileSync(join(dir, 'e2e-split-backbone', 'weights.safetensors')),
      ),
    ).toBe(0);
  }, 180_000);

  it('refuses a checkpoint whose stage changed', async () => {
    const [first] = await trainRecipe(parseRecipe(ava('ava-changed'), dir), { ...options, stopAfter: 1 });
    expect(first!.completed).toBe(false);
    await expect(
      trainRecipe(parseRecipe(ava('ava-changed', { batch: 4 }), dir), {
        ...options,
        resume: join(dir, 'ava-changed', 'checkpoint.safetensors'),
      }),
    ).rejects.toThrow(/changed since checkpoint/);
  }, 60_000);
});
