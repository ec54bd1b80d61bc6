/**
 * `npm run bench:train`: training step time and achieved GFLOP/s (analytic FLOPs, 3x forward per
 * step) of every training stage: ViT pretraining and fine-tuning (the tiny recipe config, patch 8,
 * ViT-S), distillation (student step + teacher forward), ActionFormer and the frozen-backbone AVA
 * head, next to the backend's own matmul GFLOP/s measured before and after in the same run.
 * Writes the `bench:train` section of docs/benchmarks.md.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderFor, makeArchitecture, tokenGrid, type VitArchitecture } from '../src/config/architectures.js';
import { initBackend } from '../src/tfjs/backend.js';
import { useStockUnpack } from '../src/tfjs/wasm-unpack.js';
import { makeActionFormerConfig, type ActionFormerConfig } from '../src/config/actionformer.js';
import { ACTOR_CLASSES, TIMELINE_CLASSES } from '../src/datasets/synthetic-render.js';
import { actionFormerForward } from '../src/train/actionformer.js';
import { assignTargets } from '../src/train/actionformer-targets.js';
import { ACTIONFORMER_LAYOUT } from '../src/train/actionformer-trainer.js';
import { actionFormerForwardFlops, avaHeadForwardFlops, classifierForwardFlops, pretrainForwardFlops } from '../src/train/flops.js';
import {
  actionFormerLoss,
  distillationLoss,
  maskedReconstructionLoss,
  multiLabelBce,
  softTargetCrossEntropy,
} from '../src/train/losses.js';
import { AdamW, type ParameterGroup } from '../src/train/optimizer.js';
import { ParameterStore } from '../src/train/parameter-store.js';
import { usesWeightDecay } from '../src/train/schedule.js';
import { classify, encode, pretrainForward } from '../src/train/vit.js';
import { actionFormerInitialWeights } from '../src/weights/actionformer-parameters.js';
import { randomWeights, seededUniform } from '../src/weights/random-init.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineDescription, median, ROOT, table, writeSection } from './report.js';

type Row = Array<string | number>;

/** A ViT case: pretraining and / or fine-tuning of one architecture. */
interface VitCase {
  readonly kind: 'vit';
  readonly label: string;
  readonly config: VitArchitecture;
  readonly batch: number;
  readonly steps: number;
  readonly stages: ReadonlyArray<'pretrain' | 'finetune'>;
  /** Run on the wasm backend's own Unpack kernel instead of src/tfjs/wasm-unpack.ts. */
  readonly stockUnpack?: boolean;
}

/** Distillation: a student fine-tune step on the KD loss, with the teacher's forward pass in the step. */
interface DistillCase {
  readonly kind: 'distill';
  readonly label: string;
  readonly student: VitArchitecture;
  readonly teacher: VitArchitecture;
  readonly batch: number;
  readonly steps: number;
}

/** The ActionFormer stage on a recipe's model (features of the bundled backbone). */
interface ActionFormerCase {
  readonly kind: 'actionformer';
  readonly label: string;
  readonly config: ActionFormerConfig;
  readonly batch: number;
  readonly steps: number;
}

/** The AVA head with a frozen backbone: linear + multi-label BCE over RoI-pooled box features. */
interface AvaHeadCase {
  readonly kind: 'ava-head';
  readonly label: string;
  readonly embedDim: number;
  readonly numClasses: number;
  readonly batch: number;
  readonly steps: number;
}

type Case = VitCase | DistillCase | ActionFormerCase | AvaHeadCase;

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

/** The trainable variables of a ViT store, grouped as the backbone stages group them. */
function vitGroups(store: ParameterStore): Map<string, ParameterGroup> {
  const groups = new Map<string, ParameterGroup>();
  for (const name of store.trainableNames())
    groups.set(name, { variable: store.get(name), lrScale: 1, decay: usesWeightDecay(name, store.get(name).shape) });
  return groups;
}

/**
 * Median step time (ms) of `steps` full steps after one warm-up: `prepare` (tensors made outside
 * the gradient tape, as the trainer makes teacher logits), then forward, backward and AdamW.
 */
async function timeSteps(
  groups: Map<string, ParameterGroup>,
  loss: (prepared: tf.Tensor | undefined) => tf.Scalar,
  steps: number,
  options: { betas?: readonly [number, number]; prepare?: () => tf.Tensor } = {},
): Promise<number> {
  const [beta1, beta2] = options.betas ?? [0.9, 0.95];
  const optimizer = new AdamW({ beta1, beta2, eps: 1e-8, weightDecay: 0.05 }, groups);
  const variables = [...groups.values()].map((g) => g.variable);
  const nameOf = new Map([...groups].map(([n, g]) => [g.variable.name, n]));
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    const prepared = options.prepare?.();
    const value = tf.tidy(() => {
      const { value: v, grads } = tf.variableGrads(() => loss(prepared), variables);
      const named: Record<string, tf.Tensor> = {};
      for (const [k, g] of Object.entries(grads)) named[nameOf.get(k)!] = g;
      optimizer.apply(named, 1e-4).dispose();
      return v;
    });
    await value.data();
    value.dispose();
    prepared?.dispose();
    if (i > 0) times.push(performance.now() - t);
  }
  optimizer.dispose();
  return median(times);
}

/** GFLOP (or GFLOP/s) with one decimal, or two significant digits below 1. */
function giga(value: number): string {
  return value >= 1 ? value.toFixed(1) : value.toPrecision(2);
}

function row(model: string, stage: string, batch: number, ms: number, flops: number): Row {
  return [model, stage, batch, ms >= 10 ? ms.toFixed(0) : ms.toFixed(1), giga(flops / 1e9), giga(flops / ms / 1e6)];
}

function oneHotTargets(batch: number, classes: number): tf.Tensor {
  return tf
    .oneHot(
      tf.tensor1d(
        Array.from({ length: batch }, (_, i) => i % classes),
        'int32',
      ),
      classes,
    )
    .toFloat();
}

async function benchVit(c: VitCase): Promise<Row[]> {
  const rows: Row[] = [];
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
      vitGroups(store),
      () => maskedReconstructionLoss(pretrainForward(store, pretrainConfig, inputs), target, weight),
      c.steps,
    );
    const flops = 3 * c.batch * pretrainForwardFlops(pretrainConfig, visible, masked);
    rows.push(row(c.label, 'pretrain (tube 0.9 / running cell 0.5)', c.batch, ms, flops));
    tf.dispose([...Object.values(inputs), target, weight]);
    store.dispose();
  }
  if (c.stages.includes('finetune')) {
    const config = { ...c.config, numClasses: 400 };
    const store = new ParameterStore(randomWeights(config, 1));
    const patches = tf.randomNormal([c.batch, grid.count, p]);
    const positions = tf.randomNormal([1, grid.count, d]);
    const targets = oneHotTargets(c.batch, 400);
    const ms = await timeSteps(
      vitGroups(store),
      () => softTargetCrossEntropy(classify(store, config, encode(store, config, patches, positions)), targets),
      c.steps,
    );
    const flops = 3 * c.batch * classifierForwardFlops(config);
    rows.push(row(c.label, `fine-tune (patch ${c.config.patchSize}, ${grid.count} tokens)`, c.batch, ms, flops));
    tf.dispose([patches, positions, targets]);
    store.dispose();
  }
  return rows;
}

/** As the distill stage: teacher logits outside the tape, then KD (T = 1, alpha = 0 as the recipe defaults) + label loss. */
async function benchDistill(c: DistillCase): Promise<Row[]> {
  const student = c.student;
  const teacher = c.teacher;
  const grid = tokenGrid(student);
  if (tokenGrid(teacher).count !== grid.count || teacher.patchSize !== student.patchSize) throw new Error('teacher must share the patches');
  const p = 3 * student.tubeletSize * student.patchSize ** 2;
  const store = new ParameterStore(randomWeights(student, 1));
  const teacherStore = new ParameterStore(randomWeights(teacher, 2), () => false);
  const patches = tf.randomNormal([c.batch, grid.count, p]);
  const positions = tf.randomNormal([1, grid.count, student.embedDim]);
  const teacherPositions = tf.randomNormal([1, grid.count, teacher.embedDim]);
  const targets = oneHotTargets(c.batch, student.numClasses);
  const alpha = 0;
  const ms = await timeSteps(
    vitGroups(store),
    (soft) => {
      const logits = classify(store, student, encode(store, student, patches, positions));
      const kd = distillationLoss(logits, soft!, 1);
      return tf.add(tf.mul(kd, 1 - alpha), tf.mul(softTargetCrossEntropy(logits, targets), alpha)) as tf.Scalar;
    },
    c.steps,
    { prepare: () => tf.tidy(() => classify(teacherStore, teacher, encode(teacherStore, teacher, patches, teacherPositions))) },
  );
  const flops = c.batch * (3 * classifierForwardFlops(student) + classifierForwardFlops(teacher));
  tf.dispose([patches, positions, teacherPositions, targets]);
  store.dispose();
  teacherStore.dispose();
  return [row(c.label, 'distill (student step + teacher forward)', c.batch, ms, flops)];
}

/** As the actionformer stage: maxSeqLen windows, centre-sampled targets, drop path on, focal + DIoU. */
async function benchActionFormer(c: ActionFormerCase): Promise<Row[]> {
  const config = c.config;
  const L = config.maxSeqLen;
  const store = new ParameterStore(actionFormerInitialWeights(config, 1), () => true, ACTIONFORMER_LAYOUT);
  const groups = new Map<string, ParameterGroup>();
  for (const n of store.names()) groups.set(n, { variable: store.get(n), lrScale: 1, decay: store.get(n).shape.length >= 2 });
  const targets = Array.from({ length: c.batch }, (_, b) =>
    assignTargets(config, L, Float32Array.from([4 + b, 20 + b, 40, 70]), Int32Array.from([b % config.numClasses, 1])),
  );
  const P = targets[0]!.points;
  const cat = (parts: Float32Array[]) => Float32Array.from(parts.flatMap((part) => Array.from(part)));
  const feats = tf.randomNormal([c.batch, L, config.inputDim]) as tf.Tensor3D;
  const mask = tf.ones([c.batch, L]) as tf.Tensor2D;
  const cls = tf.tensor(cat(targets.map((t) => t.cls)), [c.batch, P, config.numClasses]);
  const offsets = tf.tensor(cat(targets.map((t) => t.offsets)), [c.batch, P, 2]);
  const positive = tf.tensor(cat(targets.map((t) => t.positive)), [c.batch, P, 1]);
  const uniform = seededUniform(1);
  const weights = { get: (name: string) => store.get(name) };
  const ms = await timeSteps(
    groups,
    () =>
      actionFormerLoss(actionFormerForward(feats, mask, weights, config, { dropPathRandom: uniform }), { cls, offsets, positive }, 100, {
        focalAlpha: 0.25,
        focalGamma: 2,
        regressionWeight: 1,
      }),
    c.steps,
    { betas: [0.9, 0.999] },
  );
  const flops = 3 * c.batch * actionFormerForwardFlops(config);
  tf.dispose([feats, mask, cls, offsets, positive]);
  store.dispose();
  return [row(c.label, `ActionFormer (${L} steps, windows ${config.mhaWinSize.join('/')})`, c.batch, ms, flops)];
}

/** As the ava stage with a frozen backbone: the head's linear layer over precomputed pooled box features, BCE. */
async function benchAvaHead(c: AvaHeadCase): Promise<Row[]> {
  const D = c.embedDim;
  const C = c.numClasses;
  const weight = tf.variable(tf.randomNormal([D, C], 0, 0.02), true, 'bench_ava_head_weight');
  const bias = tf.variable(tf.zeros([C]), true, 'bench_ava_head_bias');
  const groups = new Map<string, ParameterGroup>([
    ['head.weight', { variable: weight, lrScale: 1, decay: true }],
    ['head.bias', { variable: bias, lrScale: 1, decay: false }],
  ]);
  const pooled = tf.randomNormal([c.batch, D]);
  const targets = tf.cast(tf.greater(tf.randomUniform([c.batch, C]), 0.7), 'float32');
  const ms = await timeSteps(groups, () => multiLabelBce(tf.add(tf.matMul(pooled, weight), bias), targets), c.steps, {
    betas: [0.9, 0.999],
  });
  const flops = 3 * avaHeadForwardFlops(c.batch, D, C);
  tf.dispose([weight, bias, pooled, targets]);
  return [row(c.label, 'AVA head, frozen backbone (linear + BCE on pooled boxes)', c.batch, ms, flops)];
}

async function benchCase(c: Case): Promise<Row[]> {
  switch (c.kind) {
    case 'vit':
      if (c.stockUnpack) useStockUnpack();
      return benchVit(c);
    case 'distill':
      return benchDistill(c);
    case 'actionformer':
      return benchActionFormer(c);
    case 'ava-head':
      return benchAvaHead(c);
  }
}

interface StageJson {
  stage: string;
  batch: number;
  maxSeqLen?: number;
  model?: Partial<ActionFormerConfig>;
}

function recipeStage(file: string, stage: string): StageJson {
  const recipe = JSON.parse(readFileSync(join(ROOT, 'recipes', file), 'utf8')) as { stages: StageJson[] };
  return recipe.stages.find((s) => s.stage === stage)!;
}

const TEMPORAL = recipeStage('synthetic-temporal.json', 'actionformer');
const AVA = recipeStage('synthetic-ava.json', 'ava');
const TINY = makeArchitecture('vit_mini_patch16_224', { numFrames: 8, imageSize: 64 });
const PATCH8 = makeArchitecture('vit_mini_patch16_224', { numFrames: 8, imageSize: 64, patchSize: 8 });

const CASES: Case[] = [
  {
    kind: 'vit',
    label: 'vit_mini 8x64x64 (recipes/synthetic-tiny.json)',
    config: TINY,
    batch: 16,
    steps: 5,
    stages: ['pretrain', 'finetune'],
  },
  {
    kind: 'vit',
    label: 'vit_mini patch 8, 8x64x64 (recipes/synthetic-motion.json, the bundled default)',
    config: PATCH8,
    batch: 16,
    steps: 5,
    stages: ['finetune'],
  },
  {
    kind: 'vit',
    label: "the same, on the wasm backend's stock Unpack kernel",
    config: PATCH8,
    batch: 16,
    steps: 5,
    stages: ['finetune'],
    stockUnpack: true,
  },
  {
    kind: 'distill',
    label: 'vit_mini 8x64x64 student, ViT-S 8x64x64 teacher',
    student: { ...TINY, numClasses: 400 },
    teacher: makeArchitecture('vit_small_patch16_224', { numFrames: 8, imageSize: 64, numClasses: 400 }),
    batch: 16,
    steps: 5,
  },
  {
    kind: 'actionformer',
    label: `ActionFormer on ${TINY.embedDim}-d features (recipes/synthetic-temporal.json)`,
    // The recipe's model on the bundled backbone's features (vit_mini, 96-d) of the 7 timeline classes.
    config: makeActionFormerConfig({
      inputDim: TINY.embedDim,
      numClasses: TIMELINE_CLASSES.length,
      maxSeqLen: TEMPORAL.maxSeqLen!,
      ...TEMPORAL.model,
    }),
    batch: TEMPORAL.batch,
    steps: 5,
  },
  {
    kind: 'ava-head',
    label: `AVA head on ${TINY.embedDim}-d pooled boxes, ${ACTOR_CLASSES.length} classes (recipes/synthetic-ava.json)`,
    embedDim: TINY.embedDim,
    numClasses: ACTOR_CLASSES.length,
    batch: AVA.batch,
    steps: 20,
  },
  { kind: 'vit', label: 'ViT-S 16x224x224', config: makeArchitecture('vit_small_patch16_224'), batch: 1, steps: 3, stages: ['pretrain'] },
  // Fine-tuning at 16x224x224 (1568 tokens) or 8x224x224 aborts in the wasm backend (its heap
  // runs out: attention maps kept for the backward pass); 4 frames (392 tokens) fit.
  {
    kind: 'vit',
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
  const rows: Row[] = [];
  CASES.forEach((c, i) => {
    rows.push(...runCaseInChild(i));
    console.error(`done: ${c.label}`);
  });
  const after = await matmulRate();
  const matmul = (before + after) / 2;
  const withShare = rows.map((r) => {
    const share = (100 * Number(r[5])) / matmul;
    return [...r, `${share >= 1 ? share.toFixed(0) : share.toPrecision(1)}%`];
  });
  const markdown = `## Training step time (TF.js, ${backend.name} backend)

- Machine: ${machineDescription()}; @tensorflow/tfjs ${tf.version.tfjs}
- Command: \`npm run bench:train\`
- Date: ${new Date().toISOString().slice(0, 10)}
- Backend matmul, same run: **${matmul.toFixed(1)} GFLOP/s** ([1568,384] x [384,1536], median of 5, before ${before.toFixed(1)} / after ${after.toFixed(1)}).
- A step is forward + backward + AdamW on random data (data loading excluded); FLOPs are analytic (src/train/flops.ts: matmuls, convs and attention, 2 per multiply-add, training = 3x forward). Each model runs in its own process.
- Distillation: FLOPs = 3x the student forward + 1x the teacher forward (its logits are made outside the gradient tape, as the distill stage does); KD at T = 1, alpha = 0 (the recipe defaults). ActionFormer: the official PtTransformer's convs, q/k/v/output projections, MLPs, attention over each level's window (global on the last level) and both heads (\`actionFormerForwardFlops\`), the recipe's model on 96-d features, focal + DIoU loss. AVA head: the frozen-backbone step (the pooled box features are computed once, before training, by the backbone and the head's pooling in ONNX Runtime, so a step is the linear layer and multi-label BCE on a batch of boxes); its tens of kFLOP are far below what a kernel launch costs, so its share measures per-op overhead, not arithmetic.
- Attention on wasm: the per-head products are cut apart with tf.unstack so that each takes XNNPACK's 2-D matmul (src/train/ops.ts); the backend's stock Unpack kernel copies the whole input once per output, so the trainer replaces it (src/tfjs/wasm-unpack.ts). The 'stock Unpack' row is the same step on the stock kernel, in its own process in this run.\n- ViT-S fine-tuning at 16 or 8 frames does not fit the wasm backend's heap (it aborts); the row uses 4 frames (392 tokens). The 16-frame pretraining step fits because the encoder sees only the visible 10 %.
- Backend: \`videomae train\` (\`--backend auto\`, the default) imports @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node, and trains on the native \`tensorflow\` backend when one of them is installed and registers it; otherwise it trains on wasm (silently under \`auto\`; \`--backend tensorflow\` prints a one-line notice and falls back to wasm). ${backend.name === 'tensorflow' ? 'One of them is installed here: these figures are the native backend.' : `Neither is installed here: these figures are ${backend.name}.`} The wasm backend cannot use a second thread in Node: @tensorflow/tfjs-backend-wasm reports no multithread support under Node (its \`WASM_HAS_MULTITHREAD_SUPPORT\` flag is false there, tfjs issue 3830) and loads a single-threaded build, so a wasm figure is one core whatever the machine has.

${table(['model', 'stage', 'batch', 'step ms (median)', 'GFLOP per step', 'achieved GFLOP/s', 'share of matmul rate'], withShare)}
`;
  writeSection('train', markdown);
  console.log(markdown);
}

await main();
