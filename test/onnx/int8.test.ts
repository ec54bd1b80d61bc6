/**
 * The int8 and fused-attention exports on trained weights (the bundled default): fused attention
 * against the plain graph, and int8 against float32 through the served path on decoded clips.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { makeSyntheticDataset } from '../../src/datasets/synthetic.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { vitKind } from '../../src/kinds/vit.js';
import { graphFormOf } from '../../src/onnx/export-model.js';
import { readModelMetadata, writeModel } from '../../src/onnx/serialize.js';
import { buildVitGraph, type VitGraphOptions } from '../../src/onnx/vit-graph.js';
import { loadModel, type LoadedModel } from '../../src/runtime/model-registry.js';
import { evaluateManifest } from '../../src/tasks/classify/evaluate.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { copyBundledModels } from '../helpers/models.js';
import { maxAbsDiff } from '../helpers/numeric.js';

let dir: string;
let fp32Dir: string;
let int8Dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'videomae-int8-'));
  await copyBundledModels(join(dir, 'fp32'), ['default']);
  fp32Dir = join(dir, 'fp32', 'default');
  int8Dir = join(dir, 'int8', 'default');
  mkdirSync(join(dir, 'int8'));
  cpSync(fp32Dir, int8Dir, { recursive: true });
  await exportModelFolder(int8Dir, { int8: true, attention: 'fused' });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The bundled weights as a graph of the given form, run on one fixed batch of 2. */
async function outputs(options: VitGraphOptions): Promise<Record<string, Float32Array>> {
  const folder = readModelFolder(fp32Dir);
  const a = folder.architecture;
  const path = join(dir, `graph-${options.int8 ? 'int8' : 'fp32'}-${options.attention ?? 'plain'}.onnx`);
  writeModel(buildVitGraph(a, readSafetensors(folder.weightsPath).tensors, {}, options), path);
  const dims = [2, 3, a.numFrames, a.imageHeight, a.imageWidth];
  const video = Float32Array.from({ length: dims.reduce((x, y) => x * y) }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all' });
  try {
    const out = await session.run({ video: new ort.Tensor('float32', video, dims) });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

function opCounts(path: string): Map<string, number> {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
  const counts = new Map<string, number>();
  for (const node of model.graph!.node!) counts.set(node.opType!, (counts.get(node.opType!) ?? 0) + 1);
  return counts;
}

describe('fused attention', () => {
  it('matches the plain graph within 1e-4 on the bundled weights (float32 logits and features; tokens relative to their size)', async () => {
    const plain = await outputs({});
    const fused = await outputs({ attention: 'fused' });
    expect(maxAbsDiff(fused.logits!, plain.logits!)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(fused.features!, plain.features!)).toBeLessThanOrEqual(1e-4);
    // The residual stream before fc_norm reaches |x| ~ 17 here: float32 rounding of another summation order.
    const tokenScale = Math.max(...plain.tokens!.map(Math.abs));
    expect(maxAbsDiff(fused.tokens!, plain.tokens!)).toBeLessThanOrEqual(1e-4 * Math.max(1, tokenScale));
  });
});

describe('int8 export', () => {
  it('quantizes every Linear of the blocks, fuses every attention and records both in model.onnx', () => {
    const depth = readModelFolder(int8Dir).architecture.depth;
    const counts = opCounts(join(int8Dir, 'model.onnx'));
    // qkv, proj, fc1, fc2 per block; the head stays float32.
    expect(counts.get('MatMulInteger')).toBe(4 * depth);
    expect(counts.get('DynamicQuantizeLinear')).toBe(4 * depth);
    expect(counts.get('MultiHeadAttention')).toBe(depth);
    expect(counts.get('MatMul')).toBe(1);
    expect(counts.get('Softmax')).toBeUndefined();
    expect(graphFormOf(readModelMetadata(join(int8Dir, 'model.onnx')))).toEqual({ precision: 'int8', attention: 'fused' });
    expect(graphFormOf(readModelMetadata(join(fp32Dir, 'model.onnx')))).toEqual({ precision: 'float32', attention: 'plain' });
  });

  it('alone (plain attention) stays within 0.1 of the float32 logits on the bundled weights', async () => {
    const fp32 = await outputs({});
    const int8 = await outputs({ int8: true });
    expect(maxAbsDiff(int8.logits!, fp32.logits!)).toBeLessThanOrEqual(0.1);
  });

  describe('served', () => {
    let int8: LoadedModel;
    let fp32: LoadedModel;
    beforeAll(async () => {
      [int8, fp32] = await Promise.all([
        loadModel(int8Dir, { device: 'cpu', threads: 1 }),
        loadModel(fp32Dir, { device: 'cpu', threads: 1 }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([int8?.runner.close(), fp32?.runner.close()]);
    });

    it('says it is int8 with fused attention in its GET /models entry', () => {
      expect(int8.graph).toEqual({ precision: 'int8', attention: 'fused' });
      expect(vitKind.describe(int8, true).graph).toEqual({ precision: 'int8', attention: 'fused' });
      expect(vitKind.describe(fp32, true).graph).toEqual({ precision: 'float32', attention: 'plain' });
    });

    it('agrees with float32 on top-1 for at least 99 % of the views of decoded synthetic clips', async () => {
      const data = await makeSyntheticDataset({
        out: join(dir, 'data'),
        videosPerClass: 2,
        valFraction: 1,
        seed: 7,
        width: 64,
        height: 64,
        frames: 16,
        fps: 8,
      });
      const result = await evaluateManifest(data.val, int8, {}, fp32);
      const agreement = result.agreement!;
      expect(agreement.views).toBeGreaterThanOrEqual(22);
      expect(agreement.top1Agreement).toBeGreaterThanOrEqual(0.99);
      expect(agreement.maxProbabilityDiff).toBeLessThan(0.05);
    }, 120_000);
  });
});
