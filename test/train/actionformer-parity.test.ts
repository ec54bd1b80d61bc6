/**
 * ActionFormer in TF.js (training) and its ONNX export (serving) compute the same function:
 * random weights (every constant-initialised parameter randomised too: LayerNorms, biases, Scale,
 * AffineDropPath), padded inputs, outputs within 1e-4 on every level, for local windows, global
 * attention, with and without LayerNorms, and with the position embedding at and past maxSeqLen.
 * Also the pieces by hand: the conv against a direct sum, the depthwise stride-2 conv, the max
 * pool, local attention against full attention with a band mask.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  levelLengths,
  makeActionFormerConfig,
  paddedLength,
  type ActionFormerConfig,
  type ActionFormerConfigOptions,
} from '../../src/config/actionformer.js';
import { buildActionFormerGraph } from '../../src/onnx/actionformer-graph.js';
import {
  actionFormerForward,
  actionFormerToGraph,
  conv1d,
  depthwiseConv3,
  evenSteps,
  maskedAttention,
  maxPoolStride2,
} from '../../src/train/actionformer.js';
import { initBackend } from '../../src/tfjs/backend.js';
import { actionFormerInitialWeights } from '../../src/weights/actionformer-parameters.js';
import { seededUniform } from '../../src/weights/random-init.js';
import { gaussian, graphWeights, randomActionFormerWeights } from '../helpers/actionformer.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const small: ActionFormerConfigOptions = {
  inputDim: 12,
  numClasses: 3,
  embdDim: 16,
  numHeads: 2,
  backboneArch: [2, 1, 2],
  mhaWinSize: 5,
  maxSeqLen: 32,
  regressionRanges: [
    [0, 4],
    [4, 8],
    [8, 10000],
  ],
};

beforeAll(async () => {
  await initBackend('cpu');
});

async function compare(
  config: ActionFormerConfig,
  valid: number,
  seed: number,
): Promise<{ logits: number; offsets: number; signal: number }> {
  const weights = randomActionFormerWeights(config, seed);
  const T = paddedLength(config, valid);
  const uniform = seededUniform(seed + 100);
  const feats = Float32Array.from({ length: config.inputDim * T }, (_, i) => (i % T < valid ? gaussian(uniform) : 0)); // [1, C, T]
  const mask = Float32Array.from({ length: T }, (_, t) => (t < valid ? 1 : 0));
  const { expectedLogits, expectedOffsets } = tf.tidy(() => {
    const tfFeats = tf.tensor(feats, [1, config.inputDim, T]).transpose([0, 2, 1]) as tf.Tensor3D;
    const levels = actionFormerForward(tfFeats, tf.tensor(mask, [1, T]) as tf.Tensor2D, graphWeights(weights), config);
    return {
      expectedLogits: tf
        .concat(
          levels.map((l) => l.logits),
          1,
        )
        .dataSync() as Float32Array,
      expectedOffsets: tf
        .concat(
          levels.map((l) => l.offsets),
          1,
        )
        .dataSync() as Float32Array,
    };
  });
  const session = await ort.InferenceSession.create(onnxProto.onnx.ModelProto.encode(buildActionFormerGraph(config, weights)).finish());
  try {
    const out = await session.run({
      feats: new ort.Tensor('float32', feats, [1, config.inputDim, T]),
      mask: new ort.Tensor('float32', mask, [1, 1, T]),
    });
    const positions = levelLengths(config, T).reduce((a, b) => a + b, 0);
    expect(out.cls_logits!.dims).toEqual([1, positions, config.numClasses]);
    expect(out.offsets!.dims).toEqual([1, positions, 2]);
    const logits = out.cls_logits!.data as Float32Array;
    // Padded positions of level 0 are exactly zero (the masked output conv).
    expect(Array.from(logits.subarray(valid * config.numClasses, T * config.numClasses)).every((v) => v === 0)).toBe(true);
    return {
      logits: maxAbsDiff(logits, expectedLogits),
      offsets: maxAbsDiff(out.offsets!.data as Float32Array, expectedOffsets),
      signal: Math.max(...Array.from(logits).map(Math.abs)),
    };
  } finally {
    await session.release();
  }
}

describe('ActionFormer TF.js == ONNX', () => {
  const cases: Array<[string, ActionFormerConfigOptions, number]> = [
    ['local windows, LayerNorms, drop-path scales; shorter than maxSeqLen', small, 23],
    ['local windows; longer than maxSeqLen (padded to a multiple of stride x window)', small, 45],
    [
      'window 19 and global attention, no LayerNorms, no drop path, position embedding past maxSeqLen',
      {
        ...small,
        mhaWinSize: [19, 19, -1],
        maxSeqLen: 72,
        embdWithLn: false,
        fpnWithLn: false,
        headWithLn: false,
        dropPath: 0,
        useAbsPe: true,
      },
      100,
    ],
    ['position embedding at maxSeqLen, one-layer heads, wider head', { ...small, useAbsPe: true, headNumLayers: 2, headDim: 24 }, 20],
  ];
  for (const [name, options, valid] of cases) {
    it(name, async () => {
      const { logits, offsets, signal } = await compare(makeActionFormerConfig(options), valid, 5);
      // 1e-4 absolute at unit scale (measured ~4e-6); relative where no LayerNorm bounds the values (logits ~150, diff ~1.5e-4).
      const tolerance = 1e-5 * Math.max(10, signal);
      expect(logits).toBeLessThanOrEqual(tolerance);
      expect(offsets).toBeLessThanOrEqual(tolerance);
      expect(signal).toBeGreaterThan(0.5);
    });
  }

  it('starts as the official init: Scale 1, AffineDropPath 1e-4, LayerNorm 1 / 0, zero conv biases, the cls prior', () => {
    const config = makeActionFormerConfig(small);
    const w = actionFormerInitialWeights(config, 1);
    expect(Array.from(w.get('reg_head.scale.0.scale')!.data)).toEqual([1]);
    expect(w.get('backbone.stem.0.drop_path_attn.scale')!.data.every((v) => Math.abs(v - 1e-4) < 1e-9)).toBe(true);
    expect(w.get('neck.fpn_norms.1.weight')!.data.every((v) => v === 1)).toBe(true);
    expect(w.get('backbone.branch.0.attn.query.bias')!.data.every((v) => v === 0)).toBe(true);
    expect(w.get('cls_head.cls_head.conv.bias')!.data.every((v) => Math.abs(v + Math.log(99)) < 1e-5)).toBe(true);
    expect(w.has('backbone.embd.0.conv.bias')).toBe(false); // bias = not with_ln
    const bound = 1 / Math.sqrt(16 * 3);
    expect(w.get('cls_head.head.0.conv.weight')!.data.every((v) => Math.abs(v) <= bound)).toBe(true);
  });
});

describe('the pieces, by hand', () => {
  it('conv1d is y[t] = sum_k W[:, :, k] x[t + k - 1] + b with zero padding', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [1, 3, 2]) as tf.Tensor3D; // T = 3, C = 2
    const torchW = Float32Array.from({ length: 1 * 2 * 3 }, (_, i) => i + 1); // [out 1, in 2, k 3]
    const { shape, data } = actionFormerToGraph('c.weight', [1, 2, 3], torchW);
    const y = conv1d(x, tf.tensor(data, shape), tf.tensor([0.5]), 3).dataSync();
    const W = (c: number, k: number) => torchW[c * 3 + k]!;
    const xs = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const direct = [0, 1, 2].map(
      (t) => 0.5 + [0, 1, 2].reduce((s, k) => s + [0, 1].reduce((u, c) => u + W(c, k) * (xs[t + k - 1]?.[c] ?? 0), 0), 0),
    );
    expect(Array.from(y)).toEqual(direct);
  });

  it('the stride-2 depthwise conv is Conv1d(C, C, 3, stride 2, padding 1, groups C): y[i] = sum_k w[k] x[2i + k - 1]', () => {
    const x = tf.tensor([1, 10, 2, 20, 3, 30, 4, 40], [1, 4, 2]) as tf.Tensor3D; // T = 4, C = 2
    const torchW = Float32Array.of(1, 2, 3, -1, 0, 1); // [C 2, 1, 3]
    const { shape, data } = actionFormerToGraph('a.query_conv.conv.weight', [2, 1, 3], torchW);
    expect(shape).toEqual([3, 2]);
    const y = Array.from(evenSteps(depthwiseConv3(x, tf.tensor(data, shape))).dataSync());
    // channel 0: x = 1 2 3 4 -> y0 = 2*1 + 3*2 = 8, y1 = 1*2 + 2*3 + 3*4 = 20; channel 1: x = 10 20 30 40 -> y0 = 0*10 + 20 = 20, y1 = -20 + 0 + 40 = 20
    expect(y).toEqual([8, 20, 20, 20]);
  });

  it('maxPoolStride2 is MaxPool1d(3, 2, padding 1)', () => {
    const x = tf.tensor([5, 1, 2, 9, 3, 0, 4, 8], [1, 8, 1]) as tf.Tensor3D;
    expect(Array.from(maxPoolStride2(x).dataSync())).toEqual([5, 9, 9, 8]);
  });

  it('local attention equals full attention restricted to the window and the mask; window <= 1 is global', () => {
    const uniform = seededUniform(2);
    const rand = (n: number) => Float32Array.from({ length: n }, () => gaussian(uniform));
    const [q, k, v] = [rand(24), rand(24), rand(24)].map((a) => tf.tensor(a, [1, 6, 1, 4]) as tf.Tensor4D) as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
    ];
    const m = [1, 1, 0, 1, 1, 1];
    const mask = tf.tensor(m, [1, 6]) as tf.Tensor2D;
    const Q = q.reshape([6, 4]).arraySync() as number[][];
    const K = k.reshape([6, 4]).arraySync() as number[][];
    const V = v.reshape([6, 4]).arraySync() as number[][];
    for (const window of [3, -1]) {
      const out = maskedAttention(q, k, v, mask, window).reshape([6, 4]).arraySync() as number[][];
      for (let t = 0; t < 6; t++) {
        const keys = [0, 1, 2, 3, 4, 5].filter((j) => (window <= 1 || Math.abs(j - t) <= 1) && m[j] === 1);
        const scores = keys.map((j) => [0, 1, 2, 3].reduce((s, i) => s + Q[t]![i]! * K[j]![i]!, 0) / 2);
        const max = Math.max(...scores);
        const ws = scores.map((s) => Math.exp(s - max));
        const total = ws.reduce((a, b) => a + b, 0);
        const expected = [0, 1, 2, 3].map((i) => keys.reduce((s, j, n) => s + (ws[n]! / total) * V[j]![i]!, 0));
        expect(maxAbsDiff(out[t]!, expected)).toBeLessThan(1e-5);
      }
    }
  });
});
