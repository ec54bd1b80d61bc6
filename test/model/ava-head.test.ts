/**
 * The AVA head graph against a direct computation written from the operator definitions:
 * temporal mean of the token map, RoiAlign (half_pixel, 2x2 bilinear samples per bin, average),
 * max over the bins, Linear, sigmoid; and the official head (final LayerNorm, RoIAlign as
 * torchvision aligned=False with adaptive sampling) against the training path's matrix form.
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { AVA_HEAD_OUTPUTS, buildAvaHeadGraph, type AvaHeadConfig } from '../../src/onnx/ava-head-graph.js';
import { roiAlignMatrix } from '../../src/train/roi-align-matrix.js';
import { seededUniform } from '../../src/weights/random-init.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const config: AvaHeadConfig = { embedDim: 6, temporalTokens: 2, patchSize: 16, numClasses: 3, roiSize: 7, samplingRatio: 2 };
// The token grid of the frame in this test: 4 x 5 patches (an 80 x 64 input).
const grid = { t: 2, h: 4, w: 5 };

/** ONNX RoiAlign, half_pixel, avg, for one box over one channel plane [H, W]. */
function roiAlignReference(
  plane: (y: number, x: number) => number,
  H: number,
  W: number,
  box: number[],
  scale: number,
  size: number,
  ratio: number,
): number[] {
  const [x1, y1, x2, y2] = box.map((v) => v * scale) as [number, number, number, number];
  const startX = x1 - 0.5;
  const startY = y1 - 0.5;
  const binW = (x2 - x1) / size;
  const binH = (y2 - y1) / size;
  const bilinear = (yIn: number, xIn: number): number => {
    if (yIn < -1 || yIn > H || xIn < -1 || xIn > W) return 0;
    let y = Math.max(yIn, 0);
    let x = Math.max(xIn, 0);
    let yLow = Math.floor(y);
    let xLow = Math.floor(x);
    let yHigh = yLow + 1;
    let xHigh = xLow + 1;
    if (yLow >= H - 1) {
      yLow = yHigh = H - 1;
      y = yLow;
    }
    if (xLow >= W - 1) {
      xLow = xHigh = W - 1;
      x = xLow;
    }
    const ly = y - yLow;
    const lx = x - xLow;
    return (
      (1 - ly) * (1 - lx) * plane(yLow, xLow) +
      (1 - ly) * lx * plane(yLow, xHigh) +
      ly * (1 - lx) * plane(yHigh, xLow) +
      ly * lx * plane(yHigh, xHigh)
    );
  };
  const out: number[] = [];
  for (let ph = 0; ph < size; ph++) {
    for (let pw = 0; pw < size; pw++) {
      let sum = 0;
      for (let iy = 0; iy < ratio; iy++) {
        for (let ix = 0; ix < ratio; ix++) {
          sum += bilinear(startY + ph * binH + ((iy + 0.5) * binH) / ratio, startX + pw * binW + ((ix + 0.5) * binW) / ratio);
        }
      }
      out.push(sum / (ratio * ratio));
    }
  }
  return out;
}

describe('AVA head graph', () => {
  it('equals temporal mean -> RoiAlign -> max -> Linear -> sigmoid computed directly', async () => {
    const uniform = seededUniform(4);
    const { t, h, w } = grid;
    const d = config.embedDim;
    const B = 2;
    const tokens = Float32Array.from({ length: B * t * h * w * d }, () => uniform() * 4 - 2);
    const weight = Float32Array.from({ length: config.numClasses * d }, () => uniform() - 0.5);
    const bias = Float32Array.from({ length: config.numClasses }, () => uniform() - 0.5);
    // Pixel boxes in the 80x64 input (W' = 5, H' = 4 patches of 16), one partly outside.
    const rois = [
      [4, 2, 40, 60],
      [30, 10, 78, 50],
      [-8, 20, 30, 70],
    ];
    const batch = [0, 1, 1];
    const model = buildAvaHeadGraph(
      config,
      new Map([
        ['head.weight', { shape: [3, d], data: weight }],
        ['head.bias', { shape: [3], data: bias }],
      ]),
    );
    const session = await ort.InferenceSession.create(onnxProto.onnx.ModelProto.encode(model).finish());
    const out = await session.run({
      tokens: new ort.Tensor('float32', tokens, [B, t * h * w, d]),
      grid_size: new ort.Tensor('int64', BigInt64Array.from([BigInt(h), BigInt(w)]), [2]),
      rois: new ort.Tensor('float32', Float32Array.from(rois.flat()), [3, 4]),
      batch_indices: new ort.Tensor('int64', BigInt64Array.from(batch.map(BigInt)), [3]),
    });
    const expectedScores: number[] = [];
    const expectedPooled: number[] = [];
    rois.forEach((box, r) => {
      const b = batch[r]!;
      const pooled = Array.from({ length: d }, (_, c) => {
        const plane = (y: number, x: number) => {
          let sum = 0;
          for (let ti = 0; ti < t; ti++) sum += tokens[((b * t + ti) * h * w + y * w + x) * d + c]!;
          return sum / t;
        };
        return Math.max(...roiAlignReference(plane, h, w, box, 1 / config.patchSize, config.roiSize, config.samplingRatio));
      });
      expectedPooled.push(...pooled);
      for (let k = 0; k < config.numClasses; k++) {
        const logit = bias[k]! + pooled.reduce((s, v, j) => s + v * weight[k * d + j]!, 0);
        expectedScores.push(1 / (1 + Math.exp(-logit)));
      }
    });
    expect(out[AVA_HEAD_OUTPUTS.pooled]!.dims).toEqual([3, d]);
    expect(maxAbsDiff(out[AVA_HEAD_OUTPUTS.pooled]!.data as Float32Array, expectedPooled)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out[AVA_HEAD_OUTPUTS.scores]!.data as Float32Array, expectedScores)).toBeLessThan(1e-5);
    await session.release();
  });

  it('pools as the training path does: max over RoiAlign written as a matrix (S @ map)', async () => {
    const uniform = seededUniform(9);
    const { h, w } = grid;
    const d = config.embedDim;
    // One clip, T' = 1 so the token map is the plane the matrix reads.
    const one = { ...config, temporalTokens: 1 };
    const map = Float32Array.from({ length: h * w * d }, () => uniform() * 4 - 2);
    const rois = [
      [4, 2, 40, 60],
      [30, 10, 78, 50],
      [-8, 20, 30, 70],
      [0, 0, 80, 64],
      [70, 50, 79, 63],
    ];
    const model = buildAvaHeadGraph(
      one,
      new Map([
        ['head.weight', { shape: [3, d], data: new Float32Array(3 * d) }],
        ['head.bias', { shape: [3], data: new Float32Array(3) }],
      ]),
    );
    const session = await ort.InferenceSession.create(onnxProto.onnx.ModelProto.encode(model).finish());
    const out = await session.run({
      tokens: new ort.Tensor('float32', map, [1, h * w, d]),
      grid_size: new ort.Tensor('int64', BigInt64Array.from([BigInt(h), BigInt(w)]), [2]),
      rois: new ort.Tensor('float32', Float32Array.from(rois.flat()), [rois.length, 4]),
      batch_indices: new ort.Tensor('int64', new BigInt64Array(rois.length), [rois.length]),
    });
    await session.release();
    const bins = config.roiSize * config.roiSize;
    const expected: number[] = [];
    for (const box of rois) {
      const s = roiAlignMatrix(box, {
        height: h,
        width: w,
        size: config.roiSize,
        samplingRatio: config.samplingRatio,
        spatialScale: 1 / config.patchSize,
      });
      for (let c = 0; c < d; c++) {
        let best = -Infinity;
        for (let b = 0; b < bins; b++) {
          let v = 0;
          for (let k = 0; k < h * w; k++) v += s[b * h * w + k]! * map[k * d + c]!;
          best = Math.max(best, v);
        }
        expected.push(best);
      }
    }
    expect(maxAbsDiff(out[AVA_HEAD_OUTPUTS.pooled]!.data as Float32Array, expected)).toBeLessThan(1e-5);
  });

  it('the official head (final norm, aligned=False, adaptive sampling) pools as its training matrix does', async () => {
    const uniform = seededUniform(12);
    const h = 8;
    const w = 12;
    const d = config.embedDim;
    const official: AvaHeadConfig = { ...config, temporalTokens: 1, samplingRatio: 0, aligned: false, finalNorm: true, layerNormEps: 1e-6 };
    const map = Float32Array.from({ length: h * w * d }, () => uniform() * 4 - 2);
    const gamma = Float32Array.from({ length: d }, () => 0.5 + uniform());
    const beta = Float32Array.from({ length: d }, () => uniform() - 0.5);
    // Boxes of 1 to 4 samples per bin side, one under a cell (made one cell wide), one at the border.
    const rois = [
      [0, 0, 191, 127],
      [20, 8, 150, 60],
      [30.5, 40.25, 33, 44],
      [100, 64, 191, 127],
      [5, 5, 60, 120],
    ];
    const model = buildAvaHeadGraph(
      official,
      new Map([
        ['norm.weight', { shape: [d], data: gamma }],
        ['norm.bias', { shape: [d], data: beta }],
        ['head.weight', { shape: [3, d], data: new Float32Array(3 * d) }],
        ['head.bias', { shape: [3], data: new Float32Array(3) }],
      ]),
    );
    const session = await ort.InferenceSession.create(onnxProto.onnx.ModelProto.encode(model).finish());
    const out = await session.run({
      tokens: new ort.Tensor('float32', map, [1, h * w, d]),
      grid_size: new ort.Tensor('int64', BigInt64Array.from([BigInt(h), BigInt(w)]), [2]),
      rois: new ort.Tensor('float32', Float32Array.from(rois.flat()), [rois.length, 4]),
      batch_indices: new ort.Tensor('int64', new BigInt64Array(rois.length), [rois.length]),
    });
    await session.release();
    const normed = new Float64Array(map.length);
    for (let k = 0; k < h * w; k++) {
      const row = Array.from(map.subarray(k * d, (k + 1) * d));
      const mean = row.reduce((a, v) => a + v, 0) / d;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
      row.forEach((v, c) => {
        normed[k * d + c] = ((v - mean) / Math.sqrt(variance + 1e-6)) * gamma[c]! + beta[c]!;
      });
    }
    const bins = config.roiSize * config.roiSize;
    const expected: number[] = [];
    for (const box of rois) {
      const s = roiAlignMatrix(box, {
        height: h,
        width: w,
        size: config.roiSize,
        samplingRatio: 0,
        spatialScale: 1 / config.patchSize,
        aligned: false,
      });
      for (let c = 0; c < d; c++) {
        let best = -Infinity;
        for (let b = 0; b < bins; b++) {
          let v = 0;
          for (let k = 0; k < h * w; k++) v += s[b * h * w + k]! * normed[k * d + c]!;
          best = Math.max(best, v);
        }
        expected.push(best);
      }
    }
    expect(maxAbsDiff(out[AVA_HEAD_OUTPUTS.pooled]!.data as Float32Array, expected)).toBeLessThan(1e-4);
  });
});
