/** Which of GET /models' models the page offers for a task. */
import type { ModelInfo, Task } from './types.js';

/**
 * The models that can run `task`: of that task, and for classification only those with a head
 * (a features-only encoder, such as an AVA model's backbone, answers model_cannot_classify).
 * Default first, then by name.
 */
export function modelsForTask<M extends Pick<ModelInfo, 'name' | 'task' | 'default' | 'architecture'>>(
  models: readonly M[],
  task: Task,
): M[] {
  return models
    .filter((m) => m.task === task && (task !== 'classification' || m.architecture.numClasses > 0))
    .sort((a, b) => Number(b.default) - Number(a.default) || a.name.localeCompare(b.name));
}
