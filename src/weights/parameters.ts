/**
 * The parameters of a VideoMAE V2 fine-tuning model under their official state_dict names, with
 * shapes. Every producer (init, import, training) and consumer (export) checks against this list.
 */
import type { VitArchitecture } from '../config/architectures.js';

export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * How a fresh model initializes it (the official _init_weights); 'kaiming_uniform' is PyTorch's
   * default Conv1d init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
   */
  readonly init: 'trunc_normal' | 'zeros' | 'ones' | 'xavier_uniform' | 'kaiming_uniform';
}

function blockParameters(prefix: string, d: number, hidden: number, linearInit: ParameterSpec['init']): ParameterSpec[] {
  return [
    { name: `${prefix}.norm1.weight`, shape: [d], init: 'ones' },
    { name: `${prefix}.norm1.bias`, shape: [d], init: 'zeros' },
    { name: `${prefix}.attn.q_bias`, shape: [d], init: 'zeros' },
    { name: `${prefix}.attn.v_bias`, shape: [d], init: 'zeros' },
    { name: `${prefix}.attn.qkv.weight`, shape: [3 * d, d], init: linearInit },
    { name: `${prefix}.attn.proj.weight`, shape: [d, d], init: linearInit },
    { name: `${prefix}.attn.proj.bias`, shape: [d], init: 'zeros' },
    { name: `${prefix}.norm2.weight`, shape: [d], init: 'ones' },
    { name: `${prefix}.norm2.bias`, shape: [d], init: 'zeros' },
    { name: `${prefix}.mlp.fc1.weight`, shape: [hidden, d], init: linearInit },
    { name: `${prefix}.mlp.fc1.bias`, shape: [hidden], init: 'zeros' },
    { name: `${prefix}.mlp.fc2.weight`, shape: [d, hidden], init: linearInit },
    { name: `${prefix}.mlp.fc2.bias`, shape: [d], init: 'zeros' },
  ];
}

/** Names and shapes in the order of the official module tree. */
export function backboneParameters(config: VitArchitecture): ParameterSpec[] {
  const { embedDim: d, patchSize: p, tubeletSize: tube, mlpHiddenDim: hidden } = config;
  const specs: ParameterSpec[] = [
    { name: 'patch_embed.proj.weight', shape: [d, 3, tube, p, p], init: 'trunc_normal' },
    { name: 'patch_embed.proj.bias', shape: [d], init: 'zeros' },
  ];
  for (let i = 0; i < config.depth; i++) specs.push(...blockParameters(`blocks.${i}`, d, hidden, 'trunc_normal'));
  specs.push({ name: 'fc_norm.weight', shape: [d], init: 'ones' }, { name: 'fc_norm.bias', shape: [d], init: 'zeros' });
  if (config.numClasses > 0) {
    specs.push(
      { name: 'head.weight', shape: [config.numClasses, d], init: 'trunc_normal' },
      { name: 'head.bias', shape: [config.numClasses], init: 'zeros' },
    );
  }
  return specs;
}

/**
 * What pretraining adds to the backbone (official modeling_pretrain.py names, encoder prefix
 * dropped): the encoder's final `norm`, `encoder_to_decoder` (no bias), `mask_token` and the
 * decoder, whose head predicts the 3 x tubelet x p x p normalized pixels of a tube.
 */
export function pretrainingParameters(config: VitArchitecture): ParameterSpec[] {
  const decoder = config.decoder;
  if (!decoder) return [];
  const { embedDim: d, patchSize: p, tubeletSize: tube } = config;
  const dd = decoder.embedDim;
  const specs: ParameterSpec[] = [
    { name: 'norm.weight', shape: [d], init: 'ones' },
    { name: 'norm.bias', shape: [d], init: 'zeros' },
    { name: 'encoder_to_decoder.weight', shape: [dd, d], init: 'xavier_uniform' },
    { name: 'mask_token', shape: [1, 1, dd], init: 'trunc_normal' },
  ];
  for (let i = 0; i < decoder.depth; i++) specs.push(...blockParameters(`decoder.blocks.${i}`, dd, decoder.mlpHiddenDim, 'xavier_uniform'));
  specs.push(
    { name: 'decoder.norm.weight', shape: [dd], init: 'ones' },
    { name: 'decoder.norm.bias', shape: [dd], init: 'zeros' },
    { name: 'decoder.head.weight', shape: [3 * tube * p * p, dd], init: 'xavier_uniform' },
    { name: 'decoder.head.bias', shape: [3 * tube * p * p], init: 'zeros' },
  );
  return specs;
}

/** Every parameter a model folder with this architecture holds. */
export function modelParameters(config: VitArchitecture): ParameterSpec[] {
  return [...backboneParameters(config), ...pretrainingParameters(config)];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
