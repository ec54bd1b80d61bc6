/**
 * Recipes whose stages neither resume nor start from --init (ActionFormer on extracted features,
 * the AVA head): one backend, one progress bar, the stages in order.
 */
import { ServiceError } from '../errors.js';
import { initBackend } from '../tfjs/backend.js';
import { ProgressBar } from './progress.js';
import type { Recipe } from './recipe.js';
import type { StageResult, TrainOptions } from './stage-result.js';

export async function runPlainStages<Spec>(
  recipe: Recipe,
  specs: readonly Spec[],
  options: TrainOptions,
  what: string,
  run: (recipe: Recipe, index: number, spec: Spec, progress: ProgressBar) => Promise<StageResult>,
): Promise<StageResult[]> {
  if (options.init || options.resume) {
    throw new ServiceError(400, 'invalid_parameter', `--${options.init ? 'init' : 'resume'} does not apply to ${what} stages`, {
      parameter: options.init ? 'init' : 'resume',
    });
  }
  const progress = options.progress ?? new ProgressBar();
  const backend = await initBackend(options.backend ?? 'auto');
  if (backend.notice) progress.line(backend.notice);
  const results: StageResult[] = [];
  for (const [index, spec] of specs.entries()) results.push(await run(recipe, index, spec, progress));
  return results;
}
