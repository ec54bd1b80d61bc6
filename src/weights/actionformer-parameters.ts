/**
 * ActionFormer's parameters under the official `PtTransformer.state_dict()` names and PyTorch
 * shapes (Conv1d [out, in / groups, k]; LayerNorm and AffineDropPath [1, C, 1]; Scale []), in
 * the order of the official module tree: the single list that init, training, saving, import
 * and the ONNX export check against. An official checkpoint matches it once `module.` is stripped.
 */
import { ACTIONFORMER_MLP_RATIO, pyramidLevels, type ActionFormerConfig } from '../config/actionformer.js';
import { elementCount, type ParameterSpec } from './parameters.js';
import { seededUniform } from './random-init.js';
import type { TensorMap } from './safetensors.js';

/** AffineDropPath's init_scale_value. */
export const DROP_PATH_SCALE_INIT = 1e-4;

/** Bias of the classification output conv for a sigmoid starting at `prior` (0: none, bias 0). */
export function clsPriorBias(prior: number): number {
  return prior > 0 ? -Math.log((1 - prior) / prior) : 0;
}

/** Names of the blocks in pyramid order: stem blocks (level 0) then one branch block per level. */
export function blockPrefixes(c: ActionFormerConfig): string[] {
  const [, stem, branch] = c.backboneArch;
  return [
    ...Array.from({ length: stem }, (_, i) => `backbone.stem.${i}`),
    ...Array.from({ length: branch }, (_, i) => `backbone.branch.${i}`),
  ];
}

export function actionFormerParameters(c: ActionFormerConfig): ParameterSpec[] {
  const e = c.embdDim;
  const specs: ParameterSpec[] = [];
  const conv = (prefix: string, out: number, input: number, k: number, bias: boolean): void => {
    specs.push({ name: `${prefix}.weight`, shape: [out, input, k], init: 'kaiming_uniform' });
    if (bias) specs.push({ name: `${prefix}.bias`, shape: [out], init: 'zeros' });
  };
  const norm = (prefix: string, dim: number): void => {
    specs.push(
      { name: `${prefix}.weight`, shape: [1, dim, 1], init: 'ones' },
      { name: `${prefix}.bias`, shape: [1, dim, 1], init: 'zeros' },
    );
  };
  const [embd] = c.backboneArch;
  for (let i = 0; i < embd; i++) conv(`backbone.embd.${i}.conv`, e, i === 0 ? c.inputDim : e, c.embdKernelSize, !c.embdWithLn);
  if (c.embdWithLn) for (let i = 0; i < embd; i++) norm(`backbone.embd_norm.${i}`, e);
  for (const b of blockPrefixes(c)) {
    norm(`${b}.ln1`, e);
    norm(`${b}.ln2`, e);
    for (const part of ['query', 'key', 'value'] as const) {
      conv(`${b}.attn.${part}_conv.conv`, e, 1, 3, false); // depthwise, kernel stride + 1 = 3 for stride 1 and 2
      norm(`${b}.attn.${part}_norm`, e);
    }
    for (const part of ['key', 'query', 'value', 'proj'] as const) conv(`${b}.attn.${part}`, e, e, 1, true);
    conv(`${b}.mlp.0`, ACTIONFORMER_MLP_RATIO * e, e, 1, true);
    conv(`${b}.mlp.3`, e, ACTIONFORMER_MLP_RATIO * e, 1, true);
    if (c.dropPath > 0) {
      specs.push(
        { name: `${b}.drop_path_attn.scale`, shape: [1, e, 1], init: 'ones' },
        { name: `${b}.drop_path_mlp.scale`, shape: [1, e, 1], init: 'ones' },
      );
    }
  }
  const levels = pyramidLevels(c);
  if (c.fpnWithLn) for (let l = 0; l < levels; l++) norm(`neck.fpn_norms.${l}`, c.fpnDim);
  for (const head of ['cls_head', 'reg_head'] as const) {
    for (let i = 0; i < c.headNumLayers - 1; i++)
      conv(`${head}.head.${i}.conv`, c.headDim, i === 0 ? c.fpnDim : c.headDim, c.headKernelSize, !c.headWithLn);
    if (c.headWithLn) for (let i = 0; i < c.headNumLayers - 1; i++) norm(`${head}.norm.${i}`, c.headDim);
    const inDim = c.headNumLayers > 1 ? c.headDim : c.fpnDim;
    if (head === 'cls_head') conv('cls_head.cls_head.conv', c.numClasses, inDim, c.headKernelSize, true);
    else {
      for (let l = 0; l < levels; l++) specs.push({ name: `reg_head.scale.${l}.scale`, shape: [], init: 'ones' });
      conv('reg_head.offset_head.conv', 2, inDim, c.headKernelSize, true);
    }
  }
  return specs;
}

/**
 * Seeded initial weights as the official model starts: PyTorch's default Conv1d weights
 * (kaiming uniform, bound 1/sqrt(fan_in)), zero conv biases (`__init_weights__`, MaskedConv1D),
 * LayerNorm 1 / 0, Scale 1, AffineDropPath 1e-4, and the classification bias
 * -log((1 - prior) / prior) so every sigmoid starts at `clsPriorProb`.
 */
export function actionFormerInitialWeights(c: ActionFormerConfig, seed: number): TensorMap {
  const uniform = seededUniform(seed);
  const out: TensorMap = new Map();
  for (const spec of actionFormerParameters(c)) {
    const data = new Float32Array(elementCount(spec.shape));
    if (spec.init === 'ones') data.fill(spec.name.includes('.drop_path_') ? DROP_PATH_SCALE_INIT : 1);
    else if (spec.init === 'kaiming_uniform') {
      const bound = 1 / Math.sqrt(spec.shape[1]! * spec.shape[2]!);
      for (let i = 0; i < data.length; i++) data[i] = (uniform() * 2 - 1) * bound;
    }
    if (spec.name === 'cls_head.cls_head.conv.bias') data.fill(clsPriorBias(c.clsPriorProb));
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}

/**
 * The official absolute position embedding at length T, [T, C] row-major: the sinusoid table of
 * maxLen positions / sqrt(C) (get_sinusoid_encoding), its first T rows when T <= maxLen, else
 * resized to T (F.interpolate linear, align_corners=False), as the backbone does at inference.
 */
export function positionTable(maxLen: number, dim: number, length: number): Float32Array {
  const table = new Float32Array(maxLen * dim);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / 10000 ** ((2 * Math.floor(j / 2)) / dim);
      table[pos * dim + j] = Math.fround(j % 2 === 0 ? Math.sin(angle) : Math.cos(angle)) / Math.sqrt(dim);
    }
  }
  if (length <= maxLen) return table.slice(0, length * dim);
  const out = new Float32Array(length * dim);
  const scale = maxLen / length;
  for (let t = 0; t < length; t++) {
    const src = Math.max(0, (t + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), maxLen - 1);
    const i1 = Math.min(i0 + 1, maxLen - 1);
    const frac = src - i0;
    for (let j = 0; j < dim; j++) out[t * dim + j] = (1 - frac) * table[i0 * dim + j]! + frac * table[i1 * dim + j]!;
  }
  return out;
}

/** LayerNorm gains/biases and AffineDropPath scales: [1, C, 1] in PyTorch, [C] in the graph. */
export function isChannelVector(name: string): boolean {
  return name.includes('norm') || name.includes('.ln1.') || name.includes('.ln2.') || name.includes('.drop_path_');
}

/** PyTorch layout -> graph layout: Conv1d [out, in, k] -> [k x in, out] (depthwise [C, 1, 3] -> [3, C]); [1, C, 1] -> [C]. */
export function actionFormerToGraph(name: string, shape: readonly number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  if (shape.length === 3 && isChannelVector(name)) return { shape: [shape[1]!], data };
  if (shape.length === 3) {
    const [out, input, k] = shape as [number, number, number];
    const result = new Float32Array(data.length);
    for (let o = 0; o < out; o++)
      for (let ci = 0; ci < input; ci++) for (let t = 0; t < k; t++) result[(t * input + ci) * out + o] = data[(o * input + ci) * k + t]!;
    return { shape: [k * input, out], data: result };
  }
  return { shape: [...shape], data };
}

/** Graph layout -> PyTorch layout, given the PyTorch shape. */
export function actionFormerFromGraph(name: string, shape: readonly number[], data: Float32Array): Float32Array {
  if (shape.length === 3 && !isChannelVector(name)) {
    const [out, input, k] = shape as [number, number, number];
    const result = new Float32Array(data.length);
    for (let o = 0; o < out; o++)
      for (let ci = 0; ci < input; ci++) for (let t = 0; t < k; t++) result[(o * input + ci) * k + t] = data[(t * input + ci) * out + o]!;
    return result;
  }
  return data;
}
