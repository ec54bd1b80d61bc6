/**
 * The parameters of a VideoMAE V2 fine-tuning model under their official state_dict names, with
 * shapes. Every producer (init, import, training) and consumer (export) checks against this list.
 */
import type { VitArchitecture } from '../config/architectures.js';

export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** How a fresh model initializes it (the official _init_weights). */
  readonly init: 'trunc_normal' | 'zeros' | 'ones';
}

/** Names and shapes in the order of the official module tree. */
export function backboneParameters(config: VitArchitecture): ParameterSpec[] {
  const { embedDim: d, patchSize: p, tubeletSize: tube, mlpHiddenDim: hidden } = config;
  const specs: ParameterSpec[] = [
    { name: 'patch_embed.proj.weight', shape: [d, 3, tube, p, p], init: 'trunc_normal' },
    { name: 'patch_embed.proj.bias', shape: [d], init: 'zeros' },
  ];
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    specs.push(
      { name: `${b}.norm1.weight`, shape: [d], init: 'ones' },
      { name: `${b}.norm1.bias`, shape: [d], init: 'zeros' },
      { name: `${b}.attn.q_bias`, shape: [d], init: 'zeros' },
      { name: `${b}.attn.v_bias`, shape: [d], init: 'zeros' },
      { name: `${b}.attn.qkv.weight`, shape: [3 * d, d], init: 'trunc_normal' },
      { name: `${b}.attn.proj.weight`, shape: [d, d], init: 'trunc_normal' },
      { name: `${b}.attn.proj.bias`, shape: [d], init: 'zeros' },
      { name: `${b}.norm2.weight`, shape: [d], init: 'ones' },
      { name: `${b}.norm2.bias`, shape: [d], init: 'zeros' },
      { name: `${b}.mlp.fc1.weight`, shape: [hidden, d], init: 'trunc_normal' },
      { name: `${b}.mlp.fc1.bias`, shape: [hidden], init: 'zeros' },
      { name: `${b}.mlp.fc2.weight`, shape: [d, hidden], init: 'trunc_normal' },
      { name: `${b}.mlp.fc2.bias`, shape: [d], init: 'zeros' },
    );
  }
  specs.push(
    { name: 'fc_norm.weight', shape: [d], init: 'ones' },
    { name: 'fc_norm.bias', shape: [d], init: 'zeros' },
  );
  if (config.numClasses > 0) {
    specs.push(
      { name: 'head.weight', shape: [config.numClasses, d], init: 'trunc_normal' },
      { name: 'head.bias', shape: [config.numClasses], init: 'zeros' },
    );
  }
  return specs;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
