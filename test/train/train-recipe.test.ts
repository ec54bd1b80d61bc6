/**
 * The training subsystem the way a user runs it: a synthetic dataset of real encoded videos, a
 * short recipe with every stage (pretrain -> finetune -> distill), the loss falling in each, the
 * exported model serving through POST /classify, and a resumed run equal to an uninterrupted one.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { makeSyntheticDataset } from '../../src/datasets/synthetic.js';
import { createApp } from '../../src/http/app.js';
import { ServiceState } from '../../src/http/service-state.js';
import { evaluateManifest } from '../../src/tasks/classify/evaluate.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { ProgressBar } from '../../src/train/progress.js';
import { parseRecipe } from '../../src/train/recipe.js';
import { trainRecipe } from '../../src/kinds/train.js';
import type { StageResult } from '../../src/train/stage-result.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { expectMatchesSpec } from '../helpers/openapi.js';
import { loadModels } from '../../src/kinds/load-models.js';

const quiet = () => new ProgressBar(new PassThrough() as unknown as NodeJS.WritableStream);
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

let dir: string;
let results: StageResult[];

const model = { arch: 'vit_tiny_test', numFrames: 4, imageSize: 32 };
const data = { train: 'data/train.csv', val: 'data/val.csv' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'videomae-train-'));
  await makeSyntheticDataset({
    out: join(dir, 'data'),
    classes: ['moving_left', 'moving_right', 'growing', 'still'],
    videosPerClass: 4,
    seed: 3,
    width: 32,
    height: 32,
    frames: 12,
    fps: 12,
  });
  const recipe = parseRecipe(
    {
      name: 'ci-short',
      seed: 2,
      stages: [
        {
          stage: 'pretrain',
          out: 'pretrain',
          model,
          data,
          optimizer: { lr: 3e-3, warmupEpochs: 0 },
          masking: { encoderRatio: 0.75, decoderRatio: 0.5 },
          epochs: 4,
          batch: 4,
          maxSteps: 10,
        },
        {
          stage: 'finetune',
          init: 'previous',
          out: 'finetune',
          data,
          optimizer: { lr: 3e-3, layerDecay: 0.75, clipGrad: 5 },
          epochs: 4,
          batch: 4,
          maxSteps: 10,
          dropPath: 0,
          labelSmoothing: 0.1,
          mixup: 0.2,
          cutmix: 0.2,
        },
        // A fresh student learns from the fine-tuned teacher.
        {
          stage: 'distill',
          model,
          teacher: 'finetune',
          out: 'distill',
          data,
          optimizer: { lr: 3e-3 },
          epochs: 4,
          batch: 4,
          maxSteps: 8,
          temperature: 2,
          alpha: 0.5,
          dropPath: 0,
        },
      ],
    },
    dir,
  );
  results = await trainRecipe(recipe, { progress: quiet(), backend: 'wasm' });
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a short recipe with every stage', () => {
  it('runs pretrain, finetune and distill, each lowering its loss', () => {
    expect(results.map((r) => [r.stage, r.completed, r.steps])).toEqual([
      ['pretrain', true, 10],
      ['finetune', true, 10],
      ['distill', true, 8],
    ]);
    for (const r of results) {
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(mean(r.losses.slice(-3)), `${r.stage} losses ${r.losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(
        mean(r.losses.slice(0, 3)),
      );
    }
  });

  it('writes servable model folders with the recipe and its metrics', () => {
    for (const stage of ['pretrain', 'finetune', 'distill']) {
      const folder = readModelFolder(join(dir, stage));
      expect(existsSync(folder.onnxPath)).toBe(true);
      expect(existsSync(join(dir, stage, 'checkpoint.safetensors'))).toBe(false);
      expect(folder.manifest.provenance).toMatchObject({
        source: 'training',
        trained: true,
        recipe: { name: 'ci-short', stage: { stage } },
      });
      const log = readFileSync(join(dir, stage, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(log.filter((r) => r.type === 'step')).toHaveLength(stage === 'distill' ? 8 : 10);
      expect(log.some((r) => r.type === 'eval')).toBe(true);
    }
    const pretrained = readModelFolder(join(dir, 'pretrain'));
    expect(pretrained.architecture.decoder).toEqual({ embedDim: 32, depth: 4, numHeads: 2, mlpHiddenDim: 128 });
    const finetuned = readModelFolder(join(dir, 'finetune'));
    expect(finetuned.architecture.decoder).toBeUndefined();
    expect(finetuned.architecture.numClasses).toBe(4);
    expect(finetuned.manifest.provenance.metrics).toHaveProperty('top1');
    expect(finetuned.manifest.provenance.metrics).toHaveProperty('top5');
  });

  it('serves the trained models through POST /classify and lists them in GET /models', async () => {
    mkdirSync(join(dir, 'uploads'), { recursive: true });
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: join(dir, 'uploads') });
    const models = join(dir, 'serve');
    rmSync(models, { recursive: true, force: true });
    cpSync(join(dir, 'finetune'), join(models, 'finetune'), { recursive: true });
    cpSync(join(dir, 'distill'), join(models, 'distill'), { recursive: true });
    state.setRegistry(await loadModels(models, { device: 'cpu' }, 'ci-short-finetune-1'));
    const server: Server = createApp(state).listen(0);
    try {
      const video = join(dir, 'data', 'videos', 'moving_right_0000.mp4');
      for (const name of ['ci-short-finetune-1', 'ci-short-distill-2']) {
        const res = await request(server).post('/classify').query({ model: name }).attach('video', video);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expectMatchesSpec(res, 'POST', '/classify');
        expect(res.body.model).toBe(name);
        expect(res.body.untrained).toBe(false);
        expect(res.body.labels.map((l: { label: string }) => l.label).sort()).toEqual(['growing', 'moving_left', 'moving_right', 'still']);
      }
      const listed = await request(server).get('/models');
      expect(listed.status).toBe(200);
      expectMatchesSpec(listed, 'GET', '/models');
      const info = listed.body.models.find((m: { name: string }) => m.name === 'ci-short-finetune-1');
      expect(info.provenance.recipe).toMatchObject({ name: 'ci-short', stageIndex: 1 });
      expect(info.provenance.metrics).toHaveProperty('top1');

      // The served path (ffmpeg + ONNX Runtime) on the held-out split, one view per video as in
      // training-time evaluation, agrees with the TF.js figure recorded in the manifest.
      const served = await evaluateManifest(join(dir, 'data', 'val.csv'), state.registry.resolve('ci-short-finetune-1'), {
        numClips: 1,
        numCrops: 1,
      });
      expect(served.videos).toBe(4);
      expect(served.top1).toBeCloseTo(info.provenance.metrics.top1, 6);
      expect(served.top5).toBeCloseTo(info.provenance.metrics.top5, 6);
    } finally {
      server.close();
      await state.registry.close();
    }
  });
});

describe('post-pretraining on merged label spaces, then a target set with the head mapped', () => {
  it('merges identical names and copies head rows by name', async () => {
    await makeSyntheticDataset({
      out: join(dir, 'setA'),
      classes: ['moving_left', 'still', 'growing'],
      videosPerClass: 2,
      valFraction: 0.5,
      seed: 11,
      width: 32,
      height: 32,
      frames: 8,
    });
    await makeSyntheticDataset({
      out: join(dir, 'setB'),
      classes: ['still', 'shrinking', 'moving_left'],
      videosPerClass: 2,
      valFraction: 0.5,
      seed: 12,
      width: 32,
      height: 32,
      frames: 8,
    });
    const recipe = parseRecipe(
      {
        name: 'merge',
        seed: 4,
        stages: [
          {
            stage: 'finetune',
            out: 'merged',
            model,
            data: { train: ['setA/train.csv', 'setB/train.csv'] },
            optimizer: { lr: 1e-3 },
            epochs: 1,
            batch: 2,
            maxSteps: 3,
            export: false,
          },
          // A negligible lr: the target head after one step is the mapped head.
          {
            stage: 'finetune',
            init: 'previous',
            head: 'map',
            out: 'target',
            data: { train: 'setB/train.csv', val: 'setB/val.csv' },
            optimizer: { lr: 1e-12, weightDecay: 0 },
            epochs: 1,
            batch: 2,
            maxSteps: 1,
            export: false,
          },
        ],
      },
      dir,
    );
    await trainRecipe(recipe, { progress: quiet(), backend: 'wasm' });
    expect(
      readFileSync(join(dir, 'merged', 'labels.txt'), 'utf8')
        .trim()
        .split('\n'),
    ).toEqual(['moving_left', 'still', 'growing', 'shrinking']);
    expect(
      readFileSync(join(dir, 'target', 'labels.txt'), 'utf8')
        .trim()
        .split('\n'),
    ).toEqual(['still', 'shrinking', 'moving_left']);
    const { readSafetensors } = await import('../../src/weights/safetensors.js');
    const merged = readSafetensors(join(dir, 'merged', 'weights.safetensors')).tensors;
    const target = readSafetensors(join(dir, 'target', 'weights.safetensors')).tensors;
    const d = 64;
    const row = (t: typeof merged, i: number) => Array.from(t.get('head.weight')!.data.subarray(i * d, (i + 1) * d));
    for (const [targetRow, mergedRow] of [
      [0, 1],
      [1, 3],
      [2, 0],
    ]) {
      const a = row(target, targetRow!);
      const b = row(merged, mergedRow!);
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-6);
      expect(target.get('head.bias')!.data[targetRow!]).toBeCloseTo(merged.get('head.bias')!.data[mergedRow!]!, 6);
    }
  }, 60_000);
});

// ActionFormer and AVA stages resume through the same loop: test/train/resume-stages.test.ts.
describe('resuming an interrupted stage', () => {
  const stage = (out: string) => ({
    name: 'resume',
    seed: 9,
    stages: [
      {
        stage: 'finetune',
        out,
        model,
        data,
        optimizer: { lr: 2e-3, warmupEpochs: 1, layerDecay: 0.75, clipGrad: 1 },
        epochs: 3,
        batch: 4,
        dropPath: 0.2,
        mixup: 0.8,
        cutmix: 1,
        export: false,
      },
    ],
  });

  it('gives the same losses as an uninterrupted run with the same seed', async () => {
    const straight = await trainRecipe(parseRecipe(stage('straight'), dir), { progress: quiet(), backend: 'wasm' });
    const first = await trainRecipe(parseRecipe(stage('split'), dir), { progress: quiet(), backend: 'wasm', stopAfter: 4 });
    expect(first[0]!.completed).toBe(false);
    const checkpointFile = join(dir, 'split', 'checkpoint.safetensors');
    expect(readCheckpoint(checkpointFile).state.step).toBe(4);
    const rest = await trainRecipe(parseRecipe(stage('split'), dir), { progress: quiet(), backend: 'wasm', resume: checkpointFile });
    expect(rest[0]!.completed).toBe(true);
    expect([...first[0]!.losses, ...rest[0]!.losses]).toEqual(straight[0]!.losses);
    expect(straight[0]!.losses).toHaveLength(9);
    // The checkpoint carries the last losses, so the resumed run reports the same train_loss.
    expect(rest[0]!.metrics.train_loss).toBe(straight[0]!.metrics.train_loss);
    const a = readFileSync(join(dir, 'straight', 'weights.safetensors'));
    const b = readFileSync(join(dir, 'split', 'weights.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
  }, 120_000);

  it('refuses a checkpoint whose stage changed', async () => {
    const first = await trainRecipe(parseRecipe(stage('changed'), dir), { progress: quiet(), backend: 'wasm', stopAfter: 2 });
    expect(first[0]!.completed).toBe(false);
    const changed = stage('changed');
    changed.stages[0]!.optimizer.lr = 1e-2;
    await expect(
      trainRecipe(parseRecipe(changed, dir), {
        progress: quiet(),
        backend: 'wasm',
        resume: join(dir, 'changed', 'checkpoint.safetensors'),
      }),
    ).rejects.toThrow(/changed since checkpoint/);
    writeFileSync(join(dir, 'bogus.safetensors'), Buffer.alloc(16));
    await expect(
      trainRecipe(parseRecipe(stage('changed'), dir), { progress: quiet(), backend: 'wasm', resume: join(dir, 'bogus.safetensors') }),
    ).rejects.toThrow();
  }, 60_000);
});
