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
import { exportModelFolder } from '../../src/kinds/index.js';
import { initBackend } from '../../src/tfjs/backend.js';
import { ParameterStore } from '../../src/train/parameter-store.js';
import { inputPatches, patchVectorLength } from '../../src/train/patchify.js';
import { classify, encode } from '../../src/train/vit.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { resizePositionTable } from '../../src/weights/position-resize.js';
import { sinusoidTable } from '../../src/weights/sinusoid-table.js';
import { seededUniform } from '../../src/weights/random-init.js';
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
    const geometry = {
      frames: config.numFrames,
      height: config.imageHeight,
      width: config.imageWidth,
      tubelet: config.tubeletSize,
      patch: config.patchSize,
    };
    const length = patchVectorLength(geometry);
    const all = Int32Array.from({ length: grid.count }, (_, i) => i);
    const patches = new Float32Array(batch * grid.count * length);
    const clipSize = video.data.length / batch;
    for (let b = 0; b < batch; b++)
      inputPatches(video.data.subarray(b * clipSize, (b + 1) * clipSize), geometry, all, patches, b * grid.count * length);

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

  it('agrees with ONNX Runtime on a full frame of another size (positions resized bicubically)', async () => {
    const folder = readModelFolder(dir);
    const config = folder.architecture;
    const p = config.patchSize;
    const grid = tokenGrid(config);
    // Two patches taller and three wider than trained: a non-square frame at another scale.
    const height = config.imageHeight + 2 * p;
    const width = config.imageWidth + 3 * p;
    const to = { h: height / p, w: width / p };
    const count = grid.t * to.h * to.w;
    const uniform = seededUniform(12);
    const clip = Float32Array.from({ length: 3 * config.numFrames * height * width }, () => uniform() * 2 - 1);
    const geometry = { frames: config.numFrames, height, width, tubelet: config.tubeletSize, patch: p };
    const length = patchVectorLength(geometry);
    const patches = new Float32Array(count * length);
    inputPatches(
      clip,
      geometry,
      Int32Array.from({ length: count }, (_, i) => i),
      patches,
    );
    const table = resizePositionTable(sinusoidTable(grid.count, config.embedDim), config.embedDim, {
      t: grid.t,
      from: { h: grid.h, w: grid.w },
      to,
    });
    const store = new ParameterStore(readSafetensors(folder.weightsPath).tensors);
    const tokens = tf.tidy(() =>
      encode(store, config, tf.tensor(patches, [1, count, length]), tf.tensor(table, [1, count, config.embedDim])),
    );
    const tfTokens = (await tokens.data()) as Float32Array;
    tokens.dispose();
    store.dispose();
    const { modelPath } = await exportModelFolder(dir);
    const session = await ort.InferenceSession.create(modelPath);
    const out = await session.run({ video: new ort.Tensor('float32', clip, [1, 3, config.numFrames, height, width]) });
    await session.release();
    expect(out.tokens!.dims).toEqual([1, count, config.embedDim]);
    expect(maxAbsDiff(tfTokens, out.tokens!.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });
});
