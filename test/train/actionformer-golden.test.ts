/**
 * ActionFormer against the official PyTorch code: test/fixtures/actionformer-forward-golden.json
 * holds random weights of the official PtTransformer (libs/modeling, under its state_dict names)
 * for two small configs, features of a short and a long video, and the official per-level
 * outputs of preprocessing -> backbone -> neck -> heads in eval mode (tools/
 * make_actionformer_forward_golden.py). Our parameter list, inference padding, TF.js forward and
 * ONNX graph must reproduce them.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeActionFormerConfig, paddedLength, pyramidLevels, type ActionFormerConfig } from '../../src/config/actionformer.js';
import { buildActionFormerGraph } from '../../src/onnx/actionformer-graph.js';
import { actionFormerForward } from '../../src/train/actionformer.js';
import { initBackend } from '../../src/tfjs/backend.js';
import { actionFormerParameters } from '../../src/weights/actionformer-parameters.js';
import type { TensorMap } from '../../src/weights/safetensors.js';
import { maxAbsDiff } from '../helpers/numeric.js';
import { graphWeights } from '../helpers/actionformer.js';

interface GoldenLevel {
  logits: number[];
  offsets: number[];
  mask: number[];
}
interface GoldenCase {
  valid: number;
  padded: number;
  feats: number[];
  levels: GoldenLevel[];
}
interface GoldenConfig {
  model: {
    backbone_arch: [number, number, number];
    n_mha_win_size: number | number[];
    embd_with_ln: boolean;
    fpn_with_ln: boolean;
    head_with_ln: boolean;
    use_abs_pe: boolean;
    droppath: number;
  };
  inputDim: number;
  numClasses: number;
  maxSeqLen: number;
  embdDim: number;
  numHeads: number;
  weights: Record<string, { shape: number[]; data: number[] }>;
  cases: GoldenCase[];
}

const golden = JSON.parse(readFileSync(new URL('../fixtures/actionformer-forward-golden.json', import.meta.url), 'utf8')) as {
  configs: Record<string, GoldenConfig>;
};

function configOf(g: GoldenConfig): ActionFormerConfig {
  const m = g.model;
  return makeActionFormerConfig({
    inputDim: g.inputDim,
    numClasses: g.numClasses,
    maxSeqLen: g.maxSeqLen,
    embdDim: g.embdDim,
    numHeads: g.numHeads,
    backboneArch: m.backbone_arch,
    mhaWinSize: m.n_mha_win_size,
    embdWithLn: m.embd_with_ln,
    fpnWithLn: m.fpn_with_ln,
    headWithLn: m.head_with_ln,
    useAbsPe: m.use_abs_pe,
    dropPath: m.droppath,
    regressionRanges: [
      [0, 4],
      [4, 8],
      [8, 10000],
    ].slice(0, m.backbone_arch[2] + 1) as Array<[number, number]>,
  });
}

function tensorsOf(g: GoldenConfig): TensorMap {
  return new Map(Object.entries(g.weights).map(([name, t]) => [name, { shape: t.shape, data: Float32Array.from(t.data) }]));
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('ActionFormer == the official PtTransformer (PyTorch golden)', () => {
  for (const [name, g] of Object.entries(golden.configs)) {
    describe(name, () => {
      const config = configOf(g);
      const tensors = tensorsOf(g);

      it('has the official state_dict names, shapes and order', () => {
        const ours = actionFormerParameters(config).map((s) => `${s.name} [${s.shape.join(',')}]`);
        const official = Object.entries(g.weights).map(([n, t]) => `${n} [${t.shape.join(',')}]`);
        expect(ours).toEqual(official);
      });

      for (const c of g.cases) {
        it(`valid ${c.valid} -> padded ${c.padded}: TF.js and ONNX give the official per-level outputs`, async () => {
          const T = paddedLength(config, c.valid);
          expect(T).toBe(c.padded);
          const feats = new Float32Array(config.inputDim * T); // [1, C, T], zero padded
          for (let ch = 0; ch < config.inputDim; ch++) for (let t = 0; t < c.valid; t++) feats[ch * T + t] = c.feats[ch * c.valid + t]!;
          const mask = Float32Array.from({ length: T }, (_, t) => (t < c.valid ? 1 : 0));
          const expectedLogits = c.levels.flatMap((l) => l.logits);
          const expectedOffsets = c.levels.flatMap((l) => l.offsets);
          const scale = Math.max(1, ...expectedLogits.map(Math.abs), ...expectedOffsets.map(Math.abs));

          const ours = tf.tidy(() =>
            actionFormerForward(
              tf.tensor(feats, [1, config.inputDim, T]).transpose([0, 2, 1]) as tf.Tensor3D,
              tf.tensor(mask, [1, T]) as tf.Tensor2D,
              graphWeights(tensors),
              config,
            ).map((l) => ({
              logits: l.logits.dataSync() as Float32Array,
              offsets: l.offsets.dataSync() as Float32Array,
              mask: Array.from(l.mask.dataSync()),
            })),
          );
          expect(ours).toHaveLength(pyramidLevels(config));
          ours.forEach((level, l) => {
            expect(level.mask).toEqual(c.levels[l]!.mask);
            expect(maxAbsDiff(level.logits, c.levels[l]!.logits)).toBeLessThanOrEqual(2e-5 * scale);
            expect(maxAbsDiff(level.offsets, c.levels[l]!.offsets)).toBeLessThanOrEqual(2e-5 * scale);
          });

          const session = await ort.InferenceSession.create(
            onnxProto.onnx.ModelProto.encode(buildActionFormerGraph(config, tensors)).finish(),
          );
          try {
            const out = await session.run({
              feats: new ort.Tensor('float32', feats, [1, config.inputDim, T]),
              mask: new ort.Tensor('float32', mask, [1, 1, T]),
            });
            expect(maxAbsDiff(out.cls_logits!.data as Float32Array, expectedLogits)).toBeLessThanOrEqual(2e-5 * scale);
            expect(maxAbsDiff(out.offsets!.data as Float32Array, expectedOffsets)).toBeLessThanOrEqual(2e-5 * scale);
          } finally {
            await session.release();
          }
        });
      }
    });
  }
});
