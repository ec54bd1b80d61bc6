/**
 * The exported graph against an independent PyTorch implementation (tools/make_parity_fixture.py):
 * same weights, same input, outputs within 1e-4.
 */
import { cpSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staleExportReason } from '../../src/onnx/export-model.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { readModelFolder } from '../../src/config/manifest.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'parity-tiny');

describe('ViT export parity with the PyTorch reference', () => {
  let dir: string;
  const io = readSafetensors(join(FIXTURE, 'io.safetensors')).tensors;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'videomae-parity-'));
    cpSync(FIXTURE, dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runExported(modelPath: string): Promise<Record<string, ort.Tensor>> {
    const session = await ort.InferenceSession.create(modelPath);
    const video = io.get('video')!;
    try {
      return await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
    } finally {
      await session.release();
    }
  }

  it('matches logits, features and tokens within 1e-4 at batch 2', async () => {
    const result = await exportModelFolder(dir);
    expect(result.externalDataPath).toBeUndefined();
    const outputs = await runExported(result.modelPath);
    for (const name of ['logits', 'features', 'tokens']) {
      const expected = io.get(name)!;
      const actual = outputs[name]!;
      expect(actual.dims).toEqual(expected.shape);
      expect(maxAbsDiff(actual.data as Float32Array, expected.data)).toBeLessThanOrEqual(1e-4);
    }
    expect(staleExportReason(readModelFolder(dir))).toBeUndefined();
  });

  it('writes external data when the weights pass the threshold, with the same outputs', async () => {
    const result = await exportModelFolder(dir, { externalDataThreshold: 1024 });
    expect(result.externalDataPath).toBeDefined();
    expect(existsSync(result.externalDataPath!)).toBe(true);
    const outputs = await runExported(result.modelPath);
    const expected = io.get('logits')!;
    expect(maxAbsDiff(outputs.logits!.data as Float32Array, expected.data)).toBeLessThanOrEqual(1e-4);
  });
});
