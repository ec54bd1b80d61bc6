/** The model folders of `predict` and `evaluate`, loaded as `serve` loads them. */
import { resolve } from 'node:path';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { loadModels } from '../kinds/load-models.js';
import type { ModelRegistry } from '../runtime/model-registry.js';

/**
 * The models under `dir`, as `serve` loads them: a folder that fails (no model.onnx yet, a bad
 * manifest) is reported on stderr and the others still serve; asking for the failed one names why.
 */
export async function loadRegistry(
  dir: string,
  options: { device: DeviceRequest; threads?: number },
  model: string | undefined,
): Promise<ModelRegistry> {
  const registry = await loadModels(resolve(dir), options, model);
  for (const failure of registry.failures)
    console.error(`videomae: warning: model folder '${failure.folder}' not loaded (${failure.code}): ${failure.message}`);
  return registry;
}
