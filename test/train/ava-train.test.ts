/**
 * The `ava` stage as a user runs it: synthetic AVA data on disk, the bundled backbone frozen, the
 * head trained in TF.js; the folder it writes serves, and its served scores give the frame mAP the
 * stage reported (ground-truth boxes as proposals).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSpatiotemporalModelFolder } from '../../src/config/manifest.js';
import { makeSyntheticAvaDataset } from '../../src/datasets/synthetic-ava.js';
import { readAvaGroundTruth } from '../../src/datasets/ava.js';
import { evaluateAva, type AvaDetection } from '../../src/eval/ava-map.js';
import { loadModel, loadSpatiotemporalModel } from '../../src/runtime/model-registry.js';
import { detectSpatiotemporal } from '../../src/tasks/spatiotemporal/detect.js';
import { avaHeadConfigOf } from '../../src/onnx/export-model.js';
import { buildAvaHeadGraph } from '../../src/onnx/ava-head-graph.js';
import { writeModel } from '../../src/onnx/serialize.js';
import { WorkerRunner } from '../../src/runtime/worker-runner.js';
import { clipSettingsOf, pooledFeatures } from '../../src/train/ava-trainer.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { parseRecipe } from '../../src/train/recipe.js';
import { trainRecipe } from '../../src/kinds/train.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { REPO_MODELS } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-ava-train-'));
beforeAll(async () => {
  await makeSyntheticAvaDataset({ out: join(dir, 'data'), videos: 8, seconds: 6, size: 64, fps: 8, seed: 3, valFraction: 0.25 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('videomae train: ava stage', () => {
  it('trains the head on the frozen backbone; the served folder reproduces the reported frame mAP', async () => {
    const recipe = parseRecipe(
      {
        name: 'ava-test',
        seed: 1,
        stages: [
          {
            stage: 'ava',
            name: 'ava',
            out: 'head',
            backbone: join(REPO_MODELS, 'default'),
            data: { train: 'data/train.csv', val: 'data/val.csv', labels: 'data/labels.txt' },
            clip: { rate: 2, shortSide: 64 },
            epochs: 10,
            batch: 16,
            evalEvery: 10,
            optimizer: { lr: 0.01 },
          },
        ],
      },
      dir,
    );
    const [result] = await trainRecipe(recipe, { backend: 'wasm', progress: { line: () => undefined, step: () => undefined } as never });
    expect(result!.completed).toBe(true);
    expect(result!.losses[result!.losses.length - 1]!).toBeLessThan(result!.losses[0]!);
    const reported = result!.metrics['frame_mAP@0.5']!;
    expect(reported).toBeGreaterThan(0);
    const folder = readSpatiotemporalModelFolder(join(dir, 'head'));
    expect(folder.manifest).toMatchObject({
      task: 'spatiotemporal-detection',
      backbone: 'default',
      clip: { numFrames: 8, rate: 2, shortSide: 64 },
      head: { numClasses: 8, embedDim: 96 },
    });

    // Serve it: the val keyframes with their ground-truth boxes as the people.
    const head = await loadSpatiotemporalModel(join(dir, 'head'), { device: 'cpu' });
    const backbone = await loadModel(join(REPO_MODELS, 'default'), { device: 'cpu' });
    try {
      const gt = readAvaGroundTruth(join(dir, 'data', 'val.csv'));
      const detections: AvaDetection[] = [];
      for (const video of [...new Set(gt.map((g) => g.video))]) {
        const rows = gt.filter((g) => g.video === video);
        const byTime = new Map<number, number[][]>();
        for (const r of rows) {
          const list = byTime.get(r.timestamp) ?? byTime.set(r.timestamp, []).get(r.timestamp)!;
          if (!list.some((b) => b.every((v, i) => Math.abs(v - r.box[i]!) < 1e-6))) list.push([...r.box]);
        }
        const served = await detectSpatiotemporal(
          { file: join(dir, 'data', 'videos', `${video}.mp4`), displayName: video },
          { head, backbone },
          { boxes: [...byTime].map(([timestamp, boxes]) => ({ timestamp, boxes })), scoreThreshold: 0, topK: 8 },
          { limits: DEFAULT_LIMITS },
        );
        for (const k of served.keyframes)
          for (const p of k.people)
            for (const a of p.actions) detections.push({ video, timestamp: k.time, box: p.box, actionId: a.id, score: a.score });
      }
      const servedMap = evaluateAva(gt, detections, { classes: head.classes.map((c) => c.id), detectionsPerFrame: Infinity }).mAP;
      // Same scores (checked below to 1e-5); only the order among scores that underflow to 0 in
      // ONNX Runtime's float32 sigmoid (TF.js keeps tiny positives) can differ, which moves AP a little.
      expect(Math.abs(servedMap - reported)).toBeLessThan(0.05);

      // The served scores equal the head applied to the training path's pooled features.
      const weights = readSafetensors(folder.weightsPath).tensors;
      const W = weights.get('head.weight')!.data;
      const Bias = weights.get('head.bias')!.data;
      const video = gt[0]!.video;
      const t = gt[0]!.timestamp;
      const boxes = gt
        .filter((g) => g.video === video && g.timestamp === t)
        .map((g) => g.box)
        .filter((b, i, all) => all.findIndex((o) => o.every((v, j) => v === b[j])) === i);
      writeModel(buildAvaHeadGraph(avaHeadConfigOf(folder.manifest), weights), join(dir, 'pool.onnx'));
      const pooling = await WorkerRunner.create(join(dir, 'pool.onnx'), { device: 'cpu' });
      const [pooled] = await pooledFeatures(
        [{ video, timestamp: t, boxes, targets: [] }],
        backbone,
        pooling,
        join(dir, 'data', 'videos'),
        clipSettingsOf(folder.manifest, backbone.folder.manifest.preprocessing),
        'test',
      );
      await pooling.close();
      const served = await detectSpatiotemporal(
        { file: join(dir, 'data', 'videos', `${video}.mp4`), displayName: video },
        { head, backbone },
        { boxes: [{ timestamp: t, boxes: boxes.map((b) => [...b]) }], scoreThreshold: 0, topK: 8 },
        { limits: DEFAULT_LIMITS },
      );
      const D = 96;
      served.keyframes[0]!.people.forEach((p, b) => {
        for (const a of p.actions) {
          const k = head.classes.findIndex((c) => c.id === a.id);
          let logit = Bias[k]!;
          for (let j = 0; j < D; j++) logit += pooled![b * D + j]! * W[k * D + j]!;
          expect(Math.abs(a.score - 1 / (1 + Math.exp(-logit)))).toBeLessThan(1e-5);
        }
      });
    } finally {
      await head.runner.close();
      await backbone.runner.close();
    }
  });

  it('trains the backbone with the head on request; the fine-tuned encoder serves beside the head and agrees', async () => {
    // Short side 48: a 3x3 token grid, so the positional table is resized from the trained 4x4.
    const recipe = parseRecipe(
      {
        name: 'ava-e2e',
        seed: 2,
        stages: [
          {
            stage: 'ava',
            name: 'ava-e2e',
            out: 'e2e',
            backbone: join(REPO_MODELS, 'default'),
            data: { train: 'data/train.csv', val: 'data/val.csv', labels: 'data/labels.txt' },
            clip: { rate: 2, shortSide: 48 },
            trainBackbone: true,
            epochs: 3,
            batch: 4,
            evalEvery: 3,
            optimizer: { lr: 0.002, layerDecay: 0.75 },
          },
        ],
      },
      dir,
    );
    const [result] = await trainRecipe(recipe, { backend: 'wasm', progress: { line: () => undefined, step: () => undefined } as never });
    const first = result!.losses.slice(0, 3).reduce((s, v) => s + v, 0);
    const last = result!.losses.slice(-3).reduce((s, v) => s + v, 0);
    expect(last).toBeLessThan(first);
    const folder = readSpatiotemporalModelFolder(join(dir, 'e2e'));
    expect(folder.manifest).toMatchObject({ backbone: 'ava-e2e-backbone', clip: { shortSide: 48 } });
    const tuned = readSafetensors(join(dir, 'e2e-backbone', 'weights.safetensors')).tensors;
    const original = readSafetensors(join(REPO_MODELS, 'default', 'weights.safetensors')).tensors;
    expect(tuned.has('head.weight')).toBe(false);
    const changed = (name: string): number => Math.max(...tuned.get(name)!.data.map((v, i) => Math.abs(v - original.get(name)!.data[i]!)));
    expect(changed('blocks.0.attn.qkv.weight')).toBeGreaterThan(1e-4);
    expect(changed('fc_norm.weight')).toBe(0);

    // Served through ONNX Runtime with the fine-tuned encoder: the frame mAP the stage reported.
    const head = await loadSpatiotemporalModel(join(dir, 'e2e'), { device: 'cpu' });
    const backbone = await loadModel(join(dir, 'e2e-backbone'), { device: 'cpu' });
    try {
      const gt = readAvaGroundTruth(join(dir, 'data', 'val.csv'));
      const detections: AvaDetection[] = [];
      for (const video of [...new Set(gt.map((g) => g.video))]) {
        const byTime = new Map<number, number[][]>();
        for (const r of gt.filter((g) => g.video === video)) {
          const list = byTime.get(r.timestamp) ?? byTime.set(r.timestamp, []).get(r.timestamp)!;
          if (!list.some((b) => b.every((v, i) => Math.abs(v - r.box[i]!) < 1e-6))) list.push([...r.box]);
        }
        const served = await detectSpatiotemporal(
          { file: join(dir, 'data', 'videos', `${video}.mp4`), displayName: video },
          { head, backbone },
          { boxes: [...byTime].map(([timestamp, boxes]) => ({ timestamp, boxes })), scoreThreshold: 0, topK: 8 },
          { limits: DEFAULT_LIMITS },
        );
        expect(served.clip.input).toEqual({ width: 48, height: 48 });
        for (const k of served.keyframes)
          for (const p of k.people)
            for (const a of p.actions) detections.push({ video, timestamp: k.time, box: p.box, actionId: a.id, score: a.score });
      }
      const servedMap = evaluateAva(gt, detections, { classes: head.classes.map((c) => c.id), detectionsPerFrame: Infinity }).mAP;
      expect(Math.abs(servedMap - result!.metrics['frame_mAP@0.5']!)).toBeLessThan(0.05);
    } finally {
      await head.runner.close();
      await backbone.runner.close();
    }
  });
});
