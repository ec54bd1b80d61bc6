/**
 * ActionFormer in TF.js (training) and its ONNX export (serving) compute the same function:
 * random non-trivial weights, padded inputs, outputs within 1e-4 on every level. Also the
 * pieces by hand: the k=3 conv against a direct sum, the max pool against its definition,
 * local attention against full attention with a band mask.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { levelLengths, makeActionFormerConfig } from '../../src/config/actionformer.js';
import { buildActionFormerGraph } from '../../src/onnx/actionformer-graph.js';
import onnxProto from 'onnx-proto';
import { actionFormerForward, actionFormerToGraph, conv1d, localAttention, maxPoolStride2 } from '../../src/train/actionformer.js';
import { initBackend } from '../../src/tfjs/backend.js';
import { actionFormerParameters } from '../../src/weights/actionformer-parameters.js';
import { elementCount } from '../../src/weights/parameters.js';
import { seededUniform } from '../../src/weights/random-init.js';
import type { TensorMap } from '../../src/weights/safetensors.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const config = makeActionFormerConfig({ inputDim: 12, numClasses: 3, embedDim: 16, numHeads: 2, window: 5, stemLayers: 1, levels: 3, headLayers: 3, regressionRanges: [[0, 4], [4, 8], [8, 10000]] });

function gaussian(uniform: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function randomWeights(seed: number): TensorMap {
  const uniform = seededUniform(seed);
  const out: TensorMap = new Map();
  for (const spec of actionFormerParameters(config)) {
    const data = new Float32Array(elementCount(spec.shape));
    for (let i = 0; i < data.length; i++) {
      const n = gaussian(uniform);
      data[i] = spec.init === 'ones' ? 1 + 0.2 * n : spec.init === 'zeros' ? 0.1 * n : 0.3 * n;
    }
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}

function graphWeights(tensors: TensorMap) {
  const vars = new Map<string, tf.Tensor>();
  for (const [name, t] of tensors) {
    const { shape, data } = actionFormerToGraph(name, t.shape, t.data);
    vars.set(name, tf.tensor(data, shape));
  }
  return { get: (name: string) => vars.get(name)! };
}

beforeAll(async () => { await initBackend('cpu'); });

describe('ActionFormer TF.js == ONNX', () => {
  it('gives the same logits and offsets on every level, with padding masked', async () => {
    const weights = randomWeights(5);
    const T = 16;
    const uniform = seededUniform(9);
    const feats = Float32Array.from({ length: config.inputDim * T }, () => gaussian(uniform)); // [1, C, T]
    const mask = Float32Array.from({ length: T }, (_, t) => (t < 13 ? 1 : 0));

    const tfFeats = tf.tensor(feats, [1, config.inputDim, T]).transpose([0, 2, 1]) as tf.Tensor3D;
    const levels = actionFormerForward(tfFeats, tf.tensor(mask, [1, T]) as tf.Tensor2D, graphWeights(weights), config);
    const expectedLogits = tf.concat(levels.map((l) => l.logits), 1);
    const expectedOffsets = tf.concat(levels.map((l) => l.offsets), 1);

    const model = buildActionFormerGraph(config, weights);
    const session = await ort.InferenceSession.create(onnxProto.onnx.ModelProto.encode(model).finish());
    const out = await session.run({ feats: new ort.Tensor('float32', feats, [1, config.inputDim, T]), mask: new ort.Tensor('float32', mask, [1, 1, T]) });
    const positions = levelLengths(config, T).reduce((a, b) => a + b, 0);
    expect(out.cls_logits!.dims).toEqual([1, positions, 3]);
    expect(out.offsets!.dims).toEqual([1, positions, 2]);
    const logits = out.cls_logits!.data as Float32Array;
    const offsets = out.offsets!.data as Float32Array;
    expect(maxAbsDiff(logits, expectedLogits.dataSync())).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(offsets, expectedOffsets.dataSync())).toBeLessThanOrEqual(1e-4);
    // Not trivially zero: the weights make real signal, and padded positions are exactly zero.
    expect(Math.max(...Array.from(logits).map(Math.abs))).toBeGreaterThan(0.5);
    expect(Array.from(logits.subarray(13 * 3, 16 * 3)).every((v) => v === 0)).toBe(true);
    await session.release();
  });
});

describe('the pieces, by hand', () => {
  it('conv1d is y[t] = sum_k W[:, :, k] x[t + k - 1] + b with zero padding', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [1, 3, 2]) as tf.Tensor3D; // T = 3, C = 2
    const torchW = Float32Array.from({ length: 1 * 2 * 3 }, (_, i) => i + 1); // [out 1, in 2, k 3]
    const { shape, data } = actionFormerToGraph('c.weight', [1, 2, 3], torchW);
    const y = conv1d(x, tf.tensor(data, shape), tf.tensor([0.5])).dataSync();
    const W = (c: number, k: number) => torchW[c * 3 + k]!;
    const xs = [[1, 2], [3, 4], [5, 6]];
    const direct = [0, 1, 2].map((t) => 0.5 + [0, 1, 2].reduce((s, k) => s + [0, 1].reduce((u, c) => u + W(c, k) * (xs[t + k - 1]?.[c] ?? 0), 0), 0));
    expect(Array.from(y)).toEqual(direct);
  });

  it('maxPoolStride2 is MaxPool1d(3, 2, padding 1)', () => {
    const x = tf.tensor([5, 1, 2, 9, 3, 0, 4, 8], [1, 8, 1]) as tf.Tensor3D;
    // out[i] = max(x[2i - 1], x[2i], x[2i + 1]): max(-inf, 5, 1), max(1, 2, 9), max(9, 3, 0), max(0, 4, 8)
    expect(Array.from(maxPoolStride2(x).dataSync())).toEqual([5, 9, 9, 8]);
  });

  it('local attention equals full attention restricted to the window and the mask', () => {
    const c = makeActionFormerConfig({ inputDim: 4, numClasses: 1, embedDim: 4, numHeads: 1, window: 3, levels: 1, regressionRanges: [[0, 100]] });
    const uniform = seededUniform(2);
    const rand = (n: number) => Float32Array.from({ length: n }, () => gaussian(uniform));
    const p = new Map<string, tf.Tensor>([
      ['a.qkv.weight', tf.tensor(rand(16 * 3), [4, 12])], ['a.qkv.bias', tf.tensor(rand(12))],
      ['a.proj.weight', tf.eye(4)], ['a.proj.bias', tf.zeros([4])],
    ]);
    const x = tf.tensor(rand(6 * 4), [1, 6, 4]) as tf.Tensor3D;
    const mask = tf.tensor([1, 1, 0, 1, 1, 1], [1, 6]) as tf.Tensor2D;
    const out = localAttention(x, mask, { get: (n) => p.get(n)! }, 'a', c).arraySync()[0]!;
    const qkv = tf.add(tf.matMul(x.reshape([6, 4]), p.get('a.qkv.weight')!), p.get('a.qkv.bias')!).arraySync() as number[][];
    const m = [1, 1, 0, 1, 1, 1];
    for (let t = 0; t < 6; t++) {
      const keys = [t - 1, t, t + 1].filter((j) => j >= 0 && j < 6 && m[j] === 1);
      const scores = keys.map((j) => [0, 1, 2, 3].reduce((s, i) => s + qkv[t]![i]! * qkv[j]![4 + i]!, 0) / 2);
      const max = Math.max(...scores);
      const ws = scores.map((s) => Math.exp(s - max));
      const total = ws.reduce((a, b) => a + b, 0);
      const expected = [0, 1, 2, 3].map((i) => keys.reduce((s, j, n) => s + (ws[n]! / total) * qkv[j]![8 + i]!, 0));
      expect(maxAbsDiff(out[t]!, expected)).toBeLessThan(1e-5);
    }
  });
});
