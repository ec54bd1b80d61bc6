/**
 * An AVA-labelled head (the 80 AVA v2.2 classes, the 60 evaluated ones marked): actions come out
 * with AVA's ids and names, and `evaluated` says which count in AVA's mAP.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256File, writeSpatiotemporalManifest } from '../../src/config/manifest.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { loadModel, loadSpatiotemporalModel } from '../../src/runtime/model-registry.js';
import { detectSpatiotemporal } from '../../src/tasks/spatiotemporal/detect.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { seededUniform } from '../../src/weights/random-init.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { REPO_MODELS } from '../helpers/models.js';
import { VideoFactory } from '../helpers/videos.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-ava-labels-'));
const videos = new VideoFactory();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  videos.cleanup();
});

describe('an AVA v2.2 head', () => {
  it('answers AVA ids and names, marking the 60 evaluated classes', async () => {
    const head = join(dir, 'ava80');
    mkdirSync(head);
    copyFileSync(join(REPO_MODELS, 'labels', 'ava_v2.2_80.txt'), join(head, 'labels.txt'));
    copyFileSync(join(REPO_MODELS, 'labels', 'ava_v2.2_evaluated_60.txt'), join(head, 'evaluated.txt'));
    const uniform = seededUniform(9);
    writeSafetensors(
      join(head, 'weights.safetensors'),
      new Map([
        ['head.weight', { shape: [80, 96], data: Float32Array.from({ length: 80 * 96 }, () => uniform() - 0.5) }],
        ['head.bias', { shape: [80], data: new Float32Array(80) }],
      ]),
    );
    writeSpatiotemporalManifest(head, {
      schemaVersion: 1,
      name: 'ava80',
      task: 'spatiotemporal-detection',
      head: { embedDim: 96, numClasses: 80, roiSize: 7, samplingRatio: 2, patchSize: 8, temporalTokens: 4 },
      backbone: 'default',
      clip: { numFrames: 8, rate: 4, shortSide: 64 },
      labels: { file: 'labels.txt', set: 'ava_v2.2', evaluated: 'evaluated.txt' },
      files: {
        weights: { path: 'weights.safetensors', sha256: await sha256File(join(head, 'weights.safetensors')) },
        onnx: { path: 'model.onnx' },
      },
      provenance: { source: 'random-init', trained: false, metrics: {} },
    });
    await exportModelFolder(head);
    const model = await loadSpatiotemporalModel(head, { device: 'cpu' });
    const backbone = await loadModel(join(REPO_MODELS, 'default'), { device: 'cpu' });
    try {
      const result = await detectSpatiotemporal(
        { file: videos.pattern('ava80.mp4', 3, '160x120'), displayName: 'x' },
        { head: model, backbone },
        { boxes: [{ timestamp: 1.5, boxes: [[0.2, 0.1, 0.6, 0.9]] }], scoreThreshold: 0, topK: 80 },
        { limits: DEFAULT_LIMITS },
      );
      const actions = result.keyframes[0]!.people[0]!.actions;
      expect(actions).toHaveLength(80);
      expect(actions.find((a) => a.id === 1)).toMatchObject({ label: 'bend/bow (at the waist)', evaluated: true });
      expect(actions.find((a) => a.id === 2)).toMatchObject({ label: 'crawl', evaluated: false });
      expect(actions.filter((a) => a.evaluated)).toHaveLength(60);
    } finally {
      await model.runner.close();
      await backbone.runner.close();
    }
  });
});
