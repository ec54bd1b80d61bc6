/**
 * The few differentiable ops the ViT needs, shaped for the TF.js wasm backend: its matmul is fast
 * only for plain (non-transposed) operands, so the gradients here transpose explicitly and then
 * multiply, instead of asking matMul for a transposed operand (10-30x slower there).
 */
import * as tf from '@tensorflow/tfjs';

type GradSave = (tensors: tf.Tensor[]) => void;

/** [M, K] x [K, N] with a gradient that uses only non-transposed matmuls. */
export const matMul2d = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: GradSave) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
}) as never) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * [G, M, K] x [G, K, N] as G plain 2-D matmuls: the wasm backend's batched kernel is a naive
 * loop (about 2 GFLOP/s here), its 2-D path uses XNNPACK (4-5x faster even with the slicing).
 */
function sliceMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  const as = tf.unstack(a) as tf.Tensor2D[];
  const bs = tf.unstack(b) as tf.Tensor2D[];
  return tf.stack(as.map((x, i) => tf.matMul(x, bs[i]!))) as tf.Tensor3D;
}

/** Batched [G, M, K] x [G, K, N], with the same explicit-transpose gradient. */
export const batchMatMul = tf.customGrad(((a: tf.Tensor3D, b: tf.Tensor3D, save: GradSave) => {
  save([a, b]);
  return {
    value: sliceMatMul(a, b),
    gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [sliceMatMul(dy, tf.transpose(sb, [0, 2, 1])), sliceMatMul(tf.transpose(sa, [0, 2, 1]), dy)];
    },
  };
}) as never) as unknown as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/** x [..., K] @ w [K, N] (+ b [N]). */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inner = x.shape[x.shape.length - 1]!;
  const outer = x.shape.slice(0, -1);
  const y = matMul2d(x.reshape([-1, inner]) as tf.Tensor2D, w as tf.Tensor2D);
  const out = b ? tf.add(y, b) : y;
  return out.reshape([...outer, w.shape[1]!]);
}

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** GELU with erf, as torch.nn.GELU() and the exported graph. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * Max over axis 1 of [R, K, D] -> [R, D], with the gradient on the first maximum only, as torch's
 * max_pool2d (the official AVA head's MaxPool2d(7)). tf.max sends the full gradient to every tied
 * element, and RoiAlign bins tie exactly where a box reaches past the last cell centre (samples
 * clamp to the border cell), so it would count those gradients several times.
 */
export const maxFirst = tf.customGrad(((x: tf.Tensor3D, save: GradSave) => {
  save([x]);
  return {
    value: tf.max(x, 1),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sx] = saved as [tf.Tensor3D];
      const first = tf.transpose(tf.cast(tf.oneHot(tf.argMax(sx, 1), sx.shape[1]), 'float32'), [0, 2, 1]); // [R, K, D]
      return [tf.mul(first, tf.expandDims(dy, 1))];
    },
  };
}) as never) as unknown as (x: tf.Tensor3D) => tf.Tensor2D;
