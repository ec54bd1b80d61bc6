/**
 * The models a server (or one CLI run) serves: every folder under the models directory that has
 * a model.json, each with its labels and a loaded inference runner.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readLabels } from '../config/labels.js';
import { MANIFEST_FILE, modelTask, type ModelTask, readModelFolder, readSpatiotemporalModelFolder, readTemporalModelFolder, type ModelFolder, type SpatiotemporalModelFolder, type TemporalModelFolder } from '../config/manifest.js';
import { NotFoundError, ServiceError, UnavailableError } from '../errors.js';
import { avaHeadConfigOf, staleExportReason } from '../onnx/export-model.js';
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
}

/** Folders directly under `modelsDir` that hold a model.json (hidden ones skipped), sorted by name. */
export function findModelFolders(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) {
    throw new ServiceError(500, 'models_dir_missing', `models directory '${modelsDir}' does not exist`);
  }
  return readdirSync(modelsDir, { withFileTypes: true })
    // Hidden folders are work in progress (an import stages its folder as .NAME.importing-PID).
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && existsSync(join(modelsDir, entry.name, MANIFEST_FILE)))
    .map((entry) => join(modelsDir, entry.name))
    .sort();
}

export async function loadModel(dir: string, options: RunnerOptions): Promise<LoadedModel> {
  const folder = readModelFolder(dir);
  const stale = staleExportReason(folder);
  if (stale) {
    throw new ServiceError(500, 'model_not_exported', `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`);
  }
  const labels = folder.labelsPath ? readLabels(folder.labelsPath) : [];
  const classes = folder.architecture.numClasses;
  if (classes > 0 && labels.length > 0 && labels.length !== classes) {
    throw new ServiceError(500, 'labels_mismatch', `model '${folder.manifest.name}' has ${classes} classes but ${labels.length} labels`);
  }
  const runner = await WorkerRunner.create(folder.onnxPath, options);
  return { name: folder.manifest.name, folder, labels, runner };
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
    throw new ServiceError(500, 'model_not_exported', `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`);
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

/** `id: name` lines -> [{id, label}] (plain lines get ids 1..n). */
export function readActionClasses(file: string): Array<{ id: number; label: string }> {
  return readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim()).map((line, i) => {
    const m = /^\s*(\d+)\s*:\s*(.*)$/.exec(line);
    return m ? { id: Number(m[1]), label: m[2]!.trim() } : { id: i + 1, label: line.trim() };
  });
}

export async function loadSpatiotemporalModel(dir: string, options: RunnerOptions): Promise<LoadedSpatiotemporalModel> {
  const folder = readSpatiotemporalModelFolder(dir);
  const stale = staleExportReason(folder) ?? staleAvaHeadReason(readModelMetadata(folder.onnxPath), avaHeadConfigOf(folder.manifest));
  if (stale) throw new ServiceError(500, 'model_not_exported', `model '${folder.manifest.name}' cannot be served: ${stale}; run 'videomae export ${dir}'`);
  const classes = readActionClasses(folder.labelsPath);
  if (classes.length !== folder.manifest.head.numClasses) {
    throw new ServiceError(500, 'labels_mismatch', `model '${folder.manifest.name}' has ${folder.manifest.head.numClasses} classes but ${classes.length} labels`);
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
  const message = failure.message.split(failure.folder).join(name).replace(/(?:\/[^\s'"():;,]+)+/g, (path) => basename(path));
  return { name, ...(failure.task ? { task: failure.task } : {}), code: failure.code, message };
}

export class ModelRegistry {
  /** Folders that failed to load (the others still serve; readiness reports these). */
  readonly failures: ModelFailure[] = [];
  private readonly models = new Map<string, LoadedModel>();
  private readonly temporal = new Map<string, LoadedTemporalModel>();
  private readonly spatiotemporal = new Map<string, LoadedSpatiotemporalModel>();

  constructor(readonly defaultName?: string) {}

  addSpatiotemporal(model: LoadedSpatiotemporalModel): void {
    if (this.models.has(model.name) || this.temporal.has(model.name) || this.spatiotemporal.has(model.name)) {
      throw new ServiceError(500, 'duplicate_model', `two model folders are named '${model.name}'`);
    }
    this.spatiotemporal.set(model.name, model);
  }

  listSpatiotemporal(): LoadedSpatiotemporalModel[] {
    return [...this.spatiotemporal.values()];
  }

  /** The named action head, or the first one; with its backbone. */
  resolveSpatiotemporal(name: string | undefined): { head: LoadedSpatiotemporalModel; backbone: LoadedModel } {
    const wanted = name ?? this.listSpatiotemporal()[0]?.name;
    const head = wanted === undefined ? undefined : this.spatiotemporal.get(wanted);
    if (!head) {
      this.throwIfFailed(name, 'spatiotemporal-detection', 'spatiotemporal detection');
      throw new NotFoundError('model_not_found', `spatiotemporal detection model '${wanted ?? ''}' does not exist; available: ${[...this.spatiotemporal.keys()].join(', ') || 'none'}`, { parameter: 'model', value: wanted });
    }
    return { head, backbone: this.models.get(head.folder.manifest.backbone)! };
  }

  addTemporal(model: LoadedTemporalModel): void {
    if (this.models.has(model.name) || this.temporal.has(model.name) || this.spatiotemporal.has(model.name)) {
      throw new ServiceError(500, 'duplicate_model', `two model folders are named '${model.name}'`);
    }
    this.temporal.set(model.name, model);
  }

  listTemporal(): LoadedTemporalModel[] {
    return [...this.temporal.values()];
  }

  /** The named temporal detector, or the first one; with its backbone. */
  resolveTemporal(name: string | undefined): { detector: LoadedTemporalModel; backbone: LoadedModel } {
    const wanted = name ?? this.listTemporal()[0]?.name;
    const detector = wanted === undefined ? undefined : this.temporal.get(wanted);
    if (!detector) {
      this.throwIfFailed(name, 'temporal-detection', 'temporal detection');
      throw new NotFoundError('model_not_found', `temporal detection model '${wanted ?? ''}' does not exist; available: ${[...this.temporal.keys()].join(', ') || 'none'}`, { parameter: 'model', value: wanted });
    }
    return { detector, backbone: this.models.get(detector.folder.manifest.features.backbone)! };
  }

  add(model: LoadedModel): void {
    if (this.models.has(model.name) || this.temporal.has(model.name)) {
      throw new ServiceError(500, 'duplicate_model', `two model folders are named '${model.name}'`);
    }
    this.models.set(model.name, model);
  }

  list(): LoadedModel[] {
    return [...this.models.values()];
  }

  get size(): number {
    return this.models.size;
  }

  /**
   * The named model, or the default one when no name is given: the configured default, else
   * 'default', else the first model with a classification head (features-only encoders that
   * detectors use are never picked).
   */
  resolve(name: string | undefined): LoadedModel {
    const wanted = name ?? this.defaultClassifierName();
    const model = wanted === undefined ? undefined : this.models.get(wanted);
    if (!model) {
      this.throwIfFailed(wanted, 'classification', 'classification');
      throw new NotFoundError('model_not_found', `model '${wanted ?? ''}' does not exist; available: ${[...this.models.keys()].join(', ') || 'none'}`, { parameter: 'model', value: wanted });
    }
    return model;
  }

  /**
   * The classifier a request without a model gets: the configured default, else the folder named
   * 'default' (also when it failed: then nothing silently takes its place), else the first model
   * with a classification head (features-only encoders that detectors use are never picked).
   */
  private defaultClassifierName(): string | undefined {
    if (this.defaultName) return this.defaultName;
    const defaultModel = this.models.get('default');
    if (defaultModel?.folder.architecture.numClasses || this.failures.some((f) => f.name === 'default')) return 'default';
    return this.list().find((m) => m.folder.architecture.numClasses > 0)?.name ?? this.list()[0]?.name;
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
    throw new UnavailableError('model_failed', `${which}model '${shown.name}' failed to load and is not served (${shown.code}: ${shown.message})`);
  }

  /**
   * Tasks whose default model does not serve although a folder for it was given: the service is
   * ready when this is empty (a failed folder that is not a task's default does not take the
   * instance out of a load balancer; the other models serve).
   */
  unservedTasks(): UnservedTask[] {
    const unserved: UnservedTask[] = [];
    const classifier = this.defaultClassifierName();
    const classifierFailure = this.failures.find((f) => f.name !== undefined && f.name === classifier && !this.models.has(f.name));
    if (classifierFailure) unserved.push({ task: 'classification', failure: classifierFailure });
    for (const [task, loaded] of [['temporal-detection', this.temporal.size], ['spatiotemporal-detection', this.spatiotemporal.size]] as const) {
      const failure = this.failures.find((f) => f.task === task);
      if (loaded === 0 && failure) unserved.push({ task, failure });
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
    await Promise.all([...this.list(), ...this.listTemporal(), ...this.listSpatiotemporal()].map((m) => m.runner.close()));
  }

  /**
   * Every detector's backbone must be loaded and make the features it was trained on; a detector
   * whose backbone does not is taken out and recorded as a failure.
   */
  private async checkBackbones(): Promise<void> {
    for (const head of [...this.spatiotemporal.values()]) {
      const m = head.folder.manifest;
      const backbone = this.models.get(m.backbone);
      const a = backbone?.folder.architecture;
      const temporalTokens = a ? a.numFrames / a.tubeletSize : 0;
      const error = !a
        ? new ServiceError(500, 'backbone_missing', `spatiotemporal model '${head.name}' needs backbone '${m.backbone}', which is not loaded`)
        : a.embedDim !== m.head.embedDim || a.numFrames !== m.clip.numFrames || temporalTokens !== m.head.temporalTokens || a.patchSize !== m.head.patchSize
          ? new ServiceError(500, 'backbone_mismatch', `spatiotemporal model '${head.name}' reads ${m.head.embedDim}-d tokens of ${m.clip.numFrames}-frame clips (${m.head.temporalTokens} temporal tokens, patch ${m.head.patchSize}); backbone '${m.backbone}' makes ${a.embedDim}-d tokens of ${a.numFrames}-frame clips (${temporalTokens} temporal tokens, patch ${a.patchSize})`)
          : undefined;
      if (error) {
        this.spatiotemporal.delete(head.name);
        await head.runner.close();
        this.failures.push({ folder: head.folder.dir, name: head.name, task: 'spatiotemporal-detection', code: error.code, message: error.message });
      }
    }
    for (const detector of [...this.temporal.values()]) {
      const f = detector.folder.manifest.features;
      const a = this.models.get(f.backbone)?.folder.architecture;
      const error = !a
        ? new ServiceError(500, 'backbone_missing', `temporal model '${detector.name}' needs backbone '${f.backbone}', which is not loaded`)
        : a.embedDim !== detector.folder.manifest.actionformer.inputDim || a.numFrames !== f.numFrames || a.imageHeight !== f.size
          ? new ServiceError(500, 'backbone_mismatch', `temporal model '${detector.name}' was trained on ${detector.folder.manifest.actionformer.inputDim}-d features of ${f.numFrames}x${f.size}x${f.size} clips; backbone '${f.backbone}' makes ${a.embedDim}-d features of ${a.numFrames}x${a.imageHeight}x${a.imageWidth}`)
          : undefined;
      if (error) {
        this.temporal.delete(detector.name);
        await detector.runner.close();
        this.failures.push({ folder: detector.folder.dir, name: detector.name, task: 'temporal-detection', code: error.code, message: error.message });
      }
    }
  }

  /** Loads every model folder under `modelsDir`. */
  static async load(modelsDir: string, options: RunnerOptions, defaultName?: string): Promise<ModelRegistry> {
    const registry = new ModelRegistry(defaultName);
    const folders = findModelFolders(modelsDir);
    if (folders.length === 0) {
      throw new ServiceError(500, 'no_models', `models directory '${modelsDir}' holds no model folder (a folder with model.json)`);
    }
    // One folder that cannot load (bad weights, a broken graph) does not take the others down.
    for (const dir of folders) {
      let loaded: LoadedModel | LoadedTemporalModel | LoadedSpatiotemporalModel | undefined;
      let task: ModelTask | undefined;
      try {
        task = modelTask(dir);
        if (task === 'temporal-detection') registry.addTemporal(loaded = await loadTemporalModel(dir, options));
        else if (task === 'spatiotemporal-detection') registry.addSpatiotemporal(loaded = await loadSpatiotemporalModel(dir, options));
        else registry.add(loaded = await loadModel(dir, options));
      } catch (error) {
        await loaded?.runner.close();
        const e = error instanceof ServiceError ? error : new ServiceError(500, 'model_load_failed', (error as Error).message);
        const name = loaded?.name ?? manifestName(dir);
        registry.failures.push({ folder: dir, ...(name ? { name } : {}), ...(task ? { task } : {}), code: e.code, message: e.message });
      }
    }
    await registry.checkBackbones();
    if (defaultName && !registry.models.has(defaultName) && !registry.failures.length) registry.resolve(defaultName);
    return registry;
  }
}

/** The name a folder's model.json declares, if it can be read at all. */
function manifestName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
