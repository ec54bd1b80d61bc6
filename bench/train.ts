/**
 * `npm run bench:train`: training step time and achieved GFLOP/s (analytic FLOPs, 3x forward per
 * step) for pretraining and fine-tuning of the tiny recipe config and ViT-S, next to the
 * backend's own matmul GFLOP/s measured in the same run. Writes docs/benchmarks.md.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderFor, makeArchitecture, tokenGrid, type VitArchitecture } from '../src/config/architectures.js';
import { initBackend } from '../src/tfjs/backend.js';
import { classifierForwardFlops, pretrainForwardFlops } from '../src/train/flops.js';
import { maskedReconstructionLoss, softTargetCrossEntropy } from '../src/train/losses.js';
import { AdamW, type ParameterGroup } from '../src/train/optimizer.js';
import { ParameterStore } from '../src/train/parameter-store.js';
import { usesWeightDecay } from '../src/train/schedule.js';
import { classify, encode, pretrainForward } from '../src/train/vit.js';
import { randomWeights } from '../src/weights/random-init.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { machineDescription, median, ROOT, table, writeSection } from './report.js';

interface Case {
  readonly label: string;
  readonly config: VitArchitecture;
  readonly batch: number;
  readonly steps: number;
  readonly stages: ReadonlyArray<'pretrain' | 'finetune'>;
}

async function matmulRate(): Promise<number> {
  const a = tf.randomNormal([1568, 384]);
  const b = tf.randomNormal([384, 1536]);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    if (i > 0) times.push(performance.now() - t);
  }
  tf.dispose([a, b]);
  return (2 * 1568 * 384 * 1536) / (median(times) / 1000) / 1e9;
}

function optimizerFor(store: ParameterStore): AdamW {
  const groups = new Map<string, ParameterGroup>();
  for (const name of store.trainableNames())
    groups.set(name, { variable: store.get(name), lrScale: 1, decay: usesWeightDecay(name, store.get(name).shape) });
  return new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 }, groups);
}

/** Median step time (ms) of `steps` full steps (forward, backward, AdamW) after one warm-up. */
async function timeSteps(store: ParameterStore, loss: () => tf.Scalar, steps: number): Promise<number> {
  const optimizer = optimizerFor(store);
  const variables = store.trainableNames().map((n) => store.get(n));
  const nameOf = new Map(store.trainableNames().map((n) => [store.get(n).name, n]));
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    const value = tf.tidy(() => {
      const { value: v, grads } = tf.variableGrads(loss, variables);
      const named: Record<string, tf.Tensor> = {};
      for (const [k, g] of Object.entries(grads)) named[nameOf.get(k)!] = g;
      optimizer.apply(named, 1e-4).dispose();
      return v;
    });
    await value.data();
    value.dispose();
    if (i > 0) times.push(performance.now() - t);
  }
  optimizer.dispose();
  return median(times);
}

async function benchCase(c: Case): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  const grid = tokenGrid(c.config);
  const p = 3 * c.config.tubeletSize * c.config.patchSize ** 2;
  const d = c.config.embedDim;
  const pretrainConfig = { ...c.config, numClasses: 0, decoder: decoderFor(c.config) };
  const visible = (grid.h * grid.w - Math.trunc(0.9 * grid.h * grid.w)) * grid.t;
  const masked = grid.count / 2;
  const dd = pretrainConfig.decoder.embedDim;
  if (c.stages.includes('pretrain')) {
    const store = new ParameterStore(randomWeights(pretrainConfig, 1));
    const inputs = {
      visiblePatches: tf.randomNormal([c.batch, visible, p]),
      visiblePositions: tf.randomNormal([1, visible, d]).tile([c.batch, 1, 1]),
      decoderVisiblePositions: tf.randomNormal([c.batch, visible, dd]),
      decoderMaskPositions: tf.randomNormal([c.batch, masked, dd]),
    };
    const target = tf.randomNormal([c.batch, masked, p]);
    const weight = tf.ones([c.batch, masked]);
    const ms = await timeSteps(
      store,
      () => maskedReconstructionLoss(pretrainForward(store, pretrainConfig, inputs), target, weight),
      c.steps,
    );
    const flops = 3 * c.batch * pretrainForwardFlops(pretrainConfig, visible, masked);
    rows.push([
      c.label,
      'pretrain (tube 0.9 / running cell 0.5)',
      c.batch,
      ms.toFixed(0),
      (flops / 1e9).toFixed(1),
      (flops / ms / 1e6).toFixed(1),
    ]);
    tf.dispose([...Object.values(inputs), target, weight]);
    store.dispose();
  }
  if (c.stages.includes('finetune')) {
    const config = { ...c.config, numClasses: 400 };
    const store = new ParameterStore(randomWeights(config, 1));
    const patches = tf.randomNormal([c.batch, grid.count, p]);
    const positions = tf.randomNormal([1, grid.count, d]);
    const targets = tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: c.batch }, (_, i) => i),
          'int32',
        ),
        400,
      )
      .toFloat();
    const ms = await timeSteps(
      store,
      () => softTargetCrossEntropy(classify(store, config, encode(store, config, patches, positions)), targets),
      c.steps,
    );
    const flops = 3 * c.batch * classifierForwardFlops(config);
    rows.push([c.label, 'fine-tune', c.batch, ms.toFixed(0), (flops / 1e9).toFixed(1), (flops / ms / 1e6).toFixed(1)]);
    tf.dispose([patches, positions, targets]);
    store.dispose();
  }
  return rows;
}

const CASES: Case[] = [
  {
    label: 'vit_mini 8x64x64 (recipes/synthetic-tiny.json)',
    config: makeArchitecture('vit_mini_patch16_224', { numFrames: 8, imageSize: 64 }),
    batch: 16,
    steps: 5,
    stages: ['pretrain', 'finetune'],
  },
  { label: 'ViT-S 16x224x224', config: makeArchitecture('vit_small_patch16_224'), batch: 1, steps: 3, stages: ['pretrain'] },
  // Fine-tuning at 16x224x224 (1568 tokens) or 8x224x224 aborts in the wasm backend (its heap
  // runs out: attention maps kept for the backward pass); 4 frames (392 tokens) fit.
  {
    label: 'ViT-S 4x224x224',
    config: makeArchitecture('vit_small_patch16_224', { numFrames: 4 }),
    batch: 1,
    steps: 3,
    stages: ['finetune'],
  },
];

/** Each case runs in its own process: the wasm heap only grows, so cases must not share one. */
function runCaseInChild(index: number): Array<Array<string | number>> {
  const out = execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bench', 'train.ts'), '--case', String(index)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const caseFlag = process.argv.indexOf('--case');
  const backend = await initBackend((process.env.BENCH_BACKEND as 'wasm' | undefined) ?? 'auto');
  if (caseFlag > 0) {
    console.log(JSON.stringify(await benchCase(CASES[Number(process.argv[caseFlag + 1])]!)));
    return;
  }
  const before = await matmulRate();
  const rows: Array<Array<string | number>> = [];
  CASES.forEach((c, i) => {
    rows.push(...runCaseInChild(i));
    console.error(`done: ${c.label}`);
  });
  const after = await matmulRate();
  const matmul = (before + after) / 2;
  const withShare = rows.map((r) => [...r, `${((100 * Number(r[5])) / matmul).toFixed(0)}%`]);
  const markdown = `## Training step time (TF.js, ${backend.name} backend)

- Machine: ${machineDescription()}; @tensorflow/tfjs ${tf.version.tfjs}
- Command: \`npm run bench:train\`
- Date: ${new Date().toISOString().slice(0, 10)}
- Backend matmul, same run: **${matmul.toFixed(1)} GFLOP/s** ([1568,384] x [384,1536], median of 5, before ${before.toFixed(1)} / after ${after.toFixed(1)}).
- A step is forward + backward + AdamW on random data (data loading excluded); FLOPs are analytic (matmuls and attention, 2 per multiply-add, training = 3x forward). Each model runs in its own process.
- ViT-S fine-tuning at 16 or 8 frames does not fit the wasm backend's heap (it aborts); the row uses 4 frames (392 tokens). The 16-frame pretraining step fits because the encoder sees only the visible 10 %.

${table(['model', 'stage', 'batch', 'step ms (median)', 'GFLOP per step', 'achieved GFLOP/s', 'share of matmul rate'], withShare)}
`;
  writeSection('train', markdown);
  console.log(markdown);
}

await main();
