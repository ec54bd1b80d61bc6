/**
 * ActionFormer as an ONNX graph (opset 17), the official PtTransformer forward that
 * src/train/actionformer.ts trains: inputs `feats` [B, C, T] and `mask` [B, 1, T] (float, 1 =
 * real features; T = paddedLength(config, valid), a multiple of the largest stride; with
 * useAbsPe T >= maxSeqLen as the official inference assumes); outputs `cls_logits`
 * [B, sum_l T_l, classes] and `offsets` [B, sum_l T_l, 2], the levels concatenated in order
 * (level l has T / 2^l positions). Convs (dense and depthwise, stride 1 and 2) and the max pool
 * use the native operators on [B, C, T]; LayerNorm and the 1x1 convs work channels last. Local
 * attention is one shifted Slice per window offset, so memory grows with T x window, never T^2;
 * global attention (window <= 1) is two MatMuls.
 */
import { ACTIONFORMER_LN_EPS, pyramidLevels, type ActionFormerConfig } from '../config/actionformer.js';
import { InternalError } from '../errors.js';
import { actionFormerToGraph, blockPrefixes, isChannelVector, positionTable } from '../weights/actionformer-parameters.js';
import type { TensorMap } from '../weights/safetensors.js';
import { attr, GraphBuilder, type OnnxModel } from './graph-builder.js';
import { gelu } from './vit-graph.js';

export const ACTIONFORMER_INPUTS = { feats: 'feats', mask: 'mask' } as const;
export const ACTIONFORMER_OUTPUTS = { logits: 'cls_logits', offsets: 'offsets' } as const;

class Weights {
  private readonly names = new Map<string, string>();
  constructor(
    private readonly g: GraphBuilder,
    private readonly tensors: TensorMap,
  ) {}

  private raw(name: string): { shape: readonly number[]; data: Float32Array } {
    const t = this.tensors.get(name);
    if (!t) throw new InternalError(`ActionFormer weight '${name}' is missing (check the state dict before export)`);
    return t;
  }

  private cached(key: string, make: () => string): string {
    let id = this.names.get(key);
    if (!id) {
      id = make();
      this.names.set(key, id);
    }
    return id;
  }

  /** As stored: Conv1d [out, in / groups, k], biases [out], Scale []. */
  plain(name: string): string {
    return this.cached(name, () => {
      const t = this.raw(name);
      return this.g.weight(name, t.shape, t.data);
    });
  }

  /** A LayerNorm gain / bias or AffineDropPath scale [1, C, 1] as the channels-last [C]. */
  vector(name: string): string {
    if (!isChannelVector(name)) throw new InternalError(`'${name}' is not a channel vector`);
    return this.cached(`${name}:vector`, () => {
      const t = this.raw(name);
      return this.g.weight(`${name}:vector`, [t.data.length], t.data);
    });
  }

  /** A 1x1 Conv1d [out, in, 1] as the [in, out] MatMul wants. */
  matmul(name: string): string {
    return this.cached(`${name}:matmul`, () => {
      const t = this.raw(name);
      const { shape, data } = actionFormerToGraph(name, t.shape, t.data);
      return this.g.weight(`${name}:matmul`, shape, data);
    });
  }
}

export function buildActionFormerGraph(c: ActionFormerConfig, tensors: TensorMap, metadata: Record<string, string> = {}): OnnxModel {
  const g = new GraphBuilder('actionformer');
  const w = new Weights(g, tensors);
  const e = c.embdDim;
  const heads = c.numHeads;
  const d = e / heads;

  const feats = g.input(ACTIONFORMER_INPUTS.feats, 'float32', ['batch', c.inputDim, 'time']);
  const maskIn = g.input(ACTIONFORMER_INPUTS.mask, 'float32', ['batch', 1, 'time']);
  const swap = (x: string) => g.op('Transpose', [x], { perm: attr.ints([0, 2, 1]) }); // [B, C, T] <-> [B, T, C]
  const axis1 = g.int64('axis1', [1], [1]);

  /** Conv1d on channels-last x (padding k // 2), optional bias. */
  const conv = (x: string, prefix: string, k: number, bias: boolean): string =>
    swap(
      g.op('Conv', [swap(x), w.plain(`${prefix}.weight`), ...(bias ? [w.plain(`${prefix}.bias`)] : [])], {
        kernel_shape: attr.ints([k]),
        pads: attr.ints([(k - 1) / 2, (k - 1) / 2]),
      }),
    );
  const depthwise = (x: string, prefix: string, stride: number): string =>
    swap(
      g.op('Conv', [swap(x), w.plain(`${prefix}.weight`)], {
        kernel_shape: attr.ints([3]),
        pads: attr.ints([1, 1]),
        strides: attr.ints([stride]),
        group: attr.int(e),
      }),
    );
  const norm = (x: string, prefix: string): string =>
    g.op('LayerNormalization', [x, w.vector(`${prefix}.weight`), w.vector(`${prefix}.bias`)], {
      axis: attr.int(-1),
      epsilon: attr.float(ACTIONFORMER_LN_EPS),
    });
  const pointwise = (x: string, prefix: string): string =>
    g.op('Add', [g.op('MatMul', [x, w.matmul(`${prefix}.weight`)]), w.plain(`${prefix}.bias`)]);
  const evenSteps = (m: string): string =>
    g.op('Slice', [m, g.int64('zero', [1], [0]), g.int64('huge', [1], [2 ** 62]), axis1, g.int64('two', [1], [2])]);

  /** q, k, v [B, T, E] and key mask [B, T, 1] -> context [B, T, E]. */
  const attention = (q: string, k: string, v: string, m: string, window: number): string => {
    const split = (t: string) => g.op('Reshape', [t, g.int64('heads_shape', [4], [0, 0, heads, d])]);
    const qs = g.op('Mul', [split(q), g.scalar('attn_scale', 1 / Math.sqrt(d))]);
    const penaltyOf = (mo: string) => g.op('Mul', [g.op('Sub', [g.scalar('one', 1), mo]), g.scalar('masked_score', -1e4)]);
    let context: string;
    if (window <= 1) {
      const qh = g.op('Transpose', [qs], { perm: attr.ints([0, 2, 1, 3]) }); // [B, h, T, d]
      const kh = g.op('Transpose', [split(k)], { perm: attr.ints([0, 2, 3, 1]) }); // [B, h, d, T]
      const vh = g.op('Transpose', [split(v)], { perm: attr.ints([0, 2, 1, 3]) });
      const keyPenalty = g.op('Unsqueeze', [penaltyOf(g.op('Transpose', [m], { perm: attr.ints([0, 2, 1]) })), axis1]); // [B, 1, 1, T]
      const weights = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, kh]), keyPenalty])], { axis: attr.int(-1) });
      context = g.op('Transpose', [g.op('MatMul', [weights, vh])], { perm: attr.ints([0, 2, 1, 3]) });
    } else {
      const r = Math.floor(window / 2);
      const size = 2 * r + 1;
      const pad4 = g.int64('pad_time', [8], [0, r, 0, 0, 0, r, 0, 0]);
      const kp = g.op('Pad', [split(k), pad4]);
      const vp = g.op('Pad', [split(v), pad4]);
      const mp = g.op('Pad', [m, g.int64('pad_mask', [6], [0, r, 0, 0, r, 0])]); // [B, T + 2r, 1]
      const length = g.op('Shape', [q], { start: attr.int(1), end: attr.int(2) });
      const scores: string[] = [];
      const values: string[] = [];
      for (let o = 0; o < size; o++) {
        const start = g.int64('start', [1], [o]);
        const end = g.op('Add', [length, start]);
        const ko = g.op('Slice', [kp, start, end, axis1]);
        values.push(g.op('Slice', [vp, start, end, axis1]));
        const mo = g.op('Unsqueeze', [g.op('Slice', [mp, start, end, axis1]), g.int64('axis3', [1], [3])]); // [B, T, 1, 1]
        const dot = g.op('ReduceSum', [g.op('Mul', [qs, ko]), g.int64('last', [1], [-1])], { keepdims: attr.int(1) }); // [B, T, h, 1]
        scores.push(g.op('Add', [dot, penaltyOf(mo)]));
      }
      const weights = g.op('Softmax', [g.op('Concat', scores, { axis: attr.int(3) })], { axis: attr.int(-1) }); // [B, T, h, W]
      const parts = g.node('Split', [weights, g.int64('window_split', [size], new Array(size).fill(1))], size, { axis: attr.int(3) });
      context = g.op(
        'Sum',
        values.map((vo, o) => g.op('Mul', [parts[o]!, vo])),
      );
    }
    return g.op('Reshape', [context, g.int64('merge_shape', [3], [0, 0, e])]);
  };

  const dropPath = (x: string, name: string): string => (c.dropPath > 0 ? g.op('Mul', [x, w.vector(name)]) : x);

  /** TransformerBlock on channels-last x with mask [B, T, 1]; -> output and its mask. */
  const block = (x: string, m: string, prefix: string, stride: 1 | 2, window: number): { x: string; m: string } => {
    const outMask = stride === 2 ? evenSteps(m) : m;
    const h = norm(x, `${prefix}.ln1`);
    const branch = (part: 'query' | 'key' | 'value') =>
      pointwise(
        norm(g.op('Mul', [depthwise(h, `${prefix}.attn.${part}_conv.conv`, stride), outMask]), `${prefix}.attn.${part}_norm`),
        `${prefix}.attn.${part}`,
      );
    const context = attention(branch('query'), branch('key'), branch('value'), outMask, window);
    const attended = g.op('Mul', [pointwise(context, `${prefix}.attn.proj`), outMask]);
    const skip =
      stride === 2
        ? swap(g.op('MaxPool', [swap(x)], { kernel_shape: attr.ints([3]), strides: attr.ints([2]), pads: attr.ints([1, 1]) }))
        : x;
    const out = g.op('Add', [g.op('Mul', [skip, outMask]), dropPath(attended, `${prefix}.drop_path_attn.scale`)]);
    const mlp = g.op('Mul', [pointwise(gelu(g, pointwise(norm(out, `${prefix}.ln2`), `${prefix}.mlp.0`)), `${prefix}.mlp.3`), outMask]);
    return { x: g.op('Add', [out, dropPath(mlp, `${prefix}.drop_path_mlp.scale`)]), m: outMask };
  };

  const head = (x: string, m: string, name: 'cls_head' | 'reg_head'): string => {
    let h = x;
    for (let i = 0; i < c.headNumLayers - 1; i++) {
      const out = g.op('Mul', [conv(h, `${name}.head.${i}.conv`, c.headKernelSize, !c.headWithLn), m]);
      h = g.op('Relu', [c.headWithLn ? norm(out, `${name}.norm.${i}`) : out]);
    }
    return g.op('Mul', [conv(h, name === 'cls_head' ? 'cls_head.cls_head.conv' : 'reg_head.offset_head.conv', c.headKernelSize, true), m]);
  };

  let x = swap(feats);
  let m = swap(maskIn); // [B, T, 1]
  for (let i = 0; i < c.backboneArch[0]; i++) {
    const out = g.op('Mul', [conv(x, `backbone.embd.${i}.conv`, c.embdKernelSize, !c.embdWithLn), m]);
    x = g.op('Relu', [c.embdWithLn ? norm(out, `backbone.embd_norm.${i}`) : out]);
  }
  if (c.useAbsPe) x = g.op('Add', [x, g.op('Mul', [positionEmbedding(g, c, x), m])]);
  const prefixes = blockPrefixes(c);
  const stem = c.backboneArch[1];
  for (let b = 0; b < stem; b++) ({ x, m } = block(x, m, prefixes[b]!, 1, c.mhaWinSize[0]!));
  const pyramid: Array<{ x: string; m: string }> = [{ x, m }];
  for (let l = 1; l < pyramidLevels(c); l++) {
    ({ x, m } = block(x, m, prefixes[stem + l - 1]!, 2, c.mhaWinSize[l]!));
    pyramid.push({ x, m });
  }
  const logits: string[] = [];
  const offsets: string[] = [];
  pyramid.forEach((level, l) => {
    const features = c.fpnWithLn ? norm(level.x, `neck.fpn_norms.${l}`) : level.x;
    logits.push(head(features, level.m, 'cls_head'));
    offsets.push(g.op('Relu', [g.op('Mul', [head(features, level.m, 'reg_head'), w.plain(`reg_head.scale.${l}.scale`)])]));
  });
  g.op('Concat', logits, { axis: attr.int(1) }, ACTIONFORMER_OUTPUTS.logits);
  g.op('Concat', offsets, { axis: attr.int(1) }, ACTIONFORMER_OUTPUTS.offsets);
  g.output(ACTIONFORMER_OUTPUTS.logits, 'float32', ['batch', 'positions', c.numClasses]);
  g.output(ACTIONFORMER_OUTPUTS.offsets, 'float32', ['batch', 'positions', 2]);
  return g.build(metadata);
}

/**
 * The official position embedding at this input's length T, [1, T, E]: the [1, E, maxSeqLen]
 * table resized to max(T, maxSeqLen) (Resize linear, half_pixel = F.interpolate linear with
 * align_corners=False; the identity at maxSeqLen), then its first T steps.
 */
function positionEmbedding(g: GraphBuilder, c: ActionFormerConfig, x: string): string {
  const e = c.embdDim;
  const rows = positionTable(c.maxSeqLen, e, c.maxSeqLen); // [L, E]
  const table = new Float32Array(rows.length);
  for (let t = 0; t < c.maxSeqLen; t++) for (let j = 0; j < e; j++) table[j * c.maxSeqLen + t] = rows[t * e + j]!;
  const pe = g.float('pos_embd', [1, e, 1, c.maxSeqLen], table);
  const length = g.op('Shape', [x], { start: attr.int(1), end: attr.int(2) });
  const target = g.op('Max', [length, g.int64('max_seq_len', [1], [c.maxSeqLen])]);
  const sizes = g.op('Concat', [g.int64('pe_lead', [3], [1, e, 1]), target], { axis: attr.int(0) });
  const resized = g.node('Resize', [pe, '', '', sizes], 1, {
    mode: attr.string('linear'),
    coordinate_transformation_mode: attr.string('half_pixel'),
  })[0]!;
  const flat = g.op('Reshape', [resized, g.int64('pe_flat', [3], [1, e, -1])]);
  const cut = g.op('Slice', [flat, g.int64('zero', [1], [0]), length, g.int64('axis2', [1], [2])]);
  return g.op('Transpose', [cut], { perm: attr.ints([0, 2, 1]) });
}
