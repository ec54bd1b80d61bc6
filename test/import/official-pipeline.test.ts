/**
 * The goal of importing: a real video through `videomae predict`'s path gives the probabilities
 * of the official VideoMAE V2 test pipeline (tools/make_official_pipeline_golden.py: OpenCV decode,
 * cv2.resize INTER_LINEAR, the k400 test views, PyTorch, softmax averaged over views), for the
 * checkpoint fixture imported as a user imports it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportModelFolder } from '../../src/kinds/index.js';
import { loadModel } from '../../src/runtime/model-registry.js';
import { classifyVideo } from '../../src/tasks/classify/pipeline.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { importCheckpoint } from '../../src/weights/import-checkpoint.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const golden = JSON.parse(readFileSync(join(FIXTURES, 'official-pipeline', 'vtest-k400.json'), 'utf8')) as {
  probabilities: number[];
  frames: number;
};
const work = mkdtempSync(join(tmpdir(), 'videomae-official-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('an imported checkpoint on a real video, against the official test pipeline', () => {
  it.skipIf(!existsSync(VTEST))('vtest.avi, k400 protocol (5 clips x 3 crops): averaged probabilities within 1e-4', async () => {
    const dir = join(work, 'tiny-k710');
    await importCheckpoint({
      checkpoint: join(FIXTURES, 'checkpoints', 'finetune-module.pth'),
      out: dir,
      protocol: 'k400',
      arch: 'vit_small_patch16_224',
      architecture: { depth: 2, embedDim: 32, numHeads: 2, patchSize: 8, numFrames: 4, imageSize: 16 },
      finish: async (staged) => {
        await exportModelFolder(staged);
      },
    });
    const model = await loadModel(dir, { device: 'cpu' });
    try {
      const result = await classifyVideo({ file: VTEST }, model, { topK: 710 }, { limits: DEFAULT_LIMITS, maxBatch: 4 });
      expect(result.video.frameCount).toBe(golden.frames);
      expect(result.protocol).toMatchObject({ name: 'k400', numClips: 5, numCrops: 3, numFrames: 4, samplingRate: 4, views: 15 });
      const ours = new Float64Array(710);
      for (const label of result.labels) ours[label.index] = label.score;
      let worst = 0;
      golden.probabilities.forEach((p, i) => {
        worst = Math.max(worst, Math.abs(p - ours[i]!));
      });
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(result.labels[0]!.index).toBe(golden.probabilities.indexOf(Math.max(...golden.probabilities)));
    } finally {
      await model.runner.close();
    }
  });
});
