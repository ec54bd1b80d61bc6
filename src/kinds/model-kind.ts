/**
 * A model kind is one plug-in: what its model.json may say, how its folder becomes an ONNX graph,
 * how the runtime loads and describes it, the job it runs and the recipe stages that train it.
 * The kinds live in one table (./index.ts); the registry, the exporter, GET /models, the job
 * runner, `import-checkpoint` and `train` look a kind up there instead of switching on it.
 */
import type { z } from 'zod';
import type { ModelTask } from '../config/manifest.js';
import type { PersonDetector } from '../detector/person-detector.js';
import type { ServiceError } from '../errors.js';
import type { components } from '../http/generated/openapi.js';
import type { ExportOptions, ExportResult } from '../onnx/export-model.js';
import type { Annotation } from '../render/overlays.js';
import type { RunnerOptions } from '../runtime/inference-runner.js';
import type { ModelRegistry, ServedModel } from '../runtime/model-registry.js';
import type { Recipe } from '../train/recipe.js';
import type { StageResult, TrainOptions } from '../train/stage-result.js';
import type { VideoLimits } from '../video/limits.js';

export type ModelInfo = components['schemas']['ModelInfo'];

/** What a job needs from the service that runs it. */
export interface JobContext {
  readonly registry: ModelRegistry;
  readonly config: { readonly limits: VideoLimits; readonly maxBatch: number };
  personDetector(): PersonDetector;
}

/** A queued job: its stored input and the request that made it. */
export interface JobInput {
  readonly file: string;
  readonly displayName: string;
  readonly request: Readonly<Record<string, unknown>>;
}

export interface JobOutcome {
  readonly timings: Readonly<Record<string, number>>;
}

export type JobProgress = (progress: { stage: string; fraction: number; etaSec?: number }) => void;

/** `videomae import-checkpoint FILE --kind NAME ...`: the command's flags as parsed. */
export interface CheckpointImportRequest {
  readonly file: string;
  readonly out: string;
  readonly flags: Readonly<Record<string, unknown>>;
}

/** `videomae init-model --kind NAME ...`: the command's flags as parsed. */
export interface CreateRequest {
  readonly out: string;
  readonly flags: Readonly<Record<string, unknown>>;
}

/** What an import or a create wrote, for the command to print. */
export interface CheckpointImportReport {
  readonly dir: string;
  readonly lines: readonly string[];
}

export interface ModelKind<Served extends ServedModel = ServedModel> {
  /** `--kind` on the command line. */
  readonly name: string;
  /** The `task` of its manifests (the discriminator of AnyManifestSchema). */
  readonly task: ModelTask;
  /** The task in words, for messages ("temporal detection"). */
  readonly title: string;
  /** Its member of AnyManifestSchema. */
  readonly schema: z.ZodType;
  /** model.json + weights.safetensors -> model.onnx. */
  exportFolder(dir: string, options?: ExportOptions): Promise<ExportResult>;
  /** The folder loaded for serving (labels checked, export current). */
  load(dir: string, options: RunnerOptions): Promise<Served>;
  /** Why a loaded model cannot serve beside the others (a backbone it reads is missing), if so. */
  checkDependencies?(model: Served, registry: ModelRegistry): ServiceError | undefined;
  /** Its entry in GET /models. */
  describe(model: Served, isDefault: boolean): ModelInfo;
  /** Runs a job of this kind's task on a stored input. */
  runJob?(context: JobContext, input: JobInput, signal: AbortSignal, onProgress: JobProgress): Promise<JobOutcome>;
  /** Its task's result as what an annotated video draws (render/overlays.ts). */
  annotate?(result: unknown): Annotation;
  /** `init-model --kind NAME`: a folder with seeded random weights (untrained). */
  create?(request: CreateRequest): Promise<CheckpointImportReport>;
  /** `import-checkpoint --kind NAME`: a checkpoint as its official training code saves it -> a model folder. */
  importCheckpoint?(request: CheckpointImportRequest): Promise<CheckpointImportReport>;
  /** The recipe stages (`stages[].stage`) that train this kind, and the run of such a recipe. */
  readonly training?: {
    readonly stages: readonly string[];
    train(recipe: Recipe, options: TrainOptions): Promise<StageResult[]>;
  };
}
