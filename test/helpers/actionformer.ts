/** ActionFormer test helpers: random weights with nothing at its constant init, graph-layout TF.js weights. */
import * as tf from '@tensorflow/tfjs';
import type { ActionFormerConfig } from '../../src/config/actionformer.js';
import { actionFormerParameters, actionFormerToGraph } from '../../src/weights/actionformer-parameters.js';
import { elementCount } from '../../src/weights/parameters.js';
import { seededUniform } from '../../src/weights/random-init.js';
import type { TensorMap } from '../../src/weights/safetensors.js';

export function gaussian(uniform: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Random weights in which nothing keeps its constant init. */
export function randomActionFormerWeights(config: ActionFormerConfig, seed: number): TensorMap {
  const uniform = seededUniform(seed);
  const out: TensorMap = new Map();
  for (const spec of actionFormerParameters(config)) {
    const data = new Float32Array(elementCount(spec.shape));
    for (let i = 0; i < data.length; i++) {
      const n = gaussian(uniform);
      data[i] = spec.init === 'ones' ? 1 + 0.3 * n : spec.init === 'zeros' ? 0.2 * n : 0.4 * n;
    }
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}

export function graphWeights(tensors: TensorMap) {
  const vars = new Map<string, tf.Tensor>();
  for (const [name, t] of tensors) {
    const { shape, data } = actionFormerToGraph(name, t.shape, t.data);
    vars.set(name, tf.tensor(data, shape));
  }
  return {
    get: (name: string) => {
      const v = vars.get(name);
      if (!v) throw new Error(`no weight '${name}'`);
      return v;
    },
  };
}
