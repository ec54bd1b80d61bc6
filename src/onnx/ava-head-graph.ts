/**
 * The AVA action head as its own ONNX graph (opset 17), on the backbone's `tokens`:
 *   tokens [B, N, D] -> (the encoder's final LayerNorm `norm`, when `finalNorm`) -> feature map
 *   [B, D, T', H', W'] -> mean over T' -> RoiAlign (7x7, spatial scale 1/patch, average; aligned:
 *   half_pixel, else output_half_pixel = torchvision aligned=False; sampling ratio fixed, or 0 for
 *   ceil(roi / bin) samples) -> max over the 7x7 -> Linear(D, classes) -> sigmoid.
 * The official VideoMAE-Action-Detection head is finalNorm, aligned=false, sampling ratio 0.
 * Inputs `tokens`, `grid_size` [2] (int64 H', W': the token grid of the frames the backbone saw,
 * which follows the video's aspect), `rois` [R, 4] ([x1, y1, x2, y2] in pixels of the backbone
 * input) and `batch_indices` [R] (int64, the clip of each box); outputs `scores` [R, classes]
 * and `pooled` [R, D]. The final score of an action is sigmoid x the person's detector score (post-processing).
 */
import { InternalError } from '../errors.js';
import type { ParameterSpec } from '../weights/parameters.js';
import type { TensorMap } from '../weights/safetensors.js';
import { attr, GraphBuilder, type OnnxModel } from './graph-builder.js';

export interface AvaHeadConfig {
  readonly embedDim: number;
  /** Temporal tokens of the backbone: T' = frames / tubelet (H', W' come with each input). */
  readonly temporalTokens: number;
  readonly patchSize: number;
  readonly numClasses: number;
  readonly roiSize: number;
  /** Samples per bin per side; 0 = adaptive (ceil(roi size / roiSize)). */
  readonly samplingRatio: number;
  /** false: torchvision roi_align(aligned=False), no half-pixel shift, RoIs at least 1 cell. */
  readonly aligned?: boolean;
  /** LayerNorm `norm` (weights norm.weight, norm.bias) on the tokens first. */
  readonly finalNorm?: boolean;
  readonly layerNormEps?: number;
}

export const AVA_HEAD_INPUTS = { tokens: 'tokens', gridSize: 'grid_size', rois: 'rois', batchIndices: 'batch_indices' } as const;
export const AVA_HEAD_OUTPUTS = { scores: 'scores', pooled: 'pooled' } as const;

export function avaHeadParameters(c: AvaHeadConfig): ParameterSpec[] {
  return [
    ...(c.finalNorm
      ? [
          { name: 'norm.weight', shape: [c.embedDim], init: 'ones' as const },
          { name: 'norm.bias', shape: [c.embedDim], init: 'zeros' as const },
        ]
      : []),
    { name: 'head.weight', shape: [c.numClasses, c.embedDim], init: 'trunc_normal' },
    { name: 'head.bias', shape: [c.numClasses], init: 'zeros' },
  ];
}

/** ONNX metadata key holding the head configuration the graph was built with (pooling semantics live in the graph). */
export const AVA_HEAD_CONFIG_KEY = 'videomae.ava_head';

/** The configuration as recorded in the graph: a stable JSON of the fields that shape it. */
export function avaHeadConfigKey(c: AvaHeadConfig): string {
  return JSON.stringify({
    embedDim: c.embedDim,
    temporalTokens: c.temporalTokens,
    patchSize: c.patchSize,
    numClasses: c.numClasses,
    roiSize: c.roiSize,
    samplingRatio: c.samplingRatio,
    aligned: c.aligned ?? true,
    finalNorm: c.finalNorm ?? false,
    layerNormEps: c.layerNormEps ?? 1e-6,
  });
}

/**
 * Why a head graph with these metadata does not implement `c` (a manifest edited after export), or
 * undefined; graphs exported before the key existed are taken as they are.
 */
export function staleAvaHeadReason(metadata: Record<string, string>, c: AvaHeadConfig): string | undefined {
  const recorded = metadata[AVA_HEAD_CONFIG_KEY];
  if (recorded === undefined || recorded === avaHeadConfigKey(c)) return undefined;
  return `its head graph was exported for ${recorded}, but model.json asks for ${avaHeadConfigKey(c)}`;
}

export function buildAvaHeadGraph(c: AvaHeadConfig, tensors: TensorMap, metadata: Record<string, string> = {}): OnnxModel {
  const weight = tensors.get('head.weight');
  const bias = tensors.get('head.bias');
  if (!weight || !bias)
    throw new InternalError('AVA head weights head.weight / head.bias are missing (check the state dict before export)');
  const g = new GraphBuilder('ava_head');
  const d = c.embedDim;
  const input = g.input(AVA_HEAD_INPUTS.tokens, 'float32', ['batch', 'tokens', d]);
  const gridSize = g.input(AVA_HEAD_INPUTS.gridSize, 'int64', [2]);
  const rois = g.input(AVA_HEAD_INPUTS.rois, 'float32', ['boxes', 4]);
  const indices = g.input(AVA_HEAD_INPUTS.batchIndices, 'int64', ['boxes']);
  let tokens = input;
  if (c.finalNorm) {
    const scale = tensors.get('norm.weight');
    const shift = tensors.get('norm.bias');
    if (!scale || !shift)
      throw new InternalError('AVA head weights norm.weight / norm.bias are missing (check the state dict before export)');
    tokens = g.op('LayerNormalization', [input, g.float('norm.weight', [d], scale.data), g.float('norm.bias', [d], shift.data)], {
      axis: attr.int(-1),
      epsilon: attr.float(c.layerNormEps ?? 1e-6),
    });
  }
  // Tokens are ordered (t, h, w): [B, N, D] -> [B, T', H', W', D] -> [B, D, T', H', W'] -> mean over T'.
  const shape = g.op('Concat', [g.int64('batch_time', [2], [0, c.temporalTokens]), gridSize, g.int64('channels', [1], [d])], {
    axis: attr.int(0),
  });
  const grid = g.op('Reshape', [tokens, shape]);
  const channelsFirst = g.op('Transpose', [grid], { perm: attr.ints([0, 4, 1, 2, 3]) });
  const spatial = g.op('ReduceMean', [channelsFirst], { axes: attr.ints([2]), keepdims: attr.int(0) });
  const aligned = g.op('RoiAlign', [spatial, rois, indices], {
    output_height: attr.int(c.roiSize),
    output_width: attr.int(c.roiSize),
    sampling_ratio: attr.int(c.samplingRatio),
    spatial_scale: attr.float(1 / c.patchSize),
    mode: attr.string('avg'),
    coordinate_transformation_mode: attr.string(c.aligned === false ? 'output_half_pixel' : 'half_pixel'),
  }); // [R, D, 7, 7]
  const pooled = g.op('ReduceMax', [aligned], { axes: attr.ints([2, 3]), keepdims: attr.int(0) }, AVA_HEAD_OUTPUTS.pooled);
  const transposed = new Float32Array(weight.data.length);
  for (let k = 0; k < c.numClasses; k++) for (let j = 0; j < d; j++) transposed[j * c.numClasses + k] = weight.data[k * d + j]!;
  const logits = g.op('Add', [
    g.op('MatMul', [pooled, g.float('head.weight', [d, c.numClasses], transposed)]),
    g.float('head.bias', [c.numClasses], bias.data),
  ]);
  g.op('Sigmoid', [logits], {}, AVA_HEAD_OUTPUTS.scores);
  g.output(AVA_HEAD_OUTPUTS.scores, 'float32', ['boxes', c.numClasses]);
  g.output(AVA_HEAD_OUTPUTS.pooled, 'float32', ['boxes', d]);
  return g.build({ ...metadata, [AVA_HEAD_CONFIG_KEY]: avaHeadConfigKey(c) });
}
