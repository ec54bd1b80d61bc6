/**
 * The model's parameters as TF.js variables, keyed by their official state_dict names. Linear
 * weights live transposed ([in, out]) and the Conv3d tube embedding as a [3*t*p*p, D] matrix, so
 * the forward pass is plain matmuls; conversion happens only when loading and saving.
 */
import * as tf from '@tensorflow/tfjs';
import { elementCount } from '../weights/parameters.js';
import type { TensorMap } from '../weights/safetensors.js';

/** Official-layout parameters that the TF.js graph stores transposed. */
export function isLinearWeight(name: string): boolean {
  return name !== 'patch_embed.proj.weight' && name !== 'mask_token' && name.endsWith('.weight') && !/norm[12]?\.weight$/.test(name);
}

/** Official [out, in] or [D, 3, t, p, p] -> TF.js [in, out]. */
export function toGraphLayout(name: string, shape: readonly number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  if (name === 'patch_embed.proj.weight') return transpose2d([shape[0]!, elementCount(shape.slice(1))], data);
  if (isLinearWeight(name)) return transpose2d([shape[0]!, shape[1]!], data);
  return { shape: [...shape], data };
}

/** Inverse of toGraphLayout, given the official shape. */
export function fromGraphLayout(name: string, officialShape: readonly number[], data: Float32Array): Float32Array {
  if (name === 'patch_embed.proj.weight') return transpose2d([elementCount(officialShape.slice(1)), officialShape[0]!], data).data;
  if (isLinearWeight(name)) return transpose2d([officialShape[1]!, officialShape[0]!], data).data;
  return data;
}

function transpose2d([rows, cols]: [number, number], data: Float32Array): { shape: number[]; data: Float32Array } {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return { shape: [cols, rows], data: out };
}

/** How a model's parameters are laid out in the TF.js graph, relative to their saved layout. */
export interface GraphLayout {
  toGraph(name: string, shape: readonly number[], data: Float32Array): { shape: number[]; data: Float32Array };
  fromGraph(name: string, savedShape: readonly number[], data: Float32Array): Float32Array;
}

/** The VideoMAE V2 layout (the default). */
export const VIT_LAYOUT: GraphLayout = { toGraph: toGraphLayout, fromGraph: fromGraphLayout };

let storeCount = 0;

export class ParameterStore {
  /** TF.js variable names are global; each store gets its own prefix. */
  private readonly id = `store${++storeCount}`;
  private readonly variables = new Map<string, tf.Variable>();
  private readonly officialShapes = new Map<string, readonly number[]>();

  /** Takes every tensor of the map; `trainable` decides which ones gradients flow to. */
  constructor(
    tensors: TensorMap,
    trainable: (name: string) => boolean = () => true,
    private readonly layout: GraphLayout = VIT_LAYOUT,
  ) {
    for (const [name, tensor] of tensors) {
      const { shape, data } = layout.toGraph(name, tensor.shape, tensor.data);
      this.variables.set(name, tf.variable(tf.tensor(data, shape, 'float32'), trainable(name), `${this.id}/${name}`));
      this.officialShapes.set(name, tensor.shape);
    }
  }

  get(name: string): tf.Variable {
    const v = this.variables.get(name);
    if (!v) throw new Error(`parameter '${name}' is not in the model`);
    return v;
  }

  names(): string[] {
    return [...this.variables.keys()];
  }

  trainableNames(): string[] {
    return this.names().filter((n) => this.get(n).trainable);
  }

  /** Official-layout copy of the parameters (optionally only some). */
  async toTensorMap(filter: (name: string) => boolean = () => true): Promise<TensorMap> {
    const out: TensorMap = new Map();
    for (const [name, v] of this.variables) {
      if (!filter(name)) continue;
      const shape = this.officialShapes.get(name)!;
      out.set(name, { shape, data: this.layout.fromGraph(name, shape, (await v.data()) as Float32Array) });
    }
    return out;
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}
