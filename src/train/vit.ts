/**
 * VideoMAE V2 in TensorFlow.js: the encoder that the ONNX export runs (same config, same weight
 * names), the classification head, and the pretraining decoder. Inputs are patch vectors cut in
 * the data path (see patchify.ts) plus their positional embeddings, so token selection (masking)
 * happens on typed arrays and the graph has fixed shapes.
 */
import * as tf from '@tensorflow/tfjs';
import type { DecoderArchitecture, VitArchitecture } from '../config/architectures.js';
import { gelu, layerNorm, linear, batchMatMul } from './ops.js';
import type { ParameterStore } from './parameter-store.js';

interface BlockShape {
  readonly embedDim: number;
  readonly numHeads: number;
}

/** Per-sample keep masks for stochastic depth, one [B,1,1] tensor per block, or none. */
export type DropPathMasks = readonly (tf.Tensor | undefined)[];

function attention(p: ParameterStore, prefix: string, x: tf.Tensor, shape: BlockShape): tf.Tensor {
  const [batch, tokens] = x.shape as [number, number, number];
  const heads = shape.numHeads;
  const headDim = shape.embedDim / heads;
  const bias = tf.concat([p.get(`${prefix}.q_bias`), tf.zerosLike(p.get(`${prefix}.v_bias`)), p.get(`${prefix}.v_bias`)]);
  const qkv = linear(x, p.get(`${prefix}.qkv.weight`), bias)
    .reshape([batch, tokens, 3 * heads, headDim])
    .transpose([0, 2, 1, 3]); // [B, 3H, N, dh]
  const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([batch * heads, tokens, headDim])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  const scores = batchMatMul(tf.mul(q, 1 / Math.sqrt(headDim)) as tf.Tensor3D, tf.transpose(k, [0, 2, 1]));
  const context = batchMatMul(tf.softmax(scores) as tf.Tensor3D, v)
    .reshape([batch, heads, tokens, headDim])
    .transpose([0, 2, 1, 3])
    .reshape([batch, tokens, shape.embedDim]);
  return linear(context, p.get(`${prefix}.proj.weight`), p.get(`${prefix}.proj.bias`));
}

function block(p: ParameterStore, prefix: string, x: tf.Tensor, shape: BlockShape, eps: number, keep?: tf.Tensor): tf.Tensor {
  const residual = (branch: tf.Tensor): tf.Tensor => tf.add(x, keep ? tf.mul(branch, keep) : branch);
  const a = attention(p, `${prefix}.attn`, layerNorm(x, p.get(`${prefix}.norm1.weight`), p.get(`${prefix}.norm1.bias`), eps), shape);
  x = residual(a);
  const h = layerNorm(x, p.get(`${prefix}.norm2.weight`), p.get(`${prefix}.norm2.bias`), eps);
  const m = linear(
    gelu(linear(h, p.get(`${prefix}.mlp.fc1.weight`), p.get(`${prefix}.mlp.fc1.bias`))),
    p.get(`${prefix}.mlp.fc2.weight`),
    p.get(`${prefix}.mlp.fc2.bias`),
  );
  return tf.add(x, keep ? tf.mul(m, keep) : m);
}

/**
 * Encoder: patch vectors [B, N, 3*tubelet*p*p] (any subset of tokens) + their sinusoid
 * positions [B or 1, N, D] -> last block output [B, N, D].
 */
export function encode(
  p: ParameterStore,
  config: VitArchitecture,
  patches: tf.Tensor,
  positions: tf.Tensor,
  dropPath: DropPathMasks = [],
): tf.Tensor {
  let x = tf.add(linear(patches, p.get('patch_embed.proj.weight'), p.get('patch_embed.proj.bias')), positions);
  for (let i = 0; i < config.depth; i++) x = block(p, `blocks.${i}`, x, config, config.layerNormEps, dropPath[i]);
  return x;
}

/** Mean pooling -> fc_norm -> head: tokens [B, N, D] -> logits [B, C]. */
export function classify(p: ParameterStore, config: VitArchitecture, tokens: tf.Tensor): tf.Tensor {
  const features = layerNorm(tf.mean(tokens, 1), p.get('fc_norm.weight'), p.get('fc_norm.bias'), config.fcNormEps ?? config.layerNormEps);
  return linear(features, p.get('head.weight'), p.get('head.bias'));
}

export interface PretrainInputs {
  /** Encoder-visible patches [B, Nv, P] and their encoder positions [B, Nv, D]. */
  readonly visiblePatches: tf.Tensor;
  readonly visiblePositions: tf.Tensor;
  /** Decoder positions of the visible tokens [B, Nv, Dd] and of the mask tokens [B, Nm, Dd]. */
  readonly decoderVisiblePositions: tf.Tensor;
  readonly decoderMaskPositions: tf.Tensor;
}

/**
 * MAE forward: encoder on visible tokens -> norm -> encoder_to_decoder; decoder input is those
 * tokens plus one mask token per reconstructed position, each with its position; predictions
 * [B, Nm, 3*tubelet*p*p] are read at the mask tokens.
 */
export function pretrainForward(
  p: ParameterStore,
  config: VitArchitecture,
  inputs: PretrainInputs,
  dropPath: DropPathMasks = [],
): tf.Tensor {
  const decoder = config.decoder as DecoderArchitecture;
  const eps = config.layerNormEps;
  const encoded = encode(p, config, inputs.visiblePatches, inputs.visiblePositions, dropPath);
  const visible = linear(layerNorm(encoded, p.get('norm.weight'), p.get('norm.bias'), eps), p.get('encoder_to_decoder.weight'));
  const maskTokens = tf.add(p.get('mask_token'), inputs.decoderMaskPositions);
  let x = tf.concat([tf.add(visible, inputs.decoderVisiblePositions), maskTokens], 1);
  for (let i = 0; i < decoder.depth; i++) x = block(p, `decoder.blocks.${i}`, x, decoder, eps);
  const masked = inputs.decoderMaskPositions.shape[1]!;
  const tail = x.slice([0, x.shape[1]! - masked, 0], [-1, masked, -1]);
  return linear(
    layerNorm(tail, p.get('decoder.norm.weight'), p.get('decoder.norm.bias'), eps),
    p.get('decoder.head.weight'),
    p.get('decoder.head.bias'),
  );
}
