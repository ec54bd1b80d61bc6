/**
 * The `actionformer` training stage: ActionFormer on precomputed backbone features, with
 * ActionFormer's recipe (random windows of maxSeqLen steps, centre-sampled targets, sigmoid focal
 * + DIoU losses normalized by an EMA of the positive count, AdamW with warmup and cosine). Each
 * evaluation decodes and Soft-NMSes the held-out videos exactly as serving does and reports
 * ActivityNet mAP. The output is a servable temporal-detection model folder.
 */
import { relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeActionFormerConfig, paddedLength, type ActionFormerConfig } from '../config/actionformer.js';
import { readLabels } from '../config/labels.js';
import { groundTruthInstances } from '../datasets/activitynet.js';
import { loadTemporalDataset, type TemporalDataset, type TemporalSample } from '../datasets/temporal.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import { evaluateTemporalDetection, type TemporalPrediction } from '../eval/temporal-map.js';
import { exportTemporalFolder } from '../onnx/export-model.js';
import { ACTIONFORMER_NMS, batchedNms } from '../postprocess/soft-nms-1d.js';
import { ACTIONFORMER_DECODE, decodeLevels, stepsToSeconds } from '../postprocess/temporal-decode.js';
import { actionFormerInitialWeights } from '../weights/actionformer-parameters.js';
import { createTemporalModelFolder } from '../weights/create-temporal-model.js';
import { randomInt } from '../weights/random-init.js';
import { actionFormerForward, actionFormerFromGraph, actionFormerToGraph } from './actionformer.js';
import { assignTargets } from './actionformer-targets.js';
import { concatFloat32 } from './concat.js';
import { actionFormerLoss } from './losses.js';
import { epochOrder } from './batches.js';
import type { ParameterGroup } from './optimizer.js';
import { ParameterStore, type GraphLayout } from './parameter-store.js';
import type { StageResult, TrainOptions } from './stage-result.js';
import { resolvePath, type ActionFormerStageSpec, type Recipe } from './recipe.js';
import { stream, STREAMS } from './rng.js';
import { refuseInit, trainStages, type Evaluation, type LoopStage, type StageDefinition, type StepWork } from './stage-loop.js';

export const ACTIONFORMER_LAYOUT: GraphLayout = { toGraph: actionFormerToGraph, fromGraph: actionFormerFromGraph };

/** One training window: features padded or cropped to `length`, with its segments. */
export function trainingWindow(
  sample: TemporalSample,
  length: number,
  uniform: () => number,
): { features: Float32Array; mask: Float32Array; segments: Float32Array; labels: Int32Array } {
  const dim = sample.features.length / sample.length;
  const start = sample.length > length ? randomInt(uniform, sample.length - length + 1) : 0;
  const count = Math.min(length, sample.length - start);
  const features = new Float32Array(length * dim);
  features.set(sample.features.subarray(start * dim, (start + count) * dim));
  const mask = new Float32Array(length);
  mask.fill(1, 0, count);
  // Segments cut by the window keep their part inside when at least half of them is inside
  // (ActionFormer's trunc_thresh 0.5).
  const segments: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < sample.labels.length; i++) {
    const s = sample.segments[2 * i]! - start;
    const e = sample.segments[2 * i + 1]! - start;
    const cs = Math.max(s, 0);
    const ce = Math.min(e, count);
    if (ce - cs <= 0 || (ce - cs) / Math.max(e - s, 1e-6) < 0.5) continue;
    segments.push(cs, ce);
    labels.push(sample.labels[i]!);
  }
  return { features, mask, segments: Float32Array.from(segments), labels: Int32Array.from(labels) };
}

function weightsOf(store: ParameterStore) {
  return { get: (name: string) => store.get(name) };
}

/** Detections of one video, in seconds, through the serving post-processing. */
export function detectSample(
  store: ParameterStore,
  config: ActionFormerConfig,
  sample: TemporalSample,
  timing: { featureStride: number; numFrames: number },
  labels: readonly string[],
): TemporalPrediction[] {
  const length = paddedLength(config, sample.length);
  const dim = sample.features.length / sample.length;
  const feats = new Float32Array(length * dim);
  feats.set(sample.features);
  const mask = new Float32Array(length).fill(1, 0, sample.length).fill(0, sample.length);
  const levels = tf.tidy(() =>
    actionFormerForward(
      tf.tensor(feats, [1, length, dim]) as tf.Tensor3D,
      tf.tensor(mask, [1, length]) as tf.Tensor2D,
      weightsOf(store),
      config,
    ).map((l) => ({
      logits: l.logits.dataSync() as Float32Array,
      offsets: l.offsets.dataSync() as Float32Array,
      mask: Uint8Array.from(l.mask.dataSync()),
    })),
  );
  const candidates = decodeLevels(
    levels.map((l, i) => ({ ...l, stride: 2 ** i })),
    config.numClasses,
    ACTIONFORMER_DECODE,
  );
  const kept = batchedNms(candidates, ACTIONFORMER_NMS);
  const seconds = stepsToSeconds(kept.segments, { ...timing, fps: sample.fps, duration: sample.durationSec });
  return Array.from(kept.scores, (score, i) => ({
    video: sample.video,
    label: labels[kept.labels[i]!]!,
    start: seconds[2 * i]!,
    end: seconds[2 * i + 1]!,
    score,
  }));
}

/** The stage's model: the recipe's `model` fields over the official defaults; maxSeqLen from the stage. */
export function actionFormerStageConfig(
  spec: ActionFormerStageSpec,
  field: string,
  inputDim: number,
  numClasses: number,
): ActionFormerConfig {
  try {
    return makeActionFormerConfig({ inputDim, numClasses, maxSeqLen: spec.maxSeqLen, ...spec.model });
  } catch (error) {
    if (error instanceof InvalidParameterError && error.details.parameter) {
      const name = error.details.parameter;
      const key = name === 'maxSeqLen' ? 'maxSeqLen' : `model.${name}`;
      throw new ServiceError(400, 'invalid_recipe', `recipe field '${field}.${key}': ${error.message}`, { parameter: `${field}.${key}` });
    }
    throw error;
  }
}

/** AdamW groups as the official make_optimizer splits them: weight decay on tensors of rank >= 2 only. */
export function actionFormerGroups(store: ParameterStore): Map<string, ParameterGroup> {
  return new Map(store.names().map((n) => [n, { variable: store.get(n), lrScale: 1, decay: store.get(n).shape.length >= 2 }]));
}

/**
 * The `actionformer` stage for the loop (stage-loop.ts). Batch k is a pure function of (seed, k):
 * the epoch's order (epochOrder), then a random window per pick from stream(seed, sample, k, b);
 * the loss normalizer EMA is the stage's state, carried in checkpoints.
 */
export function actionFormerStage(recipe: Recipe, index: number, spec: ActionFormerStageSpec): StageDefinition {
  const outDir = resolvePath(recipe, spec.out);
  return {
    index,
    spec,
    outDir,
    async prepare({ progress, resume }): Promise<LoopStage> {
      const field = `stages[${index}]`;
      const name = spec.name ?? `${recipe.name}-actionformer${recipe.actionformer.length > 1 ? `-${index}` : ''}`;
      const seed = spec.seed ?? recipe.seed;
      const dataset: TemporalDataset = loadTemporalDataset({
        featuresDir: resolvePath(recipe, spec.data.features),
        annotationsFile: resolvePath(recipe, spec.data.annotations),
        trainSubset: spec.data.trainSubset,
        valSubset: spec.data.valSubset,
        ...(spec.data.labels ? { labels: readLabels(resolvePath(recipe, spec.data.labels)) } : {}),
        field,
      });
      const dim = dataset.train[0]!.features.length / dataset.train[0]!.length;
      const config = actionFormerStageConfig(spec, field, dim, dataset.labels.length);
      progress.line(
        `stage ${index} 'actionformer' -> ${outDir}: ${dataset.train.length} train / ${dataset.val.length} val videos, ${dataset.labels.length} classes, features ${dim}-d from '${dataset.index.backbone}'`,
      );

      const store = new ParameterStore(resume ? resume.params : actionFormerInitialWeights(config, seed), () => true, ACTIONFORMER_LAYOUT);
      const groups = actionFormerGroups(store);
      const perEpoch = Math.max(1, Math.ceil(dataset.train.length / spec.batch));
      const L = spec.maxSeqLen;
      let normalizer = 100; // ActionFormer's init_loss_norm, then an EMA of the positive count
      const timing = { featureStride: dataset.index.settings.featureStride, numFrames: dataset.index.settings.numFrames };
      let order: { epoch: number; order: number[] } | undefined;

      const step = (step: number): StepWork => {
        const epoch = Math.floor(step / perEpoch);
        if (order?.epoch !== epoch) order = { epoch, order: epochOrder(dataset.train.length, seed, epoch) };
        const picks = Array.from(
          { length: spec.batch },
          (_, b) => order!.order[((step % perEpoch) * spec.batch + b) % order!.order.length]!,
        );
        const windows = picks.map((i, b) => trainingWindow(dataset.train[i]!, L, stream(seed, STREAMS.sample, step, b)));
        const targets = windows.map((w) => assignTargets(config, L, w.segments, w.labels));
        const P = targets[0]!.points;
        const numPositive = targets.reduce((sum, t) => sum + t.positive.reduce((a, b) => a + b, 0), 0);
        normalizer = 0.9 * normalizer + 0.1 * Math.max(numPositive, 1);
        const norm = normalizer;
        const B = windows.length;
        return {
          record: { positives: numPositive },
          loss: (): tf.Scalar => {
            const feats = tf.tensor(concatFloat32(windows.map((w) => w.features)), [B, L, dim]) as tf.Tensor3D;
            const mask = tf.tensor(concatFloat32(windows.map((w) => w.mask)), [B, L]) as tf.Tensor2D;
            const clsTargets = tf.tensor(concatFloat32(targets.map((t) => t.cls)), [B, P, config.numClasses]);
            const offsetTargets = tf.tensor(concatFloat32(targets.map((t) => t.offsets)), [B, P, 2]);
            const positive = tf.tensor(concatFloat32(targets.map((t) => t.positive)), [B, P, 1]);
            // Drop path (stochastic depth) is on in training only; AffineDropPath's scale is always applied.
            const levels = actionFormerForward(feats, mask, weightsOf(store), config, {
              dropPathRandom: stream(seed, STREAMS.dropPath, step),
            });
            return actionFormerLoss(levels, { cls: clsTargets, offsets: offsetTargets, positive }, norm, spec.loss);
          },
        };
      };

      const evaluate = (epoch: number): Evaluation | undefined => {
        if (dataset.val.length === 0) return undefined;
        const predictions = dataset.val.flatMap((sample) => detectSample(store, config, sample, timing, dataset.labels));
        const result = evaluateTemporalDetection(
          groundTruthInstances(dataset.annotations, spec.data.valSubset),
          predictions,
          [0.3, 0.4, 0.5, 0.6, 0.7],
        );
        return {
          metrics: { 'mAP@0.5': result.mAP[2]!, mAP: result.averageMAP },
          record: {
            mAP: result.averageMAP,
            mAP_at: Object.fromEntries(result.tiou.map((t, i) => [t, result.mAP[i]])),
            predictions: predictions.length,
          },
          line: `epoch ${epoch} held-out mAP ${(100 * result.averageMAP).toFixed(1)} (tIoU 0.3:0.7; at 0.5: ${(100 * result.mAP[2]!).toFixed(1)}), ${dataset.val.length} videos`,
        };
      };

      return {
        name,
        groups,
        defaultBetas: [0.9, 0.999],
        stepsPerEpoch: perEpoch,
        step,
        evaluate,
        checkpointParams: () => store.toTensorMap(),
        state: () => ({ normalizer }),
        restoreState: (state) => {
          if (state.normalizer !== undefined) normalizer = state.normalizer;
        },
        finish: async (steps, metrics) => {
          await writeTemporalModel({ recipe, index, spec, outDir, name, seed, config, dataset, store, metrics, steps });
          if (spec.export) await exportTemporalFolder(outDir);
        },
        dispose: () => store.dispose(),
      };
    },
  };
}

async function writeTemporalModel(o: {
  recipe: Recipe;
  index: number;
  spec: ActionFormerStageSpec;
  outDir: string;
  name: string;
  seed: number;
  config: ActionFormerConfig;
  dataset: TemporalDataset;
  store: ParameterStore;
  metrics: Record<string, number>;
  steps: number;
}): Promise<void> {
  const settings = o.dataset.index.settings;
  await createTemporalModelFolder({
    dir: o.outDir,
    name: o.name,
    config: o.config,
    tensors: await o.store.toTensorMap(),
    labels: o.dataset.labels,
    labelSet: o.recipe.name,
    features: {
      backbone: o.dataset.index.backbone,
      numFrames: settings.numFrames,
      featureStride: settings.featureStride,
      size: settings.size,
      normalization: settings.normalization,
    },
    description: `ActionFormer stage ${o.index} of recipe '${o.recipe.name}', on features of '${o.dataset.index.backbone}'`,
    provenance: {
      source: 'training',
      trained: true,
      seed: o.seed,
      recipe: {
        name: o.recipe.name,
        stageIndex: o.index,
        stage: o.spec,
        steps: o.steps,
        features: relative(o.outDir, resolvePath(o.recipe, o.spec.data.features)) || '.',
      },
      metrics: o.metrics,
    },
  });
}

/** A recipe of ActionFormer stages (on features already extracted), resumable from a checkpoint. */
export function trainActionFormerRecipe(recipe: Recipe, options: TrainOptions): Promise<StageResult[]> {
  refuseInit(options, 'ActionFormer');
  return trainStages(
    recipe,
    recipe.actionformer.map((spec, index) => actionFormerStage(recipe, index, spec)),
    options,
  );
}
