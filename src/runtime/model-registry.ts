/**
 * The models a server (or one CLI run) serves: every folder under the models directory that has
 * a model.json, each with its labels and a loaded inference runner.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readLabels } from '../config/labels.js';
import { MANIFEST_FILE, readModelFolder, type ModelFolder } from '../config/manifest.js';
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

export class ModelRegistry {
  private readonly models = new Map<string, LoadedModel>();

  constructor(readonly defaultName?: string) {}

  add(model: LoadedModel): void {
    if (this.models.has(model.name)) {
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
    await Promise.all(this.list().map((m) => m.runner.close()));
  }

  /** Loads every model folder under `modelsDir`. */
  static async load(modelsDir: string, options: RunnerOptions, defaultName?: string): Promise<ModelRegistry> {
    const registry = new ModelRegistry(defaultName);
    const folders = findModelFolders(modelsDir);
    if (folders.length === 0) {
      throw new ServiceError(500, 'no_models', `models directory '${modelsDir}' holds no model folder (a folder with model.json)`);
    }
    try {
      for (const dir of folders) registry.add(await loadModel(dir, options));
    } catch (error) {
      await registry.close();
      throw error;
    }
    if (defaultName) registry.resolve(defaultName);
    return registry;
  }
}
