/** Data-path patchify and training math against PyTorch (tools/make_train_golden.py). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/tfjs/backend.js';
import { distillationLoss, maskedReconstructionLoss, softTargetCrossEntropy } from '../../src/train/losses.js';
import { AdamW } from '../../src/train/optimizer.js';
import { inputPatches, patchVectorLength, targetPatches } from '../../src/train/patchify.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'train-golden.json'), 'utf8'));
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

describe('patchify in the data path', () => {
  const g = golden.patch;
  const geometry = { frames: g.frames, height: g.height, width: g.width, tubelet: 2, patch: g.patch };
  const tokens = (g.frames / 2) * (g.height / g.patch) * (g.width / g.patch);
  const all = Int32Array.from({ length: tokens }, (_, i) => i);
  const clip = Float32Array.from(g.clip);

  it('cuts patches so that patches x W^T is the Conv3d tube embedding', () => {
    const length = patchVectorLength(geometry);
    const patches = new Float32Array(tokens * length);
    inputPatches(clip, geometry, all, patches);
    const out = new Float32Array(tokens * g.dim);
    for (let n = 0; n < tokens; n++) {
      for (let d = 0; d < g.dim; d++) {
        let sum = 0;
        for (let k = 0; k < length; k++) sum += patches[n * length + k]! * g.weight[d * length + k];
        out[n * g.dim + d] = sum;
      }
    }
    expect(maxAbsDiff(out, Float32Array.from(g.tokens))).toBeLessThan(1e-4);
  });

  it('makes the official normalized-pixel targets', () => {
    const out = new Float32Array(tokens * patchVectorLength(geometry));
    targetPatches(clip, geometry, all, MEAN, STD, out);
    expect(maxAbsDiff(out, Float32Array.from(g.targets))).toBeLessThan(1e-4);
  });

  it('cuts only the requested tokens, in the requested order', () => {
    const length = patchVectorLength(geometry);
    const full = new Float32Array(tokens * length);
    inputPatches(clip, geometry, all, full);
    const some = new Float32Array(2 * length);
    inputPatches(clip, geometry, [5, 2], some);
    expect(Array.from(some.subarray(0, length))).toEqual(Array.from(full.subarray(5 * length, 6 * length)));
    expect(Array.from(some.subarray(length))).toEqual(Array.from(full.subarray(2 * length, 3 * length)));
  });
});

describe('training math', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('AdamW with a no-decay group and gradient clipping follows torch.optim.AdamW', async () => {
    const a = golden.adamw;
    const w = tf.variable(tf.tensor(a.w0, [3, 4]));
    const b = tf.variable(tf.tensor(a.b0, [4]));
    const optimizer = new AdamW(
      { beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: a.weightDecay, clipGrad: a.clip },
      new Map([
        ['w', { variable: w, lrScale: 1, decay: true }],
        ['b', { variable: b, lrScale: 1, decay: false }],
      ]),
    );
    for (let step = 0; step < 3; step++) {
      const grads = { w: tf.tensor(a.grads[step].w, [3, 4]), b: tf.tensor(a.grads[step].b, [4]) };
      optimizer.apply(grads, a.lr).dispose();
      tf.dispose(Object.values(grads));
      expect(maxAbsDiff((await w.data()) as Float32Array, Float32Array.from(a.after[step].w))).toBeLessThan(1e-5);
      expect(maxAbsDiff((await b.data()) as Float32Array, Float32Array.from(a.after[step].b))).toBeLessThan(1e-5);
    }
    optimizer.dispose();
    tf.dispose([w, b]);
  });

  it('soft-target cross-entropy and KL distillation match PyTorch', async () => {
    const l = golden.losses;
    const logits = tf.tensor(l.logits, [3, 5]);
    const ce = softTargetCrossEntropy(logits, tf.tensor(l.soft, [3, 5]));
    const kd = distillationLoss(logits, tf.tensor(l.teacher, [3, 5]), l.temperature);
    expect((await ce.data())[0]).toBeCloseTo(l.ce, 5);
    expect((await kd.data())[0]).toBeCloseTo(l.kd, 5);
    expect((await distillationLoss(logits, logits, 3).data())[0]).toBeCloseTo(0, 6);
  });

  it('reconstruction loss averages pixels, then only the weighted tokens', async () => {
    const prediction = tf.tensor([
      [
        [1, 1],
        [0, 0],
        [5, 5],
      ],
    ]);
    const target = tf.tensor([
      [
        [0, 0],
        [0, 2],
        [0, 0],
      ],
    ]);
    const loss = maskedReconstructionLoss(prediction, target, tf.tensor([[1, 1, 0]]));
    // token 0: mean(1, 1) = 1; token 1: mean(0, 4) = 2; token 2 ignored -> 1.5
    expect((await loss.data())[0]).toBeCloseTo(1.5, 6);
  });
});
