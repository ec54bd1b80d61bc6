/**
 * Loads every model folder under a models directory into a registry, each by its kind; a folder
 * that cannot load (bad weights, a broken graph, a backbone it reads missing) is recorded as a
 * failure and the others still serve.
 */
import { modelTask, type ModelTask } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import type { RunnerOptions } from '../runtime/inference-runner.js';
import { findModelFolders, manifestName, ModelRegistry, type ServedModel } from '../runtime/model-registry.js';
import { kindForTask, MODEL_KINDS } from './index.js';

export async function loadModels(modelsDir: string, options: RunnerOptions, defaultName?: string): Promise<ModelRegistry> {
  const registry = new ModelRegistry(defaultName);
  const folders = findModelFolders(modelsDir);
  if (folders.length === 0) {
    throw new ServiceError(500, 'no_models', `models directory '${modelsDir}' holds no model folder (a folder with model.json)`);
  }
  for (const dir of folders) {
    let loaded: ServedModel | undefined;
    let task: ModelTask | undefined;
    try {
      task = modelTask(dir);
      loaded = await kindForTask(task).load(dir, options);
      registry.add(task, loaded);
    } catch (error) {
      await loaded?.runner.close();
      const e = error instanceof ServiceError ? error : new ServiceError(500, 'model_load_failed', (error as Error).message);
      const name = loaded?.name ?? manifestName(dir);
      registry.failures.push({ folder: dir, ...(name ? { name } : {}), ...(task ? { task } : {}), code: e.code, message: e.message });
    }
  }
  // Heads and detectors after every backbone has loaded: a detector whose backbone does not serve is taken out.
  for (const kind of MODEL_KINDS) {
    if (!kind.checkDependencies) continue;
    for (const model of registry.ofTask(kind.task)) {
      const error = kind.checkDependencies(model, registry);
      if (error) await registry.withdraw(kind.task, model, error);
    }
  }
  if (defaultName && !registry.backbone(defaultName) && !registry.failures.length) registry.resolve(defaultName);
  return registry;
}
