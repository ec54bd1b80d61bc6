/**
 * ActionFormer's forward pass in TF.js for training, channels last ([B, T, C]) and built from
 * slices, concats and 2-D matmuls only: the wasm backend has no gradient kernels for gather or
 * Conv2D filters, so a k=3 conv is three shifted slices and one matmul, the local attention is one
 * shifted slice per window offset, and the stride-2 max pool is a reshape and a maximum.
 * The ONNX export (src/onnx/actionformer-graph.ts) computes the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { HEAD_KERNEL, type ActionFormerConfig } from '../config/actionformer.js';
import { gelu, layerNorm, linear } from './ops.js';

/** Parameters in the graph layout: linears [in, out], convs [k x in, out] (see actionFormerLayout). */
export interface ActionFormerWeights {
  get(name: string): tf.Tensor;
}

export interface LevelTensors {
  /** [B, T_l, C] */
  readonly logits: tf.Tensor3D;
  /** [B, T_l, 2] */
  readonly offsets: tf.Tensor3D;
  /** [B, T_l] */
  readonly mask: tf.Tensor2D;
}

/** y[t] = sum_k W_k x[t + k - 1] + b, zero padded ("same"), with W as [k x in, out]. */
export function conv1d(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const [batch, length, channels] = x.shape;
  const padded = tf.pad(x, [[0, 0], [1, 1], [0, 0]]);
  const taps = Array.from({ length: HEAD_KERNEL }, (_, k) => tf.slice(padded, [0, k, 0], [batch, length, channels]));
  return linear(tf.concat(taps, 2), w, b) as tf.Tensor3D;
}

function norm(x: tf.Tensor, p: ActionFormerWeights, prefix: string, eps: number): tf.Tensor3D {
  return layerNorm(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`), eps) as tf.Tensor3D;
}

/**
 * Multi-head self-attention where position t sees positions t - r .. t + r (r = (window - 1) / 2)
 * that the mask marks valid; [B, T, E] -> [B, T, E].
 */
export function localAttention(x: tf.Tensor3D, mask: tf.Tensor2D, p: ActionFormerWeights, prefix: string, c: ActionFormerConfig): tf.Tensor3D {
  const [batch, length, e] = x.shape;
  const heads = c.numHeads;
  const d = e / heads;
  const r = (c.window - 1) / 2;
  const qkv = linear(x, p.get(`${prefix}.qkv.weight`), p.get(`${prefix}.qkv.bias`));
  const [q, k, v] = tf.split(qkv, 3, 2).map((t) => t.reshape([batch, length, heads, d])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const qs = tf.mul(q, d ** -0.5);
  const kp = tf.pad(k, [[0, 0], [r, r], [0, 0], [0, 0]]);
  const vp = tf.pad(v, [[0, 0], [r, r], [0, 0], [0, 0]]);
  const mp = tf.pad(mask, [[0, 0], [r, r]]);
  const scores: tf.Tensor[] = [];
  const values: tf.Tensor[] = [];
  for (let o = 0; o < c.window; o++) {
    const ko = tf.slice(kp, [0, o, 0, 0], [batch, length, heads, d]);
    values.push(tf.slice(vp, [0, o, 0, 0], [batch, length, heads, d]));
    const mo = tf.slice(mp, [0, o], [batch, length]).reshape([batch, length, 1]);
    // Invalid keys (padding, or past either end) get -1e4: exp underflows to 0 in float32.
    scores.push(tf.add(tf.sum(tf.mul(qs, ko), -1), tf.mul(tf.sub(1, mo), -1e4)));
  }
  const weights = tf.softmax(tf.stack(scores, 3), -1); // [B, T, h, W]
  const parts = tf.split(weights, c.window, 3); // W x [B, T, h, 1]
  const context = tf.addN(values.map((vo, o) => tf.mul(parts[o]!, vo))); // [B, T, h, d]
  return linear(context.reshape([batch, length, e]), p.get(`${prefix}.proj.weight`), p.get(`${prefix}.proj.bias`)) as tf.Tensor3D;
}

/** Pre-norm transformer block; masked positions get no residual update. */
function block(x: tf.Tensor3D, mask: tf.Tensor2D, p: ActionFormerWeights, index: number, c: ActionFormerConfig): tf.Tensor3D {
  const prefix = `blocks.${index}`;
  const m = mask.expandDims(2);
  const attended = localAttention(norm(x, p, `${prefix}.norm1`, c.layerNormEps), mask, p, `${prefix}.attn`, c);
  const afterAttention = tf.add(x, tf.mul(attended, m));
  const hidden = gelu(linear(norm(afterAttention, p, `${prefix}.norm2`, c.layerNormEps), p.get(`${prefix}.mlp.fc1.weight`), p.get(`${prefix}.mlp.fc1.bias`)));
  const mlp = linear(hidden, p.get(`${prefix}.mlp.fc2.weight`), p.get(`${prefix}.mlp.fc2.bias`));
  return tf.add(afterAttention, tf.mul(mlp, m)) as tf.Tensor3D;
}

/** MaxPool1d(kernel 3, stride 2, padding 1) over time: out[i] = max(x[2i - 1], x[2i], x[2i + 1]). */
export function maxPoolStride2(x: tf.Tensor3D): tf.Tensor3D {
  const [batch, length, e] = x.shape;
  const half = length / 2;
  const padded = tf.pad(x, [[0, 0], [1, 1], [0, 0]], -1e9);
  const pairs = tf.slice(padded, [0, 0, 0], [batch, length, e]).reshape([batch, half, 2, e]);
  const next = tf.slice(padded, [0, 2, 0], [batch, length, e]).reshape([batch, half, 2, e]);
  const at = (t: tf.Tensor, i: number) => tf.slice(t, [0, 0, i, 0], [batch, half, 1, e]).reshape([batch, half, e]);
  return tf.maximum(tf.maximum(at(pairs, 0), at(pairs, 1)), at(next, 0)) as tf.Tensor3D;
}

/** mask[:, ::2] */
export function downsampleMask(mask: tf.Tensor2D): tf.Tensor2D {
  const [batch, length] = mask.shape;
  return tf.slice(mask.reshape([batch, length / 2, 2]), [0, 0, 0], [batch, length / 2, 1]).reshape([batch, length / 2]);
}

function head(x: tf.Tensor3D, mask: tf.Tensor2D, p: ActionFormerWeights, name: 'cls_head' | 'reg_head', c: ActionFormerConfig): tf.Tensor3D {
  const m = mask.expandDims(2);
  let h = x;
  for (let i = 0; i < c.headLayers - 1; i++) {
    const conv = tf.mul(conv1d(h, p.get(`${name}.${i}.conv.weight`), p.get(`${name}.${i}.conv.bias`)), m);
    h = tf.relu(norm(conv, p, `${name}.${i}.norm`, c.layerNormEps)) as tf.Tensor3D;
  }
  return tf.mul(conv1d(h, p.get(`${name}.out.weight`), p.get(`${name}.out.bias`)), m) as tf.Tensor3D;
}

/**
 * feats [B, T, C] and mask [B, T] (1 = real features; T a multiple of 2^(levels - 1)) -> per level
 * logits [B, T_l, classes], offsets [B, T_l, 2] (ReLU(scale_l x regression)) and the level mask.
 */
export function actionFormerForward(feats: tf.Tensor3D, mask: tf.Tensor2D, p: ActionFormerWeights, c: ActionFormerConfig): LevelTensors[] {
  let x = feats;
  const m0 = mask.expandDims(2);
  for (let i = 0; i < c.embedLayers; i++) {
    const conv = tf.mul(conv1d(x, p.get(`embed.${i}.conv.weight`), p.get(`embed.${i}.conv.bias`)), m0);
    x = tf.relu(norm(conv, p, `embed.${i}.norm`, c.layerNormEps)) as tf.Tensor3D;
  }
  for (let b = 0; b < c.stemLayers; b++) x = block(x, mask, p, b, c);
  const pyramid: Array<{ x: tf.Tensor3D; mask: tf.Tensor2D }> = [{ x, mask }];
  let levelMask = mask;
  for (let l = 1; l < c.levels; l++) {
    const pooled = maxPoolStride2(tf.mul(x, levelMask.expandDims(2)) as tf.Tensor3D);
    levelMask = downsampleMask(levelMask);
    x = block(pooled, levelMask, p, c.stemLayers + l - 1, c);
    pyramid.push({ x, mask: levelMask });
  }
  return pyramid.map(({ x: level, mask: lm }, l) => {
    const features = norm(level, p, `neck.${l}`, c.layerNormEps);
    const logits = head(features, lm, p, 'cls_head', c);
    const scale = tf.slice(p.get('reg_head.scale'), [l], [1]);
    const offsets = tf.mul(tf.relu(tf.mul(head(features, lm, p, 'reg_head', c), scale)), lm.expandDims(2)) as tf.Tensor3D;
    return { logits, offsets, mask: lm };
  });
}

/** PyTorch layout -> graph layout: Linear [out, in] -> [in, out]; Conv1d [out, in, k] -> [k x in, out]. */
export function actionFormerToGraph(name: string, shape: readonly number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  if (shape.length === 3) {
    const [out, input, k] = shape as [number, number, number];
    const result = new Float32Array(data.length);
    for (let o = 0; o < out; o++) for (let ci = 0; ci < input; ci++) for (let t = 0; t < k; t++) result[(t * input + ci) * out + o] = data[(o * input + ci) * k + t]!;
    return { shape: [k * input, out], data: result };
  }
  if (shape.length === 2) {
    const [out, input] = shape as [number, number];
    const result = new Float32Array(data.length);
    for (let o = 0; o < out; o++) for (let i = 0; i < input; i++) result[i * out + o] = data[o * input + i]!;
    return { shape: [input, out], data: result };
  }
  return { shape: [...shape], data };
}

/** Graph layout -> PyTorch layout, given the PyTorch shape. */
export function actionFormerFromGraph(name: string, shape: readonly number[], data: Float32Array): Float32Array {
  const result = new Float32Array(data.length);
  if (shape.length === 3) {
    const [out, input, k] = shape as [number, number, number];
    for (let o = 0; o < out; o++) for (let ci = 0; ci < input; ci++) for (let t = 0; t < k; t++) result[(o * input + ci) * k + t] = data[(t * input + ci) * out + o]!;
    return result;
  }
  if (shape.length === 2) {
    const [out, input] = shape as [number, number];
    for (let o = 0; o < out; o++) for (let i = 0; i < input; i++) result[o * input + i] = data[i * out + o]!;
    return result;
  }
  return data;
}
