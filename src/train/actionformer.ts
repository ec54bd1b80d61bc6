/**
 * ActionFormer's forward pass in TF.js for training, the function of the official PtTransformer
 * (libs/modeling: ConvTransformerBackbone, FPNIdentity, PtTransformerClsHead / RegHead),
 * channels last ([B, T, C]) and built from slices, concats, reshapes and 2-D matmuls only: the
 * wasm backend has no gradient kernels for gather or Conv2D filters, so a k-tap conv is k shifted
 * slices and one matmul, a depthwise conv is a per-channel multiply of shifted slices, stride 2
 * is a reshape and a slice, and the local attention is one shifted slice per window offset.
 * The ONNX export (src/onnx/actionformer-graph.ts) computes the same function.
 *
 * Semantics kept from the official code, where they change outputs:
 * - MaskedConv1D convolves the unmasked input and multiplies its output by the mask (stride 2:
 *   the mask at even positions, F.interpolate nearest); LayerNorms are not masked, so a padded
 *   position holds LN(0) = bias, which the next conv sees at the edge of the valid steps.
 * - A block: q, k, v = LN(depthwise conv(ln1(x))) (stride 2 in branch blocks), 1x1 projections,
 *   attention over valid keys (local window t - w .. t + w, w = window // 2, or global when the
 *   window is <= 1), output projection x mask; skip = x (stem) or MaxPool1d(3, 2, 1)(x) (branch)
 *   x mask, + AffineDropPath(attn); then + AffineDropPath(MLP(ln2) x mask).
 * - Invalid keys get -1e4 added to their score (LocalMaskedMHCA's float mask), so their weight
 *   underflows to 0 in float32, as keys past either end (-inf there) do.
 */
import * as tf from '@tensorflow/tfjs';
import { ACTIONFORMER_LN_EPS, pyramidLevels, type ActionFormerConfig } from '../config/actionformer.js';
import { blockPrefixes, positionTable } from '../weights/actionformer-parameters.js';
import { gelu, layerNorm, linear } from './ops.js';

/** Parameters in the graph layout (see actionFormerToGraph): convs [k x in, out], channel vectors [C]. */
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

export interface ForwardOptions {
  /** Training: drop path (stochastic depth, per sample) at config.dropPath, from this [0, 1) source. */
  readonly dropPathRandom?: () => number;
}

/** y[t] = sum_j W_j x[t + j - (k - 1) / 2] (+ b), zero padded ("same"), with W as [k x in, out]. */
export function conv1d(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor | undefined, k: number): tf.Tensor3D {
  const [batch, length, channels] = x.shape;
  if (k === 1) return linear(x, w, b) as tf.Tensor3D;
  const r = (k - 1) / 2;
  const padded = tf.pad(x, [
    [0, 0],
    [r, r],
    [0, 0],
  ]);
  const taps = Array.from({ length: k }, (_, j) => tf.slice(padded, [0, j, 0], [batch, length, channels]));
  return linear(tf.concat(taps, 2), w, b) as tf.Tensor3D;
}

/** Depthwise conv, kernel 3, padding 1, no bias: y[t] = w0 x[t - 1] + w1 x[t] + w2 x[t + 1] per channel; w [3, C]. */
export function depthwiseConv3(x: tf.Tensor3D, w: tf.Tensor): tf.Tensor3D {
  const [batch, length, channels] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [0, 0],
  ]);
  const rows = tf.split(w, 3, 0);
  return tf.addN(
    rows.map((row, j) => tf.mul(tf.slice(padded, [0, j, 0], [batch, length, channels]), row.reshape([channels]))),
  ) as tf.Tensor3D;
}

/** x[:, ::2] of [B, T, ...] (T even). */
export function evenSteps<T extends tf.Tensor>(x: T): T {
  const [batch, length, ...rest] = x.shape as number[];
  const pairs = x.reshape([batch!, length! / 2, 2, ...rest]);
  return tf.slice(pairs, [0, 0, 0, ...rest.map(() => 0)], [batch!, length! / 2, 1, ...rest]).reshape([batch!, length! / 2, ...rest]) as T;
}

/** MaxPool1d(kernel 3, stride 2, padding 1) over time: out[i] = max(x[2i - 1], x[2i], x[2i + 1]). */
export function maxPoolStride2(x: tf.Tensor3D): tf.Tensor3D {
  const [batch, length, e] = x.shape;
  const half = length / 2;
  const padded = tf.pad(
    x,
    [
      [0, 0],
      [1, 1],
      [0, 0],
    ],
    -1e9,
  );
  const pairs = tf.slice(padded, [0, 0, 0], [batch, length, e]).reshape([batch, half, 2, e]);
  const next = tf.slice(padded, [0, 2, 0], [batch, length, e]).reshape([batch, half, 2, e]);
  const at = (t: tf.Tensor, i: number) => tf.slice(t, [0, 0, i, 0], [batch, half, 1, e]).reshape([batch, half, e]);
  return tf.maximum(tf.maximum(at(pairs, 0), at(pairs, 1)), at(next, 0)) as tf.Tensor3D;
}

/** mask[:, ::2] (MaskedConv1D's nearest downsampling for stride 2). */
export function downsampleMask(mask: tf.Tensor2D): tf.Tensor2D {
  return evenSteps(mask);
}

function norm(x: tf.Tensor, p: ActionFormerWeights, prefix: string): tf.Tensor3D {
  return layerNorm(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`), ACTIONFORMER_LN_EPS) as tf.Tensor3D;
}

/**
 * Scaled dot-product attention of q over k, v ([B, T, h, d]) where position t sees valid keys
 * t - r .. t + r (r = window // 2), or every valid key when window <= 1; -> [B, T, h, d].
 */
export function maskedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, window: number): tf.Tensor4D {
  const [batch, length, heads, d] = q.shape;
  const qs = tf.mul(q, 1 / Math.sqrt(d));
  if (window <= 1) {
    const qh = tf.transpose(qs, [0, 2, 1, 3]); // [B, h, T, d]
    const kh = tf.transpose(k, [0, 2, 3, 1]); // [B, h, d, T]
    const vh = tf.transpose(v, [0, 2, 1, 3]);
    const penalty = tf.mul(tf.sub(1, mask), -1e4).reshape([batch, 1, 1, length]);
    const weights = tf.softmax(tf.add(tf.matMul(qh, kh), penalty), -1);
    return tf.transpose(tf.matMul(weights, vh), [0, 2, 1, 3]) as tf.Tensor4D;
  }
  const r = Math.floor(window / 2);
  const size = 2 * r + 1;
  const kp = tf.pad(k, [
    [0, 0],
    [r, r],
    [0, 0],
    [0, 0],
  ]);
  const vp = tf.pad(v, [
    [0, 0],
    [r, r],
    [0, 0],
    [0, 0],
  ]);
  const mp = tf.pad(mask, [
    [0, 0],
    [r, r],
  ]);
  const scores: tf.Tensor[] = [];
  const values: tf.Tensor[] = [];
  for (let o = 0; o < size; o++) {
    const ko = tf.slice(kp, [0, o, 0, 0], [batch, length, heads, d]);
    values.push(tf.slice(vp, [0, o, 0, 0], [batch, length, heads, d]));
    const mo = tf.slice(mp, [0, o], [batch, length]).reshape([batch, length, 1]);
    scores.push(tf.add(tf.sum(tf.mul(qs, ko), -1), tf.mul(tf.sub(1, mo), -1e4)));
  }
  const weights = tf.softmax(tf.stack(scores, 3), -1); // [B, T, h, W]
  const parts = tf.split(weights, size, 3); // W x [B, T, h, 1]
  return tf.addN(values.map((vo, o) => tf.mul(parts[o]!, vo))) as tf.Tensor4D;
}

/** AffineDropPath: scale x branch, and in training drop whole samples (rate p, survivors / (1 - p)). */
function affineDropPath(x: tf.Tensor3D, p: ActionFormerWeights, name: string, c: ActionFormerConfig, options: ForwardOptions): tf.Tensor3D {
  if (c.dropPath <= 0) return x;
  const scaled = tf.mul(x, p.get(name));
  if (!options.dropPathRandom) return scaled as tf.Tensor3D;
  const keep = 1 - c.dropPath;
  const batch = x.shape[0];
  const sampleMask = Float32Array.from({ length: batch }, () => Math.floor(keep + options.dropPathRandom!()) / keep);
  return tf.mul(scaled, tf.tensor(sampleMask, [batch, 1, 1])) as tf.Tensor3D;
}

/** One TransformerBlock (stride 1 in the stem, 2 in the branch); -> the block's output and mask. */
function block(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  p: ActionFormerWeights,
  prefix: string,
  stride: 1 | 2,
  window: number,
  c: ActionFormerConfig,
  options: ForwardOptions,
): { x: tf.Tensor3D; mask: tf.Tensor2D } {
  const [batch, , e] = x.shape;
  const heads = c.numHeads;
  const outMask = stride === 2 ? downsampleMask(mask) : mask;
  const m = outMask.expandDims(2);
  const h = norm(x, p, `${prefix}.ln1`);
  const branch = (part: 'query' | 'key' | 'value'): tf.Tensor4D => {
    let y = depthwiseConv3(h, p.get(`${prefix}.attn.${part}_conv.conv.weight`));
    if (stride === 2) y = evenSteps(y);
    y = norm(tf.mul(y, m), p, `${prefix}.attn.${part}_norm`);
    const projected = linear(y, p.get(`${prefix}.attn.${part}.weight`), p.get(`${prefix}.attn.${part}.bias`));
    return projected.reshape([batch, y.shape[1], heads, e / heads]) as tf.Tensor4D;
  };
  const context = maskedAttention(branch('query'), branch('key'), branch('value'), outMask, window);
  const length = context.shape[1];
  const attended = tf.mul(
    linear(context.reshape([batch, length, e]), p.get(`${prefix}.attn.proj.weight`), p.get(`${prefix}.attn.proj.bias`)),
    m,
  ) as tf.Tensor3D;
  const skip = stride === 2 ? maxPoolStride2(x) : x;
  const out = tf.add(tf.mul(skip, m), affineDropPath(attended, p, `${prefix}.drop_path_attn.scale`, c, options)) as tf.Tensor3D;
  const hidden = gelu(linear(norm(out, p, `${prefix}.ln2`), p.get(`${prefix}.mlp.0.weight`), p.get(`${prefix}.mlp.0.bias`)));
  const mlp = tf.mul(linear(hidden, p.get(`${prefix}.mlp.3.weight`), p.get(`${prefix}.mlp.3.bias`)), m) as tf.Tensor3D;
  return { x: tf.add(out, affineDropPath(mlp, p, `${prefix}.drop_path_mlp.scale`, c, options)) as tf.Tensor3D, mask: outMask };
}

function head(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  p: ActionFormerWeights,
  name: 'cls_head' | 'reg_head',
  c: ActionFormerConfig,
): tf.Tensor3D {
  const m = mask.expandDims(2);
  const k = c.headKernelSize;
  let h = x;
  for (let i = 0; i < c.headNumLayers - 1; i++) {
    const prefix = `${name}.head.${i}.conv`;
    const conv = tf.mul(conv1d(h, p.get(`${prefix}.weight`), c.headWithLn ? undefined : p.get(`${prefix}.bias`), k), m) as tf.Tensor3D;
    h = tf.relu(c.headWithLn ? norm(conv, p, `${name}.norm.${i}`) : conv) as tf.Tensor3D;
  }
  const out = name === 'cls_head' ? 'cls_head.cls_head.conv' : 'reg_head.offset_head.conv';
  return tf.mul(conv1d(h, p.get(`${out}.weight`), p.get(`${out}.bias`), k), m) as tf.Tensor3D;
}

/**
 * feats [B, T, C] and mask [B, T] (1 = real features; T divisible by the largest stride) -> per
 * level logits [B, T_l, classes], offsets [B, T_l, 2] (ReLU(scale_l x regression)) and the level
 * mask. T should be config.maxSeqLen in training, paddedLength(config, valid) at inference.
 */
export function actionFormerForward(
  feats: tf.Tensor3D,
  mask: tf.Tensor2D,
  p: ActionFormerWeights,
  c: ActionFormerConfig,
  options: ForwardOptions = {},
): LevelTensors[] {
  const [, length] = feats.shape;
  let x = feats;
  let m = mask;
  const m0 = mask.expandDims(2);
  for (let i = 0; i < c.backboneArch[0]; i++) {
    const prefix = `backbone.embd.${i}.conv`;
    const conv = tf.mul(
      conv1d(x, p.get(`${prefix}.weight`), c.embdWithLn ? undefined : p.get(`${prefix}.bias`), c.embdKernelSize),
      m0,
    ) as tf.Tensor3D;
    x = tf.relu(c.embdWithLn ? norm(conv, p, `backbone.embd_norm.${i}`) : conv) as tf.Tensor3D;
  }
  if (c.useAbsPe)
    x = tf.add(x, tf.mul(tf.tensor(positionTable(c.maxSeqLen, c.embdDim, length), [1, length, c.embdDim]), m0)) as tf.Tensor3D;
  const prefixes = blockPrefixes(c);
  const [, stem] = c.backboneArch;
  for (let b = 0; b < stem; b++) ({ x, mask: m } = block(x, m, p, prefixes[b]!, 1, c.mhaWinSize[0]!, c, options));
  const pyramid: Array<{ x: tf.Tensor3D; mask: tf.Tensor2D }> = [{ x, mask: m }];
  for (let l = 1; l < pyramidLevels(c); l++) {
    ({ x, mask: m } = block(x, m, p, prefixes[stem + l - 1]!, 2, c.mhaWinSize[l]!, c, options));
    pyramid.push({ x, mask: m });
  }
  return pyramid.map(({ x: level, mask: lm }, l) => {
    const features = c.fpnWithLn ? norm(level, p, `neck.fpn_norms.${l}`) : level;
    const logits = head(features, lm, p, 'cls_head', c);
    const offsets = tf.relu(tf.mul(head(features, lm, p, 'reg_head', c), p.get(`reg_head.scale.${l}.scale`))) as tf.Tensor3D;
    return { logits, offsets, mask: lm };
  });
}

export { actionFormerFromGraph, actionFormerToGraph, isChannelVector, positionTable } from '../weights/actionformer-parameters.js';
