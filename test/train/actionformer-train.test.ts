/**
 * The `actionformer` stage as a user runs it on a features folder: training finds the actions
 * (held-out mAP well above chance), the folder it writes serves through ONNX Runtime with the
 * same detections the TF.js model gives, and bad recipes are refused naming the field.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddedLength, pyramidLevels } from '../../src/config/actionformer.js';
import { readTemporalModelFolder } from '../../src/config/manifest.js';
import { groundTruthInstances, readActivityNetAnnotations } from '../../src/datasets/activitynet.js';
import { loadTemporalDataset } from '../../src/datasets/temporal.js';
import { evaluateTemporalDetection, type TemporalPrediction } from '../../src/eval/temporal-map.js';
import { batchedNms } from '../../src/postprocess/soft-nms-1d.js';
import { decodeLevels, splitLevels, stepsToSeconds } from '../../src/postprocess/temporal-decode.js';
import { loadTemporalModel } from '../../src/runtime/model-registry.js';
import { float32Tensor } from '../../src/runtime/tensor.js';
import { parseRecipe } from '../../src/train/recipe.js';
import { trainRecipe } from '../../src/kinds/train.js';
import { FEATURE_TIMING, writeSyntheticFeatureDataset } from '../helpers/temporal-features.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-actionformer-'));
let data: { featuresDir: string; annotations: string };
beforeAll(() => {
  data = writeSyntheticFeatureDataset(dir, { train: 16, val: 4 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stage = (extra: Record<string, unknown> = {}) => ({
  stage: 'actionformer',
  out: 'detector',
  name: 'detector',
  data: { features: 'features', annotations: 'annotations.json' },
  model: {
    embdDim: 32,
    numHeads: 4,
    backboneArch: [2, 2, 3],
    mhaWinSize: 5,
    regressionRanges: [
      [0, 4],
      [4, 8],
      [8, 16],
      [16, 10000],
    ],
  },
  maxSeqLen: 128,
  epochs: 10,
  batch: 2,
  evalEvery: 10,
  optimizer: { lr: 0.001, warmupEpochs: 1 },
  ...extra,
});

describe('videomae train: actionformer stage', () => {
  it('learns to find the actions, and the served ONNX model gives the detections TF.js gives', async () => {
    const recipe = parseRecipe({ name: 'temporal', seed: 1, stages: [stage()] }, dir);
    const [result] = await trainRecipe(recipe, { backend: 'wasm', progress: { line: () => undefined, step: () => undefined } as never });
    expect(result!.completed).toBe(true);
    expect(result!.steps).toBe(80);
    // Held-out mAP over tIoU 0.3:0.7 (chance is near 0 for segments this short in 20-40 s videos).
    expect(result!.metrics.mAP).toBeGreaterThan(0.5);

    const folder = readTemporalModelFolder(join(dir, 'detector'));
    expect(folder.manifest).toMatchObject({
      task: 'temporal-detection',
      features: { backbone: 'synthetic', numFrames: 8, featureStride: 4 },
      provenance: { source: 'training', metrics: { mAP: result!.metrics.mAP } },
    });
    const log = readFileSync(join(dir, 'detector', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.filter((e) => e.type === 'step')).toHaveLength(80);

    // Serve the exported graph on the held-out videos and score it the same way.
    const model = await loadTemporalModel(join(dir, 'detector'), { device: 'cpu', threads: 1 });
    try {
      const dataset = loadTemporalDataset({
        featuresDir: data.featuresDir,
        annotationsFile: data.annotations,
        trainSubset: 'training',
        valSubset: 'validation',
        field: 'test',
      });
      const config = folder.manifest.actionformer;
      const predictions: TemporalPrediction[] = [];
      for (const sample of dataset.val) {
        const length = paddedLength(config, sample.length);
        const dim = sample.features.length / sample.length;
        const feats = new Float32Array(dim * length);
        for (let t = 0; t < sample.length; t++) for (let d = 0; d < dim; d++) feats[d * length + t] = sample.features[t * dim + d]!;
        const { outputs } = await model.runner.run(
          {
            feats: float32Tensor(feats, [1, dim, length]),
            mask: float32Tensor(new Float32Array(length).fill(1, 0, sample.length), [1, 1, length]),
          },
          ['cls_logits', 'offsets'],
        );
        const kept = batchedNms(
          decodeLevels(
            splitLevels(outputs.cls_logits!.data, outputs.offsets!.data, pyramidLevels(config), length, sample.length, config.numClasses),
            config.numClasses,
            folder.manifest.postprocess,
          ),
          folder.manifest.postprocess.nms,
        );
        const seconds = stepsToSeconds(kept.segments, { ...FEATURE_TIMING, duration: sample.durationSec });
        kept.scores.forEach((score, i) =>
          predictions.push({
            video: sample.video,
            label: model.labels[kept.labels[i]!]!,
            start: seconds[2 * i]!,
            end: seconds[2 * i + 1]!,
            score,
          }),
        );
      }
      const served = evaluateTemporalDetection(
        groundTruthInstances(readActivityNetAnnotations(data.annotations), 'validation'),
        predictions,
        [0.3, 0.4, 0.5, 0.6, 0.7],
      );
      expect(served.averageMAP).toBeCloseTo(result!.metrics.mAP!, 3);
    } finally {
      await model.runner.close();
    }
  });

  it('refuses a recipe mixing ActionFormer and backbone stages, and a maxSeqLen the official model would refuse', async () => {
    expect(() =>
      parseRecipe(
        {
          name: 'mixed',
          stages: [stage(), { stage: 'finetune', out: 'x', data: { train: 'a.csv' }, optimizer: { lr: 1 }, epochs: 1, batch: 1 }],
        },
        dir,
      ),
    ).toThrow(/recipe field 'stages\[1\]\.stage' mixes ActionFormer and backbone stages/);
    const recipe = parseRecipe({ name: 'odd', stages: [stage({ maxSeqLen: 100 })] }, dir);
    await expect(
      trainRecipe(recipe, { backend: 'wasm', progress: { line: () => undefined, step: () => undefined } as never }),
    ).rejects.toThrow(/recipe field 'stages\[0\]\.maxSeqLen'.*must be divisible by level \d's stride x window/);
    expect(() => parseRecipe({ name: 'typo', stages: [stage({ data: { features: 'f', annotations: 'a', subset: 'x' } })] }, dir)).toThrow(
      /recipe field 'stages\[0\]\.data\.subset' is not a known field/,
    );
  });
});
