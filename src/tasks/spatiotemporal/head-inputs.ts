/**
 * What the AVA head reads for one keyframe clip: the backbone's tokens, the token grid of the
 * (padded) frame the backbone saw, and the people's RoIs in pixels of that frame (ava-clip.ts
 * makes them from normalized boxes). Shared by serving and by the training stage's pooling, so
 * both feed the head the same way.
 */
import { AVA_HEAD_INPUTS } from '../../onnx/ava-head-graph.js';
import { float32Tensor, int64Tensor, type Float32Tensor, type TensorFeeds } from '../../runtime/tensor.js';
import type { Size } from '../../video/geometry.js';

/** Normalized [x1, y1, x2, y2] boxes (flat) -> pixels of a frame of `input` size (no enlargement). */
export function roisInPixels(boxes: Float32Array, input: Size): Float32Array {
  const rois = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i++) rois[i] = boxes[i]! * (i % 2 === 0 ? input.width : input.height);
  return rois;
}

/** `input`: the backbone input (padded) size; `rois`: [R, 4] pixels as [x1, y1, x2, y2], flat. */
export function headFeeds(tokens: Float32Tensor, input: Size, patchSize: number, rois: Float32Array): TensorFeeds {
  const count = rois.length / 4;
  return {
    [AVA_HEAD_INPUTS.tokens]: tokens,
    [AVA_HEAD_INPUTS.gridSize]: int64Tensor([input.height / patchSize, input.width / patchSize]),
    [AVA_HEAD_INPUTS.rois]: float32Tensor(rois, [count, 4]),
    [AVA_HEAD_INPUTS.batchIndices]: int64Tensor(new Array<number>(count).fill(0)),
  };
}
