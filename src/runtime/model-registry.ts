/**
 * The models a server (or one CLI run) serves: every folder under the models directory that has
 * a model.json, each with its labels and a loaded inference runner.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readLabels } from '../config/labels.js';
import { MANIFEST_FILE, modelTask, readModelFolder, readTemporalModelFolder, type ModelFolder, type TemporalModelFolder } from '../config/manifest.js';
import { NotFoundError, ServiceError } from '../errors.js';
import { staleExportReason } from '../onnx/export-model.js';
import type { InferenceRunner, RunnerOptions } from './inference-runner.js';
import { WorkerRunner } from './worker-runner.js';

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

export class ModelRegistry {
  private readonly models = new Map<string, LoadedModel>();
  private readonly temporal = new Map<string, LoadedTemporalModel>();

  constructor(readonly defaultName?: string) {}

  addTemporal(model: LoadedTemporalModel): void {
    if (this.models.has(model.name) || this.temporal.has(model.name)) {
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

  /** The named model, or the default one when no name is given. */
  resolve(name: string | undefined): LoadedModel {
    const wanted = name ?? this.defaultName ?? this.list()[0]?.name;
    const model = wanted === undefined ? undefined : this.models.get(wanted);
    if (!model) {
      throw new NotFoundError('model_not_found', `model '${wanted ?? ''}' does not exist; available: ${[...this.models.keys()].join(', ') || 'none'}`, { parameter: 'model', value: wanted });
    }
    return model;
  }

  async close(): Promise<void> {
    await Promise.all([...this.list(), ...this.listTemporal()].map((m) => m.runner.close()));
  }

  /** Every detector's backbone must be loaded and make the features it was trained on. */
  private checkBackbones(): void {
    for (const detector of this.temporal.values()) {
      const f = detector.folder.manifest.features;
      const backbone = this.models.get(f.backbone);
      if (!backbone) {
        throw new ServiceError(500, 'backbone_missing', `temporal model '${detector.name}' needs backbone '${f.backbone}', which is not in the models folder`);
      }
      const a = backbone.folder.architecture;
      if (a.embedDim !== detector.folder.manifest.actionformer.inputDim || a.numFrames !== f.numFrames || a.imageHeight !== f.size) {
        throw new ServiceError(500, 'backbone_mismatch', `temporal model '${detector.name}' was trained on ${detector.folder.manifest.actionformer.inputDim}-d features of ${f.numFrames}x${f.size}x${f.size} clips; backbone '${f.backbone}' makes ${a.embedDim}-d features of ${a.numFrames}x${a.imageHeight}x${a.imageWidth}`);
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
    try {
      for (const dir of folders) {
        if (modelTask(dir) === 'temporal-detection') registry.addTemporal(await loadTemporalModel(dir, options));
        else registry.add(await loadModel(dir, options));
      }
      registry.checkBackbones();
    } catch (error) {
      await registry.close();
      throw error;
    }
    if (defaultName) registry.resolve(defaultName);
    return registry;
  }
}
