/**
 * The VideoMAE V2 backbone as an ONNX graph (opset 17), op for op as modeling_finetune.py:
 *   Conv3d tube embedding -> + sinusoid table -> depth x pre-norm block -> tokens
 *   tokens -> mean over N -> fc_norm -> features -> head -> logits
 * Input `video` [batch, 3, T, H, W]; outputs `logits` [batch, C], `features` [batch, D],
 * `tokens` [batch, N, D] with tokens ordered (t, h, w).
 * H and W may differ from the trained size (any multiple of the patch): the positional table is
 * then resized per temporal slot in the graph (bicubic, as weights/position-resize.ts), as the
 * detection backbones do for full frames. At the trained size the resize is the identity.
 */
import { tokenGrid, type VitArchitecture } from '../config/architectures.js';
import { InternalError } from '../errors.js';
import type { TensorMap } from '../weights/safetensors.js';
import { sinusoidTable } from '../weights/sinusoid-table.js';
import { attr, GraphBuilder, MICROSOFT_DOMAIN, type OnnxModel, type WeightType } from './graph-builder.js';
import { int8Linear } from './int8-linear.js';

export const BACKBONE_INPUT = 'video';

/** Linear weights are stored [out, in]; MatMul wants [in, out]. */
function transposed(weight: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(weight.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = weight[r * cols + c]!;
  }
  return out;
}

class WeightSource {
  constructor(
    private readonly tensors: TensorMap,
    private readonly release: boolean,
  ) {}

  /** A weight's values; with `release`, the map lets go of it (the graph keeps what it needs). */
  get(name: string): Float32Array {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new InternalError(`weight '${name}' is missing (check the state dict before export)`);
    if (this.release) this.tensors.delete(name);
    return tensor.data;
  }
}

export interface VitGraphOptions {
  /** float16 stores every learned weight as half (with a Cast); the maths stays float32. */
  readonly weightType?: WeightType;
  /** Remove each weight from the map once used, so a large model is not held twice. */
  readonly releaseWeights?: boolean;
  /** Every Linear of the blocks (qkv, proj, MLP) with int8 weights and dynamic int8 activations; the head stays float32. */
  readonly int8?: boolean;
  /**
   * 'fused': com.microsoft MultiHeadAttention, one kernel for scores, softmax and context (ONNX
   * Runtime only); 'plain': MatMul / Softmax / MatMul, standard ONNX (the default).
   */
  readonly attention?: AttentionForm;
}

export type AttentionForm = 'plain' | 'fused';

/** What every layer of one export shares. */
interface Context {
  readonly g: GraphBuilder;
  readonly w: WeightSource;
  readonly int8: boolean;
  readonly attention: AttentionForm;
}

/** y = x @ W^T + b for a Linear stored under `prefix`. */
function linear(c: Context, x: string, prefix: string, inDim: number, outDim: number, bias?: Float32Array): string {
  const { g, w } = c;
  const weightIO = transposed(w.get(`${prefix}.weight`), outDim, inDim);
  const b = g.weight(`${prefix}.bias`, [outDim], bias ?? w.get(`${prefix}.bias`));
  if (c.int8) return int8Linear(g, x, prefix, weightIO, inDim, outDim, b);
  const product = g.op('MatMul', [x, g.weight(`${prefix}.weight`, [inDim, outDim], weightIO)]);
  return g.op('Add', [product, b]);
}

function layerNorm(g: GraphBuilder, w: WeightSource, x: string, prefix: string, dim: number, eps: number, outputName?: string): string {
  const scale = g.weight(`${prefix}.weight`, [dim], w.get(`${prefix}.weight`));
  const bias = g.weight(`${prefix}.bias`, [dim], w.get(`${prefix}.bias`));
  return g.op('LayerNormalization', [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(eps) }, outputName);
}

/** Exact (erf) GELU, written so ONNX Runtime's Gelu fusion recognizes it. */
export function gelu(g: GraphBuilder, x: string): string {
  const scaled = g.op('Div', [x, g.scalar('sqrt2', Math.SQRT2)]);
  const erf = g.op('Erf', [scaled]);
  const onePlus = g.op('Add', [erf, g.scalar('one', 1)]);
  const product = g.op('Mul', [x, onePlus]);
  return g.op('Mul', [product, g.scalar('half', 0.5)]);
}

function attention(c: Context, x: string, prefix: string, config: VitArchitecture): string {
  const { g, w } = c;
  const d = config.embedDim;
  const heads = config.numHeads;
  const headDim = d / heads;
  // qkv has no bias of its own: the official model concatenates (q_bias, zeros, v_bias).
  const qkvBias = new Float32Array(3 * d);
  qkvBias.set(w.get(`${prefix}.q_bias`), 0);
  qkvBias.set(w.get(`${prefix}.v_bias`), 2 * d);
  const qkv = linear(c, x, `${prefix}.qkv`, d, 3 * d, qkvBias);
  if (c.attention === 'fused') {
    // [B, N, 3D] -> q, k, v [B, N, D] in the official order; the kernel splits heads itself and
    // scales by headDim^-0.5 by default.
    const [q, k, v] = g.node('Split', [qkv, g.int64('qkv_split', [3], [d, d, d])], 3, { axis: attr.int(-1) });
    const context = g.domainOp(MICROSOFT_DOMAIN, 'MultiHeadAttention', [q!, k!, v!], { num_heads: attr.int(heads) });
    return linear(c, context, `${prefix}.proj`, d, d);
  }
  // [B, N, 3D] -> [B, N, 3, heads, headDim]
  const split = g.op('Reshape', [qkv, g.int64('qkv_shape', [5], [0, 0, 3, heads, headDim])]);
  const part = (index: number, perm: number[]): string => {
    const picked = g.op('Gather', [split, g.int64('index', [], [index])], { axis: attr.int(2) });
    return g.op('Transpose', [picked], { perm: attr.ints(perm) });
  };
  const q = part(0, [0, 2, 1, 3]); // [B, heads, N, hd]
  const kT = part(1, [0, 2, 3, 1]); // [B, heads, hd, N]
  const v = part(2, [0, 2, 1, 3]); // [B, heads, N, hd]
  const qScaled = g.op('Mul', [q, g.scalar('attn_scale', headDim ** -0.5)]);
  const scores = g.op('MatMul', [qScaled, kT]);
  const weights = g.op('Softmax', [scores], { axis: attr.int(-1) });
  const context = g.op('MatMul', [weights, v]); // [B, heads, N, hd]
  const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }), g.int64('merge_shape', [3], [0, 0, d])]);
  return linear(c, merged, `${prefix}.proj`, d, d);
}

function block(c: Context, x: string, index: number, config: VitArchitecture, outputName?: string): string {
  const { g, w } = c;
  const prefix = `blocks.${index}`;
  const d = config.embedDim;
  const attended = attention(c, layerNorm(g, w, x, `${prefix}.norm1`, d, config.layerNormEps), `${prefix}.attn`, config);
  const afterAttention = g.op('Add', [x, attended]);
  const hidden = linear(
    c,
    layerNorm(g, w, afterAttention, `${prefix}.norm2`, d, config.layerNormEps),
    `${prefix}.mlp.fc1`,
    d,
    config.mlpHiddenDim,
  );
  const mlp = linear(c, gelu(g, hidden), `${prefix}.mlp.fc2`, config.mlpHiddenDim, d);
  return g.op('Add', [afterAttention, mlp], {}, outputName);
}

/**
 * The sinusoid table at the token grid of this input: [T', H0, W0, D] planes resized to the
 * H', W' of the patch map (Resize cubic, A = -0.75, half_pixel: PyTorch's bicubic) -> [1, N, D].
 */
function positionsAtInputGrid(
  g: GraphBuilder,
  patches: string,
  grid: { t: number; h: number; w: number; count: number },
  d: number,
): string {
  const table = g.float('pos_embed', [grid.t, grid.h, grid.w, d], sinusoidTable(grid.count, d));
  const planes = g.op('Transpose', [table], { perm: attr.ints([0, 3, 1, 2]) }); // [T', D, H0, W0]
  const spatial = g.op('Slice', [g.op('Shape', [patches]), g.int64('hw_start', [1], [3]), g.int64('hw_end', [1], [5])]);
  const sizes = g.op('Concat', [g.int64('td', [2], [grid.t, d]), spatial], { axis: attr.int(0) });
  const resized = g.op('Resize', [planes, '', '', sizes], {
    mode: attr.string('cubic'),
    cubic_coeff_a: attr.float(-0.75),
    coordinate_transformation_mode: attr.string('half_pixel'),
    exclude_outside: attr.int(0),
  });
  const tokensLast = g.op('Transpose', [resized], { perm: attr.ints([0, 2, 3, 1]) }); // [T', H', W', D]
  return g.op('Reshape', [tokensLast, g.int64('position_shape', [3], [1, -1, d])]);
}

/**
 * Builds the backbone graph from weights under the official names (already checked).
 *
 * @example
 * const model = buildVitGraph(makeArchitecture('vit_small_patch16_224', { numClasses: 400 }), weights);
 * writeModel(model, 'models/s/model.onnx');
 */
export function buildVitGraph(
  config: VitArchitecture,
  weights: TensorMap,
  metadata: Record<string, string> = {},
  options: VitGraphOptions = {},
): OnnxModel {
  const g = new GraphBuilder(`videomae_v2_${config.arch}`, options.weightType ?? 'float32');
  const w = new WeightSource(weights, options.releaseWeights ?? false);
  const c: Context = { g, w, int8: options.int8 ?? false, attention: options.attention ?? 'plain' };
  const d = config.embedDim;
  const grid = tokenGrid(config);
  const p = config.patchSize;

  const video = g.input(BACKBONE_INPUT, 'float32', ['batch', 3, config.numFrames, 'height', 'width']);
  const convWeight = g.weight('patch_embed.proj.weight', [d, 3, config.tubeletSize, p, p], w.get('patch_embed.proj.weight'));
  const convBias = g.weight('patch_embed.proj.bias', [d], w.get('patch_embed.proj.bias'));
  const patches = g.op('Conv', [video, convWeight, convBias], {
    kernel_shape: attr.ints([config.tubeletSize, p, p]),
    strides: attr.ints([config.tubeletSize, p, p]),
  });
  // [B, D, T', H', W'] -> [B, D, N] -> [B, N, D]: flatten(2).transpose(1, 2) in the official code.
  const flat = g.op('Reshape', [patches, g.int64('flat_shape', [3], [0, d, -1])]);
  const tokens = g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });
  let x = g.op('Add', [tokens, positionsAtInputGrid(g, patches, grid, d)]);

  for (let i = 0; i < config.depth; i++) {
    x = block(c, x, i, config, i === config.depth - 1 ? 'tokens' : undefined);
  }
  const pooled = g.op('ReduceMean', [x], { axes: attr.ints([1]), keepdims: attr.int(0) });
  const features = layerNorm(g, w, pooled, 'fc_norm', d, config.fcNormEps ?? config.layerNormEps, 'features');

  if (config.numClasses > 0) {
    // The head stays float32 with --int8: one row per clip costs nothing to run in float, and its
    // rounding flips near-tied top-1 classes (an imported fixture: 98.2 % -> 100 % of views agree).
    const head = linear({ ...c, int8: false }, features, 'head', d, config.numClasses);
    g.op('Identity', [head], {}, 'logits');
    g.output('logits', 'float32', ['batch', config.numClasses]);
  }
  g.output('features', 'float32', ['batch', d]);
  g.output('tokens', 'float32', ['batch', 'tokens', d]);
  return g.build(metadata);
}
