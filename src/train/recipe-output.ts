/**
 * Where a recipe's stages write, as the user asked: `train --out DIR` sends the final stage to
 * DIR, and no stage may replace a bundled model folder unless --out names that folder.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ServiceError } from '../errors.js';
import { resolvePath, type Recipe } from './recipe.js';

/** The recipe with its final stage writing to `out` (absolute). */
export function withFinalOutput(recipe: Recipe, out: string): Recipe {
  const target = resolve(out);
  const last = <T extends { out: string }>(stages: T[]): T[] => stages.map((s, i) => (i === stages.length - 1 ? { ...s, out: target } : s));
  if (recipe.actionformer.length) return { ...recipe, actionformer: last(recipe.actionformer) };
  if (recipe.ava.length) return { ...recipe, ava: last(recipe.ava) };
  return { ...recipe, stages: last(recipe.stages) };
}

/**
 * Refuses a recipe that would overwrite a model folder under `bundledDir` (the package's models/,
 * where the bundled default lives) unless `explicitOut` is that folder.
 */
export function refuseBundledOverwrite(recipe: Recipe, bundledDir: string, explicitOut: string | undefined): void {
  const root = resolve(bundledDir);
  const allowed = explicitOut ? resolve(explicitOut) : undefined;
  const stages: Array<{ out: string }> = [...recipe.stages, ...recipe.actionformer, ...recipe.ava];
  stages.forEach((stage, index) => {
    const out = resolvePath(recipe, stage.out);
    const inside = relative(root, out);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return; // not under the bundled folder
    if (!existsSync(join(out, 'model.json')) || out === allowed) return;
    const shown = relative(process.cwd(), out) || out;
    throw new ServiceError(
      409,
      'output_exists',
      `stage ${index} of recipe '${recipe.name}' would write '${shown}', a bundled model folder; pass --out ${shown} to replace it on purpose, or --out <dir> to write the trained model elsewhere`,
      { parameter: 'out' },
    );
  });
}
