/**
 * The backbone stages (pretrain, post-pretrain, finetune, distill) for the stage loop
 * (stage-loop.ts): each builds its model (fresh, from --init, or from a checkpoint), loads the data
 * through the clip cache, gives the loss of each step and the held-out evaluation, and writes a
 * servable model folder.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
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
import { ClipCache } from './clip-cache.js';
import { distillationLoss, maskedReconstructionLoss, softTargetCrossEntropy } from './losses.js';
import type { ParameterGroup } from './optimizer.js';
import { ParameterStore } from './parameter-store.js';
import { inputPatches, patchVectorLength } from './patchify.js';
import { planRecipe, type StagePlan } from './plan.js';
import type { Recipe } from './recipe.js';
import type { StageResult, TrainOptions } from './stage-result.js';
import { stream, STREAMS } from './rng.js';
import { layerDecayScale, usesWeightDecay } from './schedule.js';
import { trainStages, type Evaluation, type LoopStage, type StageDefinition, type StepWork } from './stage-loop.js';
import { classify, encode, pretrainForward, type DropPathMasks, type PretrainInputs } from './vit.js';

/** A recipe of backbone stages (pretrain, post-pretrain, finetune, distill), resumable from a checkpoint. */
export function trainBackboneRecipe(recipe: Recipe, options: TrainOptions = {}): Promise<StageResult[]> {
  const plans = planRecipe(recipe, options.init ? { init: options.init } : {});
  // Stages that read videos at the same size share one decoded cache.
  const caches = new Map<number, ClipCache>();
  return trainStages(
    recipe,
    plans.map((plan) => backboneStage(recipe, plan, caches)),
    options,
  );
}

/** Initial weights: seeded random, overlaid with the init folder's matching tensors. */
export function initialTensors(plan: StagePlan): TensorMap {
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

/** AdamW groups of a backbone stage: layer-wise lr decay and the official no-decay list. */
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
export function dropPathMasks(config: VitArchitecture, rate: number, batch: number, seed: number, step: number): tf.Tensor[] {
  if (rate <= 0) return [];
  const uniform = stream(seed, STREAMS.dropPath, step);
  return Array.from({ length: config.depth }, (_, i) => {
    const p = config.depth > 1 ? (rate * i) / (config.depth - 1) : rate;
    const keep = Float32Array.from({ length: batch }, () => (uniform() < p ? 0 : 1 / (1 - p)));
    return tf.tensor(keep, [batch, 1, 1]);
  });
}

/** The tensors of one pretraining batch: model inputs, targets and loss weights. */
export function pretrainTensors(
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

export interface Teacher {
  readonly store: ParameterStore;
  readonly config: VitArchitecture;
  readonly positions: tf.Tensor;
}

export function teacherLogits(teacher: Teacher, batch: ClassificationBatch, student: VitArchitecture, size: number): tf.Tensor {
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

/** A backbone stage for the loop: the clips, the model (fresh, --init or a checkpoint's), its loss, its evaluation, its folder. */
function backboneStage(recipe: Recipe, plan: StagePlan, caches: Map<number, ClipCache>): StageDefinition {
  const spec = plan.spec;
  return {
    index: plan.index,
    spec,
    outDir: plan.outDir,
    async prepare({ progress, resume }): Promise<LoopStage> {
      const config = plan.architecture;
      progress.line(
        `stage ${plan.index} '${spec.stage}' -> ${plan.outDir}: ${config.arch} ${config.numFrames}x${config.imageHeight}x${config.imageWidth}, ${plan.train.length} train / ${plan.val.length} val videos${plan.labels.length ? `, ${plan.labels.length} classes` : ''}`,
      );
      const cache = caches.get(plan.shortSide) ?? new ClipCache(plan.shortSide);
      caches.set(plan.shortSide, cache);
      const loadStart = Date.now();
      const before = cache.size;
      await cache.load(
        [...plan.train, ...plan.val].map((e) => e.path),
        (done, total) => progress.count('decoding videos', done, total),
      );
      if (cache.size > before) progress.line(`decoded ${cache.size - before} videos in ${((Date.now() - loadStart) / 1000).toFixed(1)} s`);

      const store = new ParameterStore(resume ? resume.params : initialTensors(plan));
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
      const grid = tokenGrid(config);
      const p = patchVectorLength(geometryOf(config));
      const tables = spec.stage === 'pretrain' ? positionTables(config) : undefined;
      const positions = tf.tensor(sinusoidTable(grid.count, config.embedDim), [1, grid.count, config.embedDim]);

      /** The loss closure of a step, plus tensors made outside it (teacher logits) to free after. */
      const step = (step: number): StepWork => {
        if (spec.stage === 'pretrain') {
          const b = pretrainBatch(source, step, spec.masking, tables!);
          return {
            loss: () => {
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
          loss: () => {
            const masks: DropPathMasks = dropPathMasks(config, spec.dropPath, B, plan.seed, step);
            const logits = classify(store, config, encode(store, config, tf.tensor(b.patches, [B, grid.count, p]), positions, masks));
            const labelLoss = softTargetCrossEntropy(logits, tf.tensor(b.targets, [B, config.numClasses]));
            if (!soft || spec.stage !== 'distill') return labelLoss;
            const kd = distillationLoss(logits, soft, spec.temperature);
            return tf.add(tf.mul(kd, 1 - spec.alpha), tf.mul(labelLoss, spec.alpha)) as tf.Scalar;
          },
        };
      };

      const evaluate = async (epoch: number): Promise<Evaluation | undefined> => {
        if (plan.val.length === 0) return undefined;
        if (spec.stage === 'pretrain') {
          // Reconstruction loss on held-out clips with fixed masks.
          const valSource: BatchSource = {
            ...source,
            entries: plan.val,
            batch: Math.min(spec.batch, plan.val.length),
            seed: plan.seed + 1,
          };
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
          const valLoss = sum / Math.max(1, batches);
          return {
            metrics: { val_loss: valLoss },
            record: { val_loss: valLoss },
            line: `epoch ${epoch} val reconstruction loss ${valLoss.toFixed(4)}`,
          };
        }
        const counter = accuracyCounter(config.numClasses);
        for (const b of evalBatches(plan.val, cache, config, plan.protocol, spec.batch)) {
          const logits = tf.tidy(() =>
            classify(store, config, encode(store, config, tf.tensor(b.patches, [b.size, grid.count, p]), positions)),
          );
          counter.add((await logits.data()) as Float32Array, b.labels);
          logits.dispose();
        }
        const { top1, top5, count } = counter.result;
        return {
          metrics: { top1, top5 },
          record: { top1, top5, count },
          line: `epoch ${epoch} held-out top-1 ${(100 * top1).toFixed(1)}% top-5 ${(100 * top5).toFixed(1)}% (${count} videos)`,
        };
      };

      return {
        name: plan.name,
        groups: parameterGroups(store, plan),
        defaultBetas: spec.stage === 'pretrain' ? [0.9, 0.95] : [0.9, 0.999],
        stepsPerEpoch: stepsPerEpoch(source),
        step,
        evaluate,
        checkpointParams: () => store.toTensorMap(),
        finish: (steps, metrics) => writeOutput(recipe, plan, store, metrics, steps),
        dispose: () => {
          store.dispose();
          positions.dispose();
          if (teacher) {
            teacher.store.dispose();
            teacher.positions.dispose();
          }
        },
      };
    },
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
