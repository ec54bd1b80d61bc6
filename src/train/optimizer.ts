/**
 * AdamW (decoupled weight decay, bias-corrected moments) with per-parameter learning-rate scales
 * (layer-wise decay) and global-norm gradient clipping. The moments are plain variables so a
 * checkpoint can save and restore them exactly.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Clip the global gradient norm to this; 0 or undefined disables clipping. */
  readonly clipGrad?: number;
}

export interface ParameterGroup {
  readonly variable: tf.Variable;
  readonly lrScale: number;
  readonly decay: boolean;
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far (the bias-correction step count). */
  steps = 0;

  constructor(
    readonly config: AdamWConfig,
    readonly groups: ReadonlyMap<string, ParameterGroup>,
  ) {
    for (const [name, group] of groups) {
      this.m.set(name, tf.variable(tf.zerosLike(group.variable), false));
      this.v.set(name, tf.variable(tf.zerosLike(group.variable), false));
    }
  }

  /**
   * One training step: the gradients of `lossFn` for every parameter group, then apply().
   * Returns [loss, gradient norm]; call it inside tf.tidy.
   */
  step(lossFn: () => tf.Scalar, lr: number): [tf.Scalar, tf.Scalar] {
    const variables = [...this.groups.values()].map((g) => g.variable);
    const nameOf = new Map([...this.groups].map(([name, g]) => [g.variable.name, name]));
    const { value, grads } = tf.variableGrads(lossFn, variables);
    const named: Record<string, tf.Tensor> = {};
    for (const [key, grad] of Object.entries(grads)) named[nameOf.get(key)!] = grad;
    return [value, this.apply(named, lr)];
  }

  /** Applies one update; returns the gradient norm before clipping. */
  apply(grads: Record<string, tf.Tensor>, lr: number): tf.Scalar {
    this.steps += 1;
    const { beta1, beta2, eps, weightDecay, clipGrad } = this.config;
    const t = this.steps;
    return tf.tidy(() => {
      const names = [...this.groups.keys()].filter((n) => grads[n]);
      const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!))))) as tf.Scalar;
      const clip = clipGrad ? tf.minimum(1, tf.div(clipGrad, tf.add(norm, 1e-6))) : undefined;
      const correction1 = 1 - beta1 ** t;
      const correction2 = 1 - beta2 ** t;
      for (const name of names) {
        const group = this.groups.get(name)!;
        const g = clip ? tf.mul(grads[name]!, clip) : grads[name]!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const stepLr = lr * group.lrScale;
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), eps));
        let next = tf.sub(group.variable, tf.mul(update, stepLr));
        if (group.decay && weightDecay > 0) next = tf.sub(next, tf.mul(group.variable, stepLr * weightDecay));
        group.variable.assign(next);
      }
      return tf.keep(norm);
    });
  }

  /** Moments in TF.js layout, for checkpoints. */
  async state(): Promise<Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>> {
    const out = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();
    for (const name of this.groups.keys()) {
      const m = this.m.get(name)!;
      out.set(name, { m: (await m.data()) as Float32Array, v: (await this.v.get(name)!.data()) as Float32Array, shape: m.shape });
    }
    return out;
  }

  restore(name: string, m: Float32Array, v: Float32Array): void {
    const mv = this.m.get(name);
    if (!mv) throw new Error(`optimizer has no state for '${name}'`);
    mv.assign(tf.tensor(m, mv.shape));
    this.v.get(name)!.assign(tf.tensor(v, mv.shape));
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
