/**
 * Runs a recipe: for each stage, builds the model (fresh, from --init, or from a checkpoint),
 * loads the data through the clip cache, steps AdamW on the stage's loss, evaluates on the
 * held-out split at each epoch end, checkpoints, and writes a servable model folder.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tokenGrid, type VitArchitecture } from '../config/architectures.js';
import { readModelFolder } from '../config/manifest.js';
import { accuracyCounter } from '../eval/topk.js';
import { exportVitFolder } from '../onnx/export-model.js';
import { createModelFolder } from '../weights/create-model.js';
import { randomWeights } from '../weights/random-init.js';
import { readSafetensors, type TensorMap } from '../weights/safetensors.js';
import { sinusoidTable } from '../weights/sinusoid-table.js';
import { ServiceError } from '../errors.js';
import { initBackend } from '../tfjs/backend.js';
import {
  classificationBatch,
  evalBatches,
  geometryOf,
  positionTables,
  pretrainBatch,
  stepsPerEpoch,
  type BatchSource,
  type ClassificationBatch,
  type PretrainBatch,
} from './batches.js';
import { CHECKPOINT_FILE, readCheckpoint, stageFingerprint, writeCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { ClipCache } from './clip-cache.js';
import { distillationLoss, maskedReconstructionLoss, softTargetCrossEntropy } from './losses.js';
import { AdamW, type ParameterGroup } from './optimizer.js';
import { ParameterStore } from './parameter-store.js';
import { inputPatches, patchVectorLength } from './patchify.js';
import { planRecipe, type StagePlan } from './plan.js';
import { MetricsLog, ProgressBar } from './progress.js';
import type { Recipe } from './recipe.js';
import type { StageResult, TrainOptions } from './stage-result.js';
import { stream, STREAMS } from './rng.js';
import { layerDecayScale, learningRateAt, usesWeightDecay } from './schedule.js';
import { classify, encode, pretrainForward, type DropPathMasks, type PretrainInputs } from './vit.js';

/** A recipe of backbone stages (pretrain, finetune, distill), resumable from a checkpoint. */
export async function trainBackboneRecipe(recipe: Recipe, options: TrainOptions = {}): Promise<StageResult[]> {
  const plans = planRecipe(recipe, options.init ? { init: options.init } : {});
  const checkpoint = options.resume ? readCheckpoint(options.resume) : undefined;
  if (checkpoint) {
    const { state } = checkpoint;
    const plan = plans[state.stageIndex];
    if (state.recipe !== recipe.name || !plan)
      throw new ServiceError(
        400,
        'invalid_checkpoint',
        `checkpoint '${options.resume}' belongs to recipe '${state.recipe}' stage ${state.stageIndex}, not to this recipe`,
        { parameter: 'resume' },
      );
    if (state.stageHash !== stageFingerprint(plan.spec))
      throw new ServiceError(
        400,
        'invalid_checkpoint',
        `stage ${state.stageIndex} of recipe '${recipe.name}' changed since checkpoint '${options.resume}' was written; resuming would not reproduce the run`,
        { parameter: 'resume' },
      );
  }
  const progress = options.progress ?? new ProgressBar();
  const backend = await initBackend(options.backend ?? 'auto');
  if (backend.notice) progress.line(backend.notice);
  const results: StageResult[] = [];
  // Stages that read videos at the same size share one decoded cache.
  const caches = new Map<number, ClipCache>();
  for (const plan of plans) {
    if (checkpoint && plan.index < checkpoint.state.stageIndex) continue;
    const resumeFrom = checkpoint && plan.index === checkpoint.state.stageIndex ? checkpoint : undefined;
    const cache = caches.get(plan.shortSide) ?? new ClipCache(plan.shortSide);
    caches.set(plan.shortSide, cache);
    const result = await runStage(recipe, plan, cache, progress, resumeFrom, options.stopAfter);
    results.push(result);
    if (!result.completed) break;
  }
  return results;
}

/** Initial weights: seeded random, overlaid with the init folder's matching tensors. */
function initialTensors(plan: StagePlan): TensorMap {
  const tensors = randomWeights(plan.architecture, plan.seed);
  // Official fine-tuning scales the fresh head by init_scale = 0.001.
  tensors.get('head.weight')?.data.forEach((v, i, a) => {
    a[i] = v * 0.001;
  });
  if (!plan.init) return tensors;
  const folder = readModelFolder(plan.init.dir);
  const source = readSafetensors(folder.weightsPath).tensors;
  const spec = plan.spec;
  for (const [name, target] of tensors) {
    if (name.startsWith('head.')) continue;
    const from = source.get(name);
    if (from && from.data.length === target.data.length) tensors.set(name, { shape: target.shape, data: from.data });
  }
  if (spec.stage !== 'pretrain' && spec.head === 'map') {
    // Head rows by label name (as label_710to400 maps the K710 head onto K400).
    const weight = source.get('head.weight');
    const bias = source.get('head.bias');
    if (!weight || !bias)
      throw new ServiceError(400, 'invalid_recipe', `recipe field 'stages[${plan.index}].head' is 'map' but the init model has no head`);
    const d = plan.architecture.embedDim;
    const w = new Float32Array(plan.labels.length * d);
    const b = new Float32Array(plan.labels.length);
    plan.labels.forEach((label, row) => {
      const from = plan.init!.labels.indexOf(label);
      w.set(weight.data.subarray(from * d, (from + 1) * d), row * d);
      b[row] = bias.data[from]!;
    });
    tensors.set('head.weight', { shape: [plan.labels.length, d], data: w });
    tensors.set('head.bias', { shape: [plan.labels.length], data: b });
  } else if (plan.init.architecture.numClasses === plan.architecture.numClasses && plan.init.labels.join('\n') === plan.labels.join('\n')) {
    // Same label space: keep the head (distillation student, continued fine-tuning).
    for (const name of ['head.weight', 'head.bias']) {
      const from = source.get(name);
      if (from) tensors.set(name, { shape: tensors.get(name)!.shape, data: from.data });
    }
  }
  return tensors;
}

export function parameterGroups(store: ParameterStore, plan: StagePlan): Map<string, ParameterGroup> {
  const layerDecay = plan.spec.optimizer.layerDecay;
  const groups = new Map<string, ParameterGroup>();
  for (const name of store.trainableNames()) {
    const variable = store.get(name);
    groups.set(name, {
      variable,
      lrScale: layerDecay < 1 ? layerDecayScale(name, plan.architecture.depth, layerDecay) : 1,
      decay: usesWeightDecay(name, variable.shape),
    });
  }
  return groups;
}

/** Stochastic depth: rate i x dropPath / (depth - 1) at block i; per-sample keep masks. */
function dropPathMasks(config: VitArchitecture, rate: number, batch: number, seed: number, step: number): tf.Tensor[] {
  if (rate <= 0) return [];
  const uniform = stream(seed, STREAMS.dropPath, step);
  return Array.from({ length: config.depth }, (_, i) => {
    const p = config.depth > 1 ? (rate * i) / (config.depth - 1) : rate;
    const keep = Float32Array.from({ length: batch }, () => (uniform() < p ? 0 : 1 / (1 - p)));
    return tf.tensor(keep, [batch, 1, 1]);
  });
}

/** The tensors of one pretraining batch: model inputs, targets and loss weights. */
function pretrainTensors(
  b: PretrainBatch,
  config: VitArchitecture,
  batch: number,
): { inputs: PretrainInputs; target: tf.Tensor; weight: tf.Tensor } {
  const p = patchVectorLength(geometryOf(config));
  const dd = config.decoder!.embedDim;
  return {
    inputs: {
      visiblePatches: tf.tensor(b.visiblePatches, [batch, b.visibleCount, p]),
      visiblePositions: tf.tensor(b.visiblePositions, [batch, b.visibleCount, config.embedDim]),
      decoderVisiblePositions: tf.tensor(b.decoderVisiblePositions, [batch, b.visibleCount, dd]),
      decoderMaskPositions: tf.tensor(b.decoderMaskPositions, [batch, b.maskCount, dd]),
    },
    target: tf.tensor(b.targets, [batch, b.maskCount, p]),
    weight: tf.tensor(b.weights, [batch, b.maskCount]),
  };
}

interface Teacher {
  readonly store: ParameterStore;
  readonly config: VitArchitecture;
  readonly positions: tf.Tensor;
}

function teacherLogits(teacher: Teacher, batch: ClassificationBatch, student: VitArchitecture, size: number): tf.Tensor {
  const tg = geometryOf(teacher.config);
  const grid = tokenGrid(teacher.config);
  const p = patchVectorLength(tg);
  let patches = batch.patches;
  if (teacher.config.patchSize !== student.patchSize || teacher.config.tubeletSize !== student.tubeletSize) {
    patches = new Float32Array(size * grid.count * p);
    const clipSize = batch.clips.length / size;
    const all = Int32Array.from({ length: grid.count }, (_, i) => i);
    for (let b = 0; b < size; b++)
      inputPatches(batch.clips.subarray(b * clipSize, (b + 1) * clipSize), tg, all, patches, b * grid.count * p);
  }
  return tf.tidy(() =>
    classify(
      teacher.store,
      teacher.config,
      encode(teacher.store, teacher.config, tf.tensor(patches, [size, grid.count, p]), teacher.positions),
    ),
  );
}

async function runStage(
  recipe: Recipe,
  plan: StagePlan,
  cache: ClipCache,
  progress: ProgressBar,
  checkpoint: LoadedCheckpoint | undefined,
  stopAfter: number | undefined,
): Promise<StageResult> {
  const started = Date.now();
  const spec = plan.spec;
  const config = plan.architecture;
  mkdirSync(plan.outDir, { recursive: true });
  const log = new MetricsLog(join(plan.outDir, 'metrics.jsonl'), checkpoint !== undefined);
  progress.line(
    `stage ${plan.index} '${spec.stage}' -> ${plan.outDir}: ${config.arch} ${config.numFrames}x${config.imageHeight}x${config.imageWidth}, ${plan.train.length} train / ${plan.val.length} val videos${plan.labels.length ? `, ${plan.labels.length} classes` : ''}`,
  );

  const loadStart = Date.now();
  const before = cache.size;
  await cache.load(
    [...plan.train, ...plan.val].map((e) => e.path),
    (done, total) => progress.count('decoding videos', done, total),
  );
  if (cache.size > before) progress.line(`decoded ${cache.size - before} videos in ${((Date.now() - loadStart) / 1000).toFixed(1)} s`);

  const store = new ParameterStore(checkpoint ? checkpoint.params : initialTensors(plan));
  const groups = parameterGroups(store, plan);
  const betas = spec.optimizer.betas ?? (spec.stage === 'pretrain' ? [0.9, 0.95] : [0.9, 0.999]);
  const optimizer = new AdamW(
    {
      beta1: betas[0],
      beta2: betas[1],
      eps: spec.optimizer.eps,
      weightDecay: spec.optimizer.weightDecay,
      ...(spec.optimizer.clipGrad ? { clipGrad: spec.optimizer.clipGrad } : {}),
    },
    groups,
  );
  if (checkpoint) {
    for (const [name, { m, v }] of checkpoint.moments) optimizer.restore(name, m, v);
    optimizer.steps = checkpoint.state.optimizerSteps;
  }
  let teacher: Teacher | undefined;
  if (plan.teacher) {
    const folder = readModelFolder(plan.teacher.dir);
    const tconfig = folder.architecture;
    const tgrid = tokenGrid(tconfig);
    teacher = {
      store: new ParameterStore(readSafetensors(folder.weightsPath).tensors, () => false),
      config: tconfig,
      positions: tf.tensor(sinusoidTable(tgrid.count, tconfig.embedDim), [1, tgrid.count, tconfig.embedDim]),
    };
  }

  const source: BatchSource = { entries: plan.train, cache, config, protocol: plan.protocol, seed: plan.seed, batch: spec.batch };
  const perEpoch = stepsPerEpoch(source);
  const scheduledSteps = spec.epochs * perEpoch;
  const totalSteps = Math.min(scheduledSteps, spec.maxSteps ?? Infinity);
  const schedule = {
    lr: spec.optimizer.lr,
    minLr: spec.optimizer.minLr,
    warmupSteps: Math.round(spec.optimizer.warmupEpochs * perEpoch),
    totalSteps: scheduledSteps,
  };
  const grid = tokenGrid(config);
  const p = patchVectorLength(geometryOf(config));
  const tables = spec.stage === 'pretrain' ? positionTables(config) : undefined;
  const positions = tf.tensor(sinusoidTable(grid.count, config.embedDim), [1, grid.count, config.embedDim]);
  const losses: number[] = [];
  const metrics: Record<string, number> = {};
  const fingerprint = stageFingerprint(spec);
  const checkpointFile = join(plan.outDir, CHECKPOINT_FILE);
  const saveCheckpoint = async (step: number): Promise<void> => {
    writeCheckpoint(checkpointFile, await store.toTensorMap(), await optimizer.state(), {
      recipe: recipe.name,
      stageIndex: plan.index,
      stageHash: fingerprint,
      step,
      optimizerSteps: optimizer.steps,
    });
  };

  /** The loss closure of a step, plus tensors made outside it (teacher logits) to free after. */
  const lossAt = (step: number): { fn: () => tf.Scalar; extra: tf.Tensor[] } => {
    if (spec.stage === 'pretrain') {
      const b = pretrainBatch(source, step, spec.masking, tables!);
      return {
        extra: [],
        fn: () => {
          const { inputs, target, weight } = pretrainTensors(b, config, spec.batch);
          return maskedReconstructionLoss(
            pretrainForward(store, config, inputs, dropPathMasks(config, spec.dropPath, spec.batch, plan.seed, step)),
            target,
            weight,
          );
        },
      };
    }
    const b = classificationBatch(source, step, {
      scale: spec.augment.scale,
      ratio: spec.augment.ratio,
      flip: plan.flip,
      colour: spec.augment.colour,
      labelSmoothing: spec.labelSmoothing,
      mixup: spec.mixup,
      cutmix: spec.cutmix,
      numClasses: config.numClasses,
    });
    const B = spec.batch;
    const soft = teacher && spec.stage === 'distill' ? teacherLogits(teacher, b, config, B) : undefined;
    return {
      extra: soft ? [soft] : [],
      fn: () => {
        const masks: DropPathMasks = dropPathMasks(config, spec.dropPath, B, plan.seed, step);
        const logits = classify(store, config, encode(store, config, tf.tensor(b.patches, [B, grid.count, p]), positions, masks));
        const labelLoss = softTargetCrossEntropy(logits, tf.tensor(b.targets, [B, config.numClasses]));
        if (!soft || spec.stage !== 'distill') return labelLoss;
        const kd = distillationLoss(logits, soft, spec.temperature);
        return tf.add(tf.mul(kd, 1 - spec.alpha), tf.mul(labelLoss, spec.alpha)) as tf.Scalar;
      },
    };
  };

  const evaluate = async (epoch: number): Promise<void> => {
    if (plan.val.length === 0) return;
    const started = Date.now();
    if (spec.stage === 'pretrain') {
      // Reconstruction loss on held-out clips with fixed masks.
      const valSource: BatchSource = { ...source, entries: plan.val, batch: Math.min(spec.batch, plan.val.length), seed: plan.seed + 1 };
      let sum = 0;
      const batches = stepsPerEpoch(valSource);
      for (let i = 0; i < batches; i++) {
        const b = pretrainBatch(valSource, i, spec.masking, tables!);
        const loss = tf.tidy(() => {
          const { inputs, target, weight } = pretrainTensors(b, config, valSource.batch);
          return maskedReconstructionLoss(pretrainForward(store, config, inputs), target, weight);
        });
        sum += (await loss.data())[0]!;
        loss.dispose();
      }
      metrics.val_loss = sum / Math.max(1, batches);
      log.write({ type: 'eval', stage: spec.stage, epoch, val_loss: metrics.val_loss, seconds: (Date.now() - started) / 1000 });
      progress.line(`epoch ${epoch} val reconstruction loss ${metrics.val_loss.toFixed(4)}`);
      return;
    }
    const counter = accuracyCounter(config.numClasses);
    for (const b of evalBatches(plan.val, cache, config, plan.protocol, spec.batch)) {
      const logits = tf.tidy(() =>
        classify(store, config, encode(store, config, tf.tensor(b.patches, [b.size, grid.count, p]), positions)),
      );
      counter.add((await logits.data()) as Float32Array, b.labels);
      logits.dispose();
    }
    const { top1, top5 } = counter.result;
    metrics.top1 = top1;
    metrics.top5 = top5;
    log.write({ type: 'eval', stage: spec.stage, epoch, top1, top5, count: counter.result.count, seconds: (Date.now() - started) / 1000 });
    progress.line(
      `epoch ${epoch} held-out top-1 ${(100 * top1).toFixed(1)}% top-5 ${(100 * top5).toFixed(1)}% (${counter.result.count} videos)`,
    );
  };

  let step = checkpoint ? checkpoint.state.step : 0;
  log.write({
    type: 'start',
    stage: spec.stage,
    name: plan.name,
    fromStep: step,
    totalSteps,
    stepsPerEpoch: perEpoch,
    backend: tf.getBackend(),
  });
  let stopped = false;
  while (step < totalSteps) {
    const t0 = Date.now();
    const lr = learningRateAt(schedule, step);
    const { fn: lossFn, extra } = lossAt(step);
    const [lossTensor, normTensor] = tf.tidy(() => optimizer.step(lossFn, lr));
    const loss = (await lossTensor!.data())[0]!;
    const gradNorm = (await normTensor!.data())[0]!;
    tf.dispose([lossTensor!, normTensor!, ...extra]);
    if (!Number.isFinite(loss))
      throw new ServiceError(
        500,
        'training_diverged',
        `stage ${plan.index} '${spec.stage}': loss became ${loss} at step ${step + 1}; lower optimizer.lr or set optimizer.clipGrad`,
      );
    step += 1;
    losses.push(loss);
    const epoch = Math.floor((step - 1) / perEpoch) + 1;
    const stepMs = Date.now() - t0;
    log.write({ type: 'step', stage: spec.stage, step, epoch, loss, lr, grad_norm: gradNorm, step_ms: stepMs });
    progress.step({ stage: spec.stage, step, totalSteps, epoch, epochs: Math.ceil(totalSteps / perEpoch), loss, lr, stepMs });
    const epochEnd = step % perEpoch === 0 || step === totalSteps;
    if (epochEnd && (epoch % spec.evalEvery === 0 || step === totalSteps)) await evaluate(epoch);
    if (step < totalSteps && (epochEnd || (spec.checkpointEvery && step % spec.checkpointEvery === 0))) await saveCheckpoint(step);
    if (stopAfter !== undefined && step >= stopAfter && step < totalSteps) {
      await saveCheckpoint(step);
      stopped = true;
      break;
    }
  }
  const window = losses.slice(-Math.max(1, Math.min(20, Math.floor(losses.length / 4) || 1)));
  metrics.train_loss = window.reduce((a, b) => a + b, 0) / Math.max(1, window.length);

  if (!stopped) {
    await writeOutput(recipe, plan, store, metrics, step);
    rmSync(checkpointFile, { force: true });
    log.write({ type: 'done', stage: spec.stage, steps: step, metrics, seconds: (Date.now() - started) / 1000 });
  } else {
    progress.line(`stopped after step ${step}; resume with --resume ${checkpointFile}`);
  }
  store.dispose();
  optimizer.dispose();
  positions.dispose();
  if (teacher) {
    teacher.store.dispose();
    teacher.positions.dispose();
  }
  return {
    stage: spec.stage,
    outDir: plan.outDir,
    steps: step,
    completed: !stopped,
    losses,
    metrics,
    seconds: (Date.now() - started) / 1000,
  };
}

async function writeOutput(
  recipe: Recipe,
  plan: StagePlan,
  store: ParameterStore,
  metrics: Record<string, number>,
  steps: number,
): Promise<void> {
  const spec = plan.spec;
  const config = plan.architecture;
  const hasLabels = plan.labels.length > 0;
  if (hasLabels) writeFileSync(join(plan.outDir, 'labels.txt'), plan.labels.join('\n') + '\n');
  await createModelFolder({
    dir: plan.outDir,
    name: plan.name,
    architecture: config,
    tensors: await store.toTensorMap(),
    ...(hasLabels ? { labels: recipe.name, labelsRelativePath: 'labels.txt' } : {}),
    protocol: plan.protocol,
    shortSide: plan.shortSide,
    description: `${spec.stage} stage ${plan.index} of recipe '${recipe.name}'`,
    provenance: {
      source: 'training',
      trained: true,
      seed: plan.seed,
      recipe: {
        name: recipe.name,
        stageIndex: plan.index,
        stage: spec,
        steps,
        ...(plan.init ? { init: relative(plan.outDir, plan.init.dir) || '.' } : {}),
      },
      metrics,
    },
  });
  if (spec.export) await exportVitFolder(plan.outDir);
  else if (existsSync(join(plan.outDir, 'model.onnx'))) rmSync(join(plan.outDir, 'model.onnx'));
}
