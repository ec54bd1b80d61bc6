/**
 * The models a server (or one CLI run) serves: every folder under the models directory that has
 * a model.json, each with its labels and a loaded inference runner.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readActionClasses, readLabels } from '../config/labels.js';
import {
  MANIFEST_FILE,
  type ModelTask,
  readModelFolder,
  readSpatiotemporalModelFolder,
  readTemporalModelFolder,
  type ModelFolder,
  type SpatiotemporalModelFolder,
  type TemporalModelFolder,
} from '../config/manifest.js';
import { NotFoundError, ServiceError, UnavailableError } from '../errors.js';
import { avaHeadConfigOf, graphFormOf, staleExportReason, type GraphForm } from '../onnx/export-model.js';
import { staleAvaHeadReason } from '../onnx/ava-head-graph.js';
import { readModelMetadata } from '../onnx/serialize.js';
import type { InferenceRunner, RunnerOptions } from './inference-runner.js';
import { WorkerRunner } from './worker-runner.js';

export type { ModelTask };

export interface LoadedModel {
  readonly name: string;
  readonly folder: ModelFolder;
  readonly labels: readonly string[];
  readonly runner: InferenceRunner;
  /** What its model.onnx is: float32 / float16 / int8, plain or fused attention (from the export's metadata). */
  readonly graph: GraphForm;
}

/** Folders directly under `modelsDir` that hold a model.json (hidden ones skipped), sorted by name. */
export function findModelFolders(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) {
    throw new ServiceError(500, 'models_dir_missing', `models directory '${modelsDir}' does not exist`);
  }
  return (
    readdirSync(modelsDir, { withFileTypes: true })
      // Hidden folders are work in progress (an import stages its folder as .NAME.importing-PID).
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && existsSync(join(modelsDir, entry.name, MANIFEST_FILE)))
      .map((entry) => join(modelsDir, entry.name))
      .sort()
  );
}

export async function loadModel(dir: string, options: RunnerOptions): Promise<LoadedModel> {
  const folder = readModelFolder(dir);
  const stale = staleExportReason(folder);
  if (stale) {
    throw new ServiceError(
      500,
      'model_not_exported',
      `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`,
    );
  }
  const labels = folder.labelsPath ? readLabels(folder.labelsPath) : [];
  const classes = folder.architecture.numClasses;
  if (classes > 0 && labels.length > 0 && labels.length !== classes) {
    throw new ServiceError(500, 'labels_mismatch', `model '${folder.manifest.name}' has ${classes} classes but ${labels.length} labels`);
  }
  // The export itself says whether it is int8 (`videomae export --int8`): no serve flag to keep in step.
  const graph = graphFormOf(readModelMetadata(folder.onnxPath));
  const runner = await WorkerRunner.create(folder.onnxPath, options);
  return { name: folder.manifest.name, folder, labels, runner, graph };
}

/** An ActionFormer detector, with the backbone that makes its features. */
export interface LoadedTemporalModel {
  readonly name: string;
  readonly folder: TemporalModelFolder;
  readonly labels: readonly string[];
  readonly runner: InferenceRunner;
}

export async function loadTemporalModel(dir: string, options: RunnerOptions): Promise<LoadedTemporalModel> {
  const folder = readTemporalModelFolder(dir);
  const stale = staleExportReason(folder);
  if (stale) {
    throw new ServiceError(
      500,
      'model_not_exported',
      `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`,
    );
  }
  const labels = readLabels(folder.labelsPath);
  const classes = folder.manifest.actionformer.numClasses;
  if (labels.length !== classes) {
    throw new ServiceError(500, 'labels_mismatch', `model '${folder.manifest.name}' has ${classes} classes but ${labels.length} labels`);
  }
  const runner = await WorkerRunner.create(folder.onnxPath, options);
  return { name: folder.manifest.name, folder, labels, runner };
}

/** An AVA-style action head, with the backbone whose tokens it reads. */
export interface LoadedSpatiotemporalModel {
  readonly name: string;
  readonly folder: SpatiotemporalModelFolder;
  /** Head row k: its AVA action id and name. */
  readonly classes: ReadonlyArray<{ readonly id: number; readonly label: string }>;
  /** Action ids that AVA evaluates (empty when the label set marks none). */
  readonly evaluated: ReadonlySet<number>;
  readonly runner: InferenceRunner;
}

export async function loadSpatiotemporalModel(dir: string, options: RunnerOptions): Promise<LoadedSpatiotemporalModel> {
  const folder = readSpatiotemporalModelFolder(dir);
  const stale = staleExportReason(folder) ?? staleAvaHeadReason(readModelMetadata(folder.onnxPath), avaHeadConfigOf(folder.manifest));
  if (stale)
    throw new ServiceError(
      500,
      'model_not_exported',
      `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`,
    );
  const classes = readActionClasses(folder.labelsPath);
  if (classes.length !== folder.manifest.head.numClasses) {
    throw new ServiceError(
      500,
      'labels_mismatch',
      `model '${folder.manifest.name}' has ${folder.manifest.head.numClasses} classes but ${classes.length} labels`,
    );
  }
  const evaluatedFile = folder.manifest.labels.evaluated;
  const evaluated = new Set(evaluatedFile ? readActionClasses(join(folder.dir, evaluatedFile)).map((c) => c.id) : []);
  const runner = await WorkerRunner.create(folder.onnxPath, options);
  return { name: folder.manifest.name, folder, classes, evaluated, runner };
}

/** A model folder that could not be served, and why. */
export interface ModelFailure {
  readonly folder: string;
  readonly name?: string;
  /** What the folder would have served, when its model.json could be read. */
  readonly task?: ModelTask;
  readonly code: string;
  readonly message: string;
}

/** A task whose default model does not serve, and the failed folder that should have. */
export interface UnservedTask {
  readonly task: ModelTask;
  readonly failure: ModelFailure;
}

/** What a client may see of a failure: the model's name and the reason, no file-system paths. */
export function publicFailure(failure: ModelFailure): { name: string; task?: ModelTask; code: string; message: string } {
  const name = failure.name ?? basename(failure.folder);
  const message = failure.message
    .split(failure.folder)
    .join(name)
    .replace(/(?:\/[^\s'"():;,]+)+/g, (path) => basename(path));
  return { name, ...(failure.task ? { task: failure.task } : {}), code: failure.code, message };
}

/** What every served model has, whatever its kind. */
export interface ServedModel {
  readonly name: string;
  readonly folder: { readonly dir: string };
  readonly runner: InferenceRunner;
}

/**
 * The models a process serves, by task. Kinds fill it (src/kinds/load-models.ts); requests
 * resolve a model of their task by name or take the task's default.
 */
export class ModelRegistry {
  /** Folders that failed to load (the others still serve; readiness reports these). */
  readonly failures: ModelFailure[] = [];
  private readonly served = new Map<string, { readonly task: ModelTask; readonly model: ServedModel }>();

  constructor(readonly defaultName?: string) {}

  add(task: ModelTask, model: ServedModel): void {
    if (this.served.has(model.name)) throw new ServiceError(500, 'duplicate_model', `two model folders are named '${model.name}'`);
    this.served.set(model.name, { task, model });
  }

  /** Takes a model out (it could not serve after all) and records why. */
  async withdraw(task: ModelTask, model: ServedModel, error: ServiceError): Promise<void> {
    this.served.delete(model.name);
    await model.runner.close();
    this.failures.push({ folder: model.folder.dir, name: model.name, task, code: error.code, message: error.message });
  }

  /** Every served model of a task, sorted by folder name. */
  ofTask<T extends ServedModel = ServedModel>(task: ModelTask): T[] {
    return [...this.served.values()].filter((entry) => entry.task === task).map((entry) => entry.model as T);
  }

  /** Every served model, of every task. */
  all(): ServedModel[] {
    return [...this.served.values()].map((entry) => entry.model);
  }

  /** The named model of a task, or the task's default (classification: see defaultClassifierName; others: the first). */
  find<T extends ServedModel = ServedModel>(task: ModelTask, name: string | undefined, what: string): T {
    const wanted = name ?? (task === 'classification' ? this.defaultClassifierName() : this.ofTask(task)[0]?.name);
    const entry = wanted === undefined ? undefined : this.served.get(wanted);
    if (!entry || entry.task !== task) {
      this.throwIfFailed(task === 'classification' ? wanted : name, task, what);
      const prefix = task === 'classification' ? 'model' : `${what} model`;
      throw new NotFoundError(
        'model_not_found',
        `${prefix} '${wanted ?? ''}' does not exist; available: ${
          this.ofTask(task)
            .map((m) => m.name)
            .join(', ') || 'none'
        }`,
        { parameter: 'model', value: wanted },
      );
    }
    return entry.model as T;
  }

  /** The name of the model a request of `task` that names none gets, if any. */
  defaultFor(task: ModelTask): string | undefined {
    return task === 'classification' ? this.defaultClassifierName() : this.ofTask(task)[0]?.name;
  }

  list(): LoadedModel[] {
    return this.ofTask<LoadedModel>('classification');
  }

  listTemporal(): LoadedTemporalModel[] {
    return this.ofTask<LoadedTemporalModel>('temporal-detection');
  }

  listSpatiotemporal(): LoadedSpatiotemporalModel[] {
    return this.ofTask<LoadedSpatiotemporalModel>('spatiotemporal-detection');
  }

  get size(): number {
    return this.list().length;
  }

  /** A backbone or classifier by name, if it serves. */
  backbone(name: string): LoadedModel | undefined {
    const entry = this.served.get(name);
    return entry?.task === 'classification' ? (entry.model as LoadedModel) : undefined;
  }

  /** The named model, or the default classifier when no name is given. */
  resolve(name: string | undefined): LoadedModel {
    return this.find<LoadedModel>('classification', name, 'classification');
  }

  /** The named action head, or the first one; with its backbone. */
  resolveSpatiotemporal(name: string | undefined): { head: LoadedSpatiotemporalModel; backbone: LoadedModel } {
    const head = this.find<LoadedSpatiotemporalModel>('spatiotemporal-detection', name, 'spatiotemporal detection');
    return { head, backbone: this.backbone(head.folder.manifest.backbone)! };
  }

  /** The named temporal detector, or the first one; with its backbone (none for a features-only model). */
  resolveTemporal(name: string | undefined): { detector: LoadedTemporalModel; backbone: LoadedModel | undefined } {
    const detector = this.find<LoadedTemporalModel>('temporal-detection', name, 'temporal detection');
    const backbone = detector.folder.manifest.features.backbone;
    return { detector, backbone: backbone === undefined ? undefined : this.backbone(backbone)! };
  }

  /**
   * The classifier a request without a model gets: the configured default, else the folder named
   * 'default' (also when it failed: then nothing silently takes its place), else the first model
   * with a classification head (features-only encoders that detectors use are never picked).
   */
  private defaultClassifierName(): string | undefined {
    if (this.defaultName) return this.defaultName;
    const classifiers = this.list();
    const defaultModel = classifiers.find((m) => m.name === 'default');
    if (defaultModel?.folder.architecture.numClasses || this.failures.some((f) => f.name === 'default')) return 'default';
    return classifiers.find((m) => m.folder.architecture.numClasses > 0)?.name ?? classifiers[0]?.name;
  }

  /**
   * A model asked for (or the task's default, when `name` is undefined) that failed to load is a
   * 503 naming it and why, not a 404 saying it does not exist.
   */
  private throwIfFailed(name: string | undefined, task: ModelTask, what: string): void {
    const failure = this.failures.find((f) => (name === undefined ? f.task === task : f.name === name));
    if (!failure) return;
    const shown = publicFailure(failure);
    const which = name === undefined ? `no ${what} model is loaded: ` : '';
    throw new UnavailableError(
      'model_failed',
      `${which}model '${shown.name}' failed to load and is not served (${shown.code}: ${shown.message})`,
    );
  }

  /**
   * Tasks whose default model does not serve although a folder for it was given: the service is
   * ready when this is empty (a failed folder that is not a task's default does not take the
   * instance out of a load balancer; the other models serve).
   */
  unservedTasks(): UnservedTask[] {
    const unserved: UnservedTask[] = [];
    const classifier = this.defaultClassifierName();
    const classifierFailure = this.failures.find((f) => f.name !== undefined && f.name === classifier && !this.served.has(f.name));
    if (classifierFailure) unserved.push({ task: 'classification', failure: classifierFailure });
    const failedTasks = new Set(this.failures.map((f) => f.task).filter((t): t is ModelTask => t !== undefined && t !== 'classification'));
    for (const task of failedTasks) {
      const failure = this.failures.find((f) => f.task === task)!;
      if (this.ofTask(task).length === 0) unserved.push({ task, failure });
    }
    return unserved;
  }

  /** For tools that need every model (predict, evaluate): the first failure, thrown. */
  async orFirstFailure(): Promise<this> {
    const failure = this.failures[0];
    if (!failure) return this;
    await this.close();
    throw new ServiceError(500, failure.code, failure.message);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((m) => m.runner.close()));
  }
}

/** The name a folder's model.json declares, if it can be read at all. */
export function manifestName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
