/**
 * The TF.js encoder against ONNX Runtime and the PyTorch reference: the same safetensors loaded
 * into both, the same clips, outputs within 1e-4.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { tokenGrid } from '../../src/config/architectures.js';
import { exportModelFolder } from '../../src/onnx/export-model.js';
import { initBackend } from '../../src/train/backend.js';
import { ParameterStore } from '../../src/train/parameter-store.js';
import { inputPatches, patchVectorLength } from '../../src/train/patchify.js';
import { classify, encode } from '../../src/train/vit.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { sinusoidTable } from '../../src/weights/sinusoid-table.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'parity-tiny');

describe('TF.js encoder parity', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'videomae-tfjs-parity-'));
    cpSync(FIXTURE, dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the logits and tokens of ONNX Runtime and PyTorch within 1e-4', async () => {
    const folder = readModelFolder(dir);
    const config = folder.architecture;
    const weights = readSafetensors(folder.weightsPath).tensors;
    const video = readSafetensors(join(FIXTURE, 'io.safetensors')).tensors.get('video')!;
    const [batch] = video.shape as [number];
    const grid = tokenGrid(config);
    const geometry = { frames: config.numFrames, height: config.imageHeight, width: config.imageWidth, tubelet: config.tubeletSize, patch: config.patchSize };
    const length = patchVectorLength(geometry);
    const all = Int32Array.from({ length: grid.count }, (_, i) => i);
    const patches = new Float32Array(batch * grid.count * length);
    const clipSize = video.data.length / batch;
    for (let b = 0; b < batch; b++) inputPatches(video.data.subarray(b * clipSize, (b + 1) * clipSize), geometry, all, patches, b * grid.count * length);

    const store = new ParameterStore(weights);
    const [logits, tokens] = tf.tidy(() => {
      const positions = tf.tensor(sinusoidTable(grid.count, config.embedDim), [1, grid.count, config.embedDim]);
      const t = encode(store, config, tf.tensor(patches, [batch, grid.count, length]), positions);
      return [classify(store, config, t), t];
    });
    const tfLogits = (await logits!.data()) as Float32Array;
    const tfTokens = (await tokens!.data()) as Float32Array;
    tf.dispose([logits!, tokens!]);
    store.dispose();

    const { modelPath } = await exportModelFolder(dir);
    const session = await ort.InferenceSession.create(modelPath);
    const out = await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
    await session.release();
    expect(maxAbsDiff(tfLogits, out.logits!.data as Float32Array)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(tfTokens, out.tokens!.data as Float32Array)).toBeLessThanOrEqual(1e-4);
    const reference = readSafetensors(join(FIXTURE, 'io.safetensors')).tensors;
    expect(maxAbsDiff(tfLogits, reference.get('logits')!.data)).toBeLessThanOrEqual(1e-4);
  });
});
