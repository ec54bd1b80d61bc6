/**
 * The one training loop every stage runs (pretrain, finetune, distill, actionformer, ava): steps
 * over the epochs with the learning-rate schedule, the AdamW step, the divergence check, the
 * metrics log and progress lines, held-out evaluation every N epochs, periodic checkpoints and
 * --resume, stopAfter, and the final result. A stage supplies only what is its own (a
 * `LoopStage`): its parameters, the loss of step k, its evaluation and the folder it writes.
 *
 * A recipe's stages run through `trainStages`, which checks a --resume checkpoint against the
 * recipe (name, stage index, stage fingerprint) before anything is built.
 *
 * @example
 *   const results = await trainStages(recipe, recipe.actionformer.map((spec, i) => actionFormerStage(recipe, i, spec)), options);
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ServiceError } from '../errors.js';
import { initBackend } from '../tfjs/backend.js';
import type { TensorMap } from '../weights/safetensors.js';
import { CHECKPOINT_FILE, readCheckpoint, stageFingerprint, writeCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { AdamW, type ParameterGroup } from './optimizer.js';
import { MetricsLog, ProgressBar } from './progress.js';
import type { Recipe, StageSpec } from './recipe.js';
import { learningRateAt, type ScheduleConfig } from './schedule.js';
import type { StageResult, TrainOptions } from './stage-result.js';

/** The recipe fields the loop reads; every stage spec has them (AVA has no maxSteps). */
export interface LoopSpec {
  readonly stage: string;
  readonly epochs: number;
  readonly maxSteps?: number;
  readonly evalEvery: number;
  readonly checkpointEvery?: number;
  readonly optimizer: StageSpec['optimizer'];
}

/** One step's work: the loss closure (run under tf.variableGrads), tensors to free after it, fields for the step record. */
export interface StepWork {
  readonly loss: () => tf.Scalar;
  readonly extra?: readonly tf.Tensor[];
  readonly record?: Readonly<Record<string, number>>;
}

/** A held-out evaluation: metrics merged into the stage's, fields for the eval record, one progress line. */
export interface Evaluation {
  readonly metrics: Readonly<Record<string, number>>;
  readonly record: Readonly<Record<string, unknown>>;
  readonly line: string;
}

/** What a built stage gives the loop. */
export interface LoopStage {
  /** Model name (the start record). */
  readonly name: string;
  /** The parameters AdamW steps, by name (also the names of the moments in a checkpoint). */
  readonly groups: ReadonlyMap<string, ParameterGroup>;
  /** AdamW betas when the recipe gives none. */
  readonly defaultBetas: readonly [number, number];
  readonly stepsPerEpoch: number;
  /** The loss of global step k; a pure function of (seed, k) and the stage state. */
  step(step: number): StepWork;
  /** Held-out evaluation after epoch `epoch`; undefined when there is no held-out split. */
  evaluate(epoch: number): Promise<Evaluation | undefined> | Evaluation | undefined;
  /** The parameters a checkpoint holds; `prepare` gets them back as `resume.params`. */
  checkpointParams(): Promise<TensorMap>;
  /** Numbers besides parameters and moments that a resumed run needs (ActionFormer's loss normalizer). */
  state?(): Record<string, number>;
  restoreState?(state: Readonly<Record<string, number>>): void;
  /** Writes the stage's output folder after the last step. */
  finish(steps: number, metrics: Record<string, number>): Promise<void>;
  dispose(): void;
}

/** One stage of a recipe, before it is built. */
export interface StageDefinition {
  readonly index: number;
  readonly spec: LoopSpec;
  readonly outDir: string;
  /** Builds the stage: data, model (from `resume.params` when resuming), its hooks. */
  prepare(context: { progress: ProgressBar; resume?: LoadedCheckpoint }): Promise<LoopStage>;
}

/** A --resume checkpoint, checked against the recipe before anything is built. */
export function resumeCheckpoint(recipe: Recipe, stages: readonly StageDefinition[], file: string): LoadedCheckpoint {
  const checkpoint = readCheckpoint(file);
  const { state } = checkpoint;
  const stage = stages.find((s) => s.index === state.stageIndex);
  if (state.recipe !== recipe.name || !stage)
    throw new ServiceError(
      400,
      'invalid_checkpoint',
      `checkpoint '${file}' belongs to recipe '${state.recipe}' stage ${state.stageIndex}, not to this recipe`,
      { parameter: 'resume' },
    );
  if (state.stageHash !== stageFingerprint(stage.spec))
    throw new ServiceError(
      400,
      'invalid_checkpoint',
      `stage ${state.stageIndex} of recipe '${recipe.name}' changed since checkpoint '${file}' was written; resuming would not reproduce the run`,
      { parameter: 'resume' },
    );
  return checkpoint;
}

/** The trained variables as AdamW sees them (graph layout), by group name: a checkpoint's parameters for stages without a saved layout. */
export async function groupTensors(groups: ReadonlyMap<string, ParameterGroup>): Promise<TensorMap> {
  const out: TensorMap = new Map();
  for (const [name, { variable }] of groups) out.set(name, { shape: [...variable.shape], data: (await variable.data()) as Float32Array });
  return out;
}

/** Inverse of groupTensors: the checkpoint's values into the stage's variables. */
export function restoreGroups(groups: ReadonlyMap<string, ParameterGroup>, params: TensorMap): void {
  for (const [name, { variable }] of groups) {
    const saved = params.get(name);
    if (!saved || saved.data.length !== variable.size)
      throw new ServiceError(400, 'invalid_checkpoint', `checkpoint has no parameter '${name}' of shape [${variable.shape.join(', ')}]`, {
        parameter: 'resume',
      });
    tf.tidy(() => variable.assign(tf.tensor(saved.data, variable.shape)));
  }
}

/** --init is for backbone stages (a model folder to start from); the other kinds start from their own initialization. */
export function refuseInit(options: TrainOptions, what: string): void {
  if (options.init)
    throw new ServiceError(400, 'invalid_parameter', `--init does not apply to ${what} stages`, { parameter: 'init', value: options.init });
}

/** Runs a recipe's stages in order (from the checkpoint's stage when resuming); stops at an interrupted one. */
export async function trainStages(recipe: Recipe, stages: readonly StageDefinition[], options: TrainOptions = {}): Promise<StageResult[]> {
  const checkpoint = options.resume ? resumeCheckpoint(recipe, stages, options.resume) : undefined;
  const progress = options.progress ?? new ProgressBar();
  const backend = await initBackend(options.backend ?? 'auto');
  if (backend.notice) progress.line(backend.notice);
  const results: StageResult[] = [];
  for (const stage of stages) {
    if (checkpoint && stage.index < checkpoint.state.stageIndex) continue;
    const resume = checkpoint && stage.index === checkpoint.state.stageIndex ? checkpoint : undefined;
    const result = await runStageLoop(recipe, stage, progress, resume, options.stopAfter);
    results.push(result);
    if (!result.completed) break;
  }
  return results;
}

/** Mean of the last losses (up to 20, a quarter of the run): the reported train_loss. */
function trainLoss(recent: readonly number[], steps: number): number {
  const window = recent.slice(-Math.max(1, Math.min(20, Math.floor(steps / 4) || 1)));
  return window.reduce((a, b) => a + b, 0) / Math.max(1, window.length);
}

/** The train_loss window's losses a checkpoint carries, so a resumed run reports what an uninterrupted one does. */
const RECENT_LOSSES = 20;

/** One stage, from its first step or from a checkpoint, to its output folder (or to a checkpoint at stopAfter). */
export async function runStageLoop(
  recipe: Recipe,
  definition: StageDefinition,
  progress: ProgressBar,
  checkpoint: LoadedCheckpoint | undefined,
  stopAfter: number | undefined,
): Promise<StageResult> {
  const started = Date.now();
  const { spec, index, outDir } = definition;
  const label = `stage ${index} '${spec.stage}'`;
  mkdirSync(outDir, { recursive: true });
  const log = new MetricsLog(join(outDir, 'metrics.jsonl'), checkpoint !== undefined);
  const stage = await definition.prepare({ progress, ...(checkpoint ? { resume: checkpoint } : {}) });

  const betas = spec.optimizer.betas ?? stage.defaultBetas;
  const optimizer = new AdamW(
    {
      beta1: betas[0],
      beta2: betas[1],
      eps: spec.optimizer.eps,
      weightDecay: spec.optimizer.weightDecay,
      ...(spec.optimizer.clipGrad ? { clipGrad: spec.optimizer.clipGrad } : {}),
    },
    stage.groups,
  );
  const perEpoch = stage.stepsPerEpoch;
  const scheduledSteps = spec.epochs * perEpoch;
  const totalSteps = Math.min(scheduledSteps, spec.maxSteps ?? Infinity);
  const schedule: ScheduleConfig = {
    lr: spec.optimizer.lr,
    minLr: spec.optimizer.minLr,
    warmupSteps: Math.round(spec.optimizer.warmupEpochs * perEpoch),
    totalSteps: scheduledSteps,
  };
  const recent: number[] = [];
  if (checkpoint) {
    for (const [name, { m, v }] of checkpoint.moments) optimizer.restore(name, m, v);
    optimizer.steps = checkpoint.state.optimizerSteps;
    if (checkpoint.state.stage) stage.restoreState?.(checkpoint.state.stage);
    recent.push(...(checkpoint.state.recentLosses ?? []));
  }
  const fingerprint = stageFingerprint(spec);
  const checkpointFile = join(outDir, CHECKPOINT_FILE);
  const saveCheckpoint = async (step: number): Promise<void> => {
    writeCheckpoint(checkpointFile, await stage.checkpointParams(), await optimizer.state(), {
      recipe: recipe.name,
      stageIndex: index,
      stageHash: fingerprint,
      step,
      optimizerSteps: optimizer.steps,
      recentLosses: recent.slice(-RECENT_LOSSES),
      ...(stage.state ? { stage: stage.state() } : {}),
    });
  };
  const metrics: Record<string, number> = {};
  const evaluate = async (epoch: number): Promise<void> => {
    const t0 = Date.now();
    const result = await stage.evaluate(epoch);
    if (!result) return;
    Object.assign(metrics, result.metrics);
    log.write({ type: 'eval', stage: spec.stage, epoch, ...result.record, seconds: (Date.now() - t0) / 1000 });
    progress.line(result.line);
  };

  let step = checkpoint ? checkpoint.state.step : 0;
  log.write({
    type: 'start',
    stage: spec.stage,
    name: stage.name,
    fromStep: step,
    totalSteps,
    stepsPerEpoch: perEpoch,
    backend: tf.getBackend(),
  });
  const losses: number[] = [];
  let stopped = false;
  try {
    while (step < totalSteps) {
      const t0 = Date.now();
      const lr = learningRateAt(schedule, step);
      const work = stage.step(step);
      const [lossTensor, normTensor] = tf.tidy(() => optimizer.step(work.loss, lr));
      const loss = (await lossTensor!.data())[0]!;
      const gradNorm = (await normTensor!.data())[0]!;
      tf.dispose([lossTensor!, normTensor!, ...(work.extra ?? [])]);
      if (!Number.isFinite(loss))
        throw new ServiceError(
          500,
          'training_diverged',
          `${label}: loss became ${loss} at step ${step + 1}; lower optimizer.lr or set optimizer.clipGrad`,
        );
      step += 1;
      losses.push(loss);
      recent.push(loss);
      if (recent.length > RECENT_LOSSES) recent.shift();
      const epoch = Math.floor((step - 1) / perEpoch) + 1;
      const stepMs = Date.now() - t0;
      log.write({ type: 'step', stage: spec.stage, step, epoch, loss, lr, grad_norm: gradNorm, ...work.record, step_ms: stepMs });
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
    metrics.train_loss = trainLoss(recent, step);
    if (!stopped) {
      await stage.finish(step, metrics);
      rmSync(checkpointFile, { force: true });
      log.write({ type: 'done', stage: spec.stage, steps: step, metrics, seconds: (Date.now() - started) / 1000 });
    } else {
      progress.line(`stopped after step ${step}; resume with --resume ${checkpointFile}`);
    }
  } finally {
    stage.dispose();
    optimizer.dispose();
  }
  return { stage: spec.stage, outDir, steps: step, completed: !stopped, losses, metrics, seconds: (Date.now() - started) / 1000 };
}
