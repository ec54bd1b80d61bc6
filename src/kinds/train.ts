/** `videomae train RECIPE`: the kind whose stages the recipe holds trains it. */
import { loadRecipe, type Recipe } from '../train/recipe.js';
import type { StageResult, TrainOptions } from '../train/stage-result.js';
import { MODEL_KINDS } from './index.js';

export async function trainRecipe(recipe: Recipe, options: TrainOptions = {}): Promise<StageResult[]> {
  // A recipe trains one kind (loadRecipe refuses mixes), so its first stage names the kind.
  const first = [...recipe.stages, ...recipe.actionformer, ...recipe.ava][0]!.stage;
  const kind = MODEL_KINDS.find((k) => k.training?.stages.includes(first));
  if (!kind?.training) throw new Error(`no model kind trains stage '${first}'`);
  return kind.training.train(recipe, options);
}

export function trainRecipeFile(file: string, options: TrainOptions = {}): Promise<StageResult[]> {
  return trainRecipe(loadRecipe(file), options);
}
