/**
 * ActionFormer's parameters under their names, with PyTorch layouts (Linear [out, in], Conv1d
 * [out, in, k]); the single list that init, training, saving and the ONNX export check against.
 */
import { HEAD_KERNEL, type ActionFormerConfig } from '../config/actionformer.js';
import { elementCount, type ParameterSpec } from './parameters.js';
import { fillTruncatedNormal, seededUniform } from './random-init.js';
import type { TensorMap } from './safetensors.js';

export function actionFormerParameters(c: ActionFormerConfig): ParameterSpec[] {
  const e = c.embedDim;
  const hidden = c.mlpRatio * e;
  const specs: ParameterSpec[] = [];
  const conv = (prefix: string, out: number, input: number, k: number): void => {
    specs.push({ name: `${prefix}.weight`, shape: [out, input, k], init: 'trunc_normal' }, { name: `${prefix}.bias`, shape: [out], init: 'zeros' });
  };
  const norm = (prefix: string, dim: number): void => {
    specs.push({ name: `${prefix}.weight`, shape: [dim], init: 'ones' }, { name: `${prefix}.bias`, shape: [dim], init: 'zeros' });
  };
  const linear = (prefix: string, out: number, input: number): void => {
    specs.push({ name: `${prefix}.weight`, shape: [out, input], init: 'trunc_normal' }, { name: `${prefix}.bias`, shape: [out], init: 'zeros' });
  };
  for (let i = 0; i < c.embedLayers; i++) {
    conv(`embed.${i}.conv`, e, i === 0 ? c.inputDim : e, HEAD_KERNEL);
    norm(`embed.${i}.norm`, e);
  }
  for (let b = 0; b < c.stemLayers + c.levels - 1; b++) {
    norm(`blocks.${b}.norm1`, e);
    linear(`blocks.${b}.attn.qkv`, 3 * e, e);
    linear(`blocks.${b}.attn.proj`, e, e);
    norm(`blocks.${b}.norm2`, e);
    linear(`blocks.${b}.mlp.fc1`, hidden, e);
    linear(`blocks.${b}.mlp.fc2`, e, hidden);
  }
  for (let l = 0; l < c.levels; l++) norm(`neck.${l}`, e);
  for (const head of ['cls_head', 'reg_head'] as const) {
    for (let i = 0; i < c.headLayers - 1; i++) {
      conv(`${head}.${i}.conv`, e, e, HEAD_KERNEL);
      norm(`${head}.${i}.norm`, e);
    }
    conv(`${head}.out`, head === 'cls_head' ? c.numClasses : 2, e, HEAD_KERNEL);
  }
  specs.push({ name: 'reg_head.scale', shape: [c.levels], init: 'ones' });
  return specs;
}

/**
 * Seeded initial weights as ActionFormer starts: small normal weights, zero biases, unit norms, a
 * classification bias of -log((1 - prior) / prior) so every sigmoid starts at `priorProb`, and
 * regression scales of 1.
 */
export function actionFormerInitialWeights(c: ActionFormerConfig, seed: number): TensorMap {
  const uniform = seededUniform(seed);
  const out: TensorMap = new Map();
  for (const spec of actionFormerParameters(c)) {
    const data = new Float32Array(elementCount(spec.shape));
    if (spec.init === 'ones') data.fill(1);
    else if (spec.init === 'trunc_normal') fillTruncatedNormal(data, 0.02, uniform);
    if (spec.name === 'cls_head.out.bias') data.fill(-Math.log((1 - c.priorProb) / c.priorProb));
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}
