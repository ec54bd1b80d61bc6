/**
 * ActionFormer as an ONNX graph (opset 17), the function src/train/actionformer.ts trains:
 * inputs `feats` [B, C, T] and `mask` [B, 1, T] (float, 1 = real features; T a multiple of
 * 2^(levels - 1)); outputs `cls_logits` [B, sum_l T_l, classes] and `offsets` [B, sum_l T_l, 2],
 * the levels concatenated in order (level l has T / 2^l positions). Convs and the max pool use
 * the native operators; local attention is one shifted Slice per window offset, so memory grows
 * with T x window, never T^2.
 */
import { HEAD_KERNEL, type ActionFormerConfig } from '../config/actionformer.js';
import { InternalError } from '../errors.js';
import type { TensorMap } from '../weights/safetensors.js';
import { attr, GraphBuilder, type OnnxModel } from './graph-builder.js';
import { gelu } from './vit-graph.js';

export const ACTIONFORMER_INPUTS = { feats: 'feats', mask: 'mask' } as const;
export const ACTIONFORMER_OUTPUTS = { logits: 'cls_logits', offsets: 'offsets' } as const;

class Weights {
  private readonly names = new Map<string, string>();
  constructor(private readonly g: GraphBuilder, private readonly tensors: TensorMap) {}

  private raw(name: string): { shape: readonly number[]; data: Float32Array } {
    const t = this.tensors.get(name);
    if (!t) throw new InternalError(`ActionFormer weight '${name}' is missing (check the state dict before export)`);
    return t;
  }

  /** A weight as stored (convs [out, in, k], norms, biases); shared by every use. */
  plain(name: string): string {
    let id = this.names.get(name);
    if (!id) {
      const t = this.raw(name);
      id = this.g.weight(name, t.shape, t.data);
      this.names.set(name, id);
    }
    return id;
  }

  /** A Linear weight [out, in] as the [in, out] MatMul wants. */
  linear(name: string): string {
    let id = this.names.get(name);
    if (!id) {
      const t = this.raw(name);
      const [out, input] = t.shape as [number, number];
      const data = new Float32Array(t.data.length);
      for (let o = 0; o < out; o++) for (let i = 0; i < input; i++) data[i * out + o] = t.data[o * input + i]!;
      id = this.g.weight(name, [input, out], data);
      this.names.set(name, id);
    }
    return id;
  }
}

export function buildActionFormerGraph(c: ActionFormerConfig, tensors: TensorMap, metadata: Record<string, string> = {}): OnnxModel {
  const g = new GraphBuilder('actionformer');
  const w = new Weights(g, tensors);
  const e = c.embedDim;
  const heads = c.numHeads;
  const d = e / heads;
  const r = (c.window - 1) / 2;

  const feats = g.input(ACTIONFORMER_INPUTS.feats, 'float32', ['batch', c.inputDim, 'time']);
  const maskIn = g.input(ACTIONFORMER_INPUTS.mask, 'float32', ['batch', 1, 'time']);
  const toTime = (x: string) => g.op('Transpose', [x], { perm: attr.ints([0, 2, 1]) }); // [B, C, T] <-> [B, T, C]

  const conv = (x: string, prefix: string): string => {
    const out = g.op('Conv', [toTime(x), w.plain(`${prefix}.weight`), w.plain(`${prefix}.bias`)], {
      kernel_shape: attr.ints([HEAD_KERNEL]), pads: attr.ints([1, 1]),
    });
    return toTime(out);
  };
  const norm = (x: string, prefix: string): string =>
    g.op('LayerNormalization', [x, w.plain(`${prefix}.weight`), w.plain(`${prefix}.bias`)], { axis: attr.int(-1), epsilon: attr.float(c.layerNormEps) });
  const linear = (x: string, prefix: string): string => g.op('Add', [g.op('MatMul', [x, w.linear(`${prefix}.weight`)]), w.plain(`${prefix}.bias`)]);

  const attention = (x: string, m: string, prefix: string): string => {
    const qkv = linear(x, `${prefix}.qkv`);
    const [q, k, v] = g.node('Split', [qkv, g.int64('split', [3], [e, e, e])], 3, { axis: attr.int(2) }) as [string, string, string];
    const split = (t: string) => g.op('Reshape', [t, g.int64('heads_shape', [4], [0, 0, heads, d])]);
    const qs = g.op('Mul', [split(q), g.scalar('attn_scale', d ** -0.5)]);
    const pad4 = g.int64('pad_time', [8], [0, r, 0, 0, 0, r, 0, 0]);
    const kp = g.op('Pad', [split(k), pad4]);
    const vp = g.op('Pad', [split(v), pad4]);
    const mp = g.op('Pad', [m, g.int64('pad_mask', [6], [0, r, 0, 0, r, 0])]); // [B, T + 2r, 1]
    const length = g.op('Shape', [x], { start: attr.int(1), end: attr.int(2) });
    const axis1 = g.int64('axis1', [1], [1]);
    const scores: string[] = [];
    const values: string[] = [];
    for (let o = 0; o < c.window; o++) {
      const start = g.int64('start', [1], [o]);
      const end = g.op('Add', [length, start]);
      const ko = g.op('Slice', [kp, start, end, axis1]);
      values.push(g.op('Slice', [vp, start, end, axis1]));
      const mo = g.op('Unsqueeze', [g.op('Slice', [mp, start, end, axis1]), g.int64('axis3', [1], [3])]); // [B, T, 1, 1]
      const dot = g.op('ReduceSum', [g.op('Mul', [qs, ko]), g.int64('last', [1], [-1])], { keepdims: attr.int(1) }); // [B, T, h, 1]
      const penalty = g.op('Mul', [g.op('Sub', [g.scalar('one', 1), mo]), g.scalar('masked_score', -1e4)]);
      scores.push(g.op('Add', [dot, penalty]));
    }
    const weights = g.op('Softmax', [g.op('Concat', scores, { axis: attr.int(3) })], { axis: attr.int(-1) }); // [B, T, h, W]
    const parts = g.node('Split', [weights, g.int64('window_split', [c.window], new Array(c.window).fill(1))], c.window, { axis: attr.int(3) });
    const context = g.op('Sum', values.map((vo, o) => g.op('Mul', [parts[o]!, vo])));
    return linear(g.op('Reshape', [context, g.int64('merge_shape', [3], [0, 0, e])]), `${prefix}.proj`);
  };

  const block = (x: string, m: string, index: number): string => {
    const prefix = `blocks.${index}`;
    const attended = attention(norm(x, `${prefix}.norm1`), m, `${prefix}.attn`);
    const afterAttention = g.op('Add', [x, g.op('Mul', [attended, m])]);
    const mlp = linear(gelu(g, linear(norm(afterAttention, `${prefix}.norm2`), `${prefix}.mlp.fc1`)), `${prefix}.mlp.fc2`);
    return g.op('Add', [afterAttention, g.op('Mul', [mlp, m])]);
  };

  const head = (x: string, m: string, name: 'cls_head' | 'reg_head'): string => {
    let h = x;
    for (let i = 0; i < c.headLayers - 1; i++) h = g.op('Relu', [norm(g.op('Mul', [conv(h, `${name}.${i}.conv`), m]), `${name}.${i}.norm`)]);
    return g.op('Mul', [conv(h, `${name}.out`), m]);
  };

  let x = toTime(feats);
  let m = toTime(maskIn); // [B, T, 1]
  for (let i = 0; i < c.embedLayers; i++) x = g.op('Relu', [norm(g.op('Mul', [conv(x, `embed.${i}.conv`), m]), `embed.${i}.norm`)]);
  for (let b = 0; b < c.stemLayers; b++) x = block(x, m, b);
  const pyramid: Array<{ x: string; m: string }> = [{ x, m }];
  for (let l = 1; l < c.levels; l++) {
    const pooled = g.op('MaxPool', [toTime(g.op('Mul', [x, m]))], { kernel_shape: attr.ints([3]), strides: attr.ints([2]), pads: attr.ints([1, 1]) });
    m = g.op('Slice', [m, g.int64('zero', [1], [0]), g.int64('huge', [1], [2 ** 62]), g.int64('axis1', [1], [1]), g.int64('two', [1], [2])]);
    x = block(toTime(pooled), m, c.stemLayers + l - 1);
    pyramid.push({ x, m });
  }
  const scale = w.plain('reg_head.scale');
  const logits: string[] = [];
  const offsets: string[] = [];
  pyramid.forEach((level, l) => {
    const features = norm(level.x, `neck.${l}`);
    logits.push(head(features, level.m, 'cls_head'));
    const scaleL = g.op('Gather', [scale, g.int64('level', [], [l])]);
    offsets.push(g.op('Mul', [g.op('Relu', [g.op('Mul', [head(features, level.m, 'reg_head'), scaleL])]), level.m]));
  });
  g.op('Concat', logits, { axis: attr.int(1) }, ACTIONFORMER_OUTPUTS.logits);
  g.op('Concat', offsets, { axis: attr.int(1) }, ACTIONFORMER_OUTPUTS.offsets);
  g.output(ACTIONFORMER_OUTPUTS.logits, 'float32', ['batch', 'positions', c.numClasses]);
  g.output(ACTIONFORMER_OUTPUTS.offsets, 'float32', ['batch', 'positions', 2]);
  return g.build(metadata);
}
