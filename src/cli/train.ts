/** `videomae train RECIPE`: run a training recipe (TF.js, loaded only for this command). */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { BUNDLED_MODELS_DIR, positiveInt } from './options.js';

export function addTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'run a training recipe; each stage writes a servable model folder. Stages: ' +
        'pretrain (VideoMAE V2 dual-masking reconstruction), finetune (classification head + encoder), ' +
        "distill (a student from a teacher's logits), actionformer (temporal detector on extracted features), " +
        'ava (AVA action head on a frozen backbone)',
    )
    .argument('<recipe>', 'recipe JSON file (see recipes/ and docs/training.md)')
    .option(
      '--out <dir>',
      "model folder for the final stage (instead of the recipe's out); needed to replace a bundled model such as models/default",
    )
    .option('--init <model-folder>', 'start the first stage from these weights')
    .option('--resume <checkpoint>', 'continue an interrupted stage from its checkpoint.safetensors')
    .addOption(
      new Option('--backend <name>', 'TF.js backend: auto, tensorflow (tfjs-node-gpu/-node when installed), wasm or cpu')
        .choices(['auto', 'tensorflow', 'wasm', 'cpu'])
        .default('auto'),
    )
    .option('--stop-after <steps>', 'stop the running stage after this many steps, with a checkpoint', positiveInt)
    .action(async (recipeFile: string, flags) => {
      const { trainRecipe } = await import('../kinds/train.js');
      const { loadRecipe } = await import('../train/recipe.js');
      const { refuseBundledOverwrite, withFinalOutput } = await import('../train/recipe-output.js');
      let recipe = loadRecipe(resolve(recipeFile));
      if (flags.out) recipe = withFinalOutput(recipe, flags.out);
      refuseBundledOverwrite(recipe, BUNDLED_MODELS_DIR, flags.out);
      const results = await trainRecipe(recipe, {
        backend: flags.backend,
        ...(flags.init ? { init: resolve(flags.init) } : {}),
        ...(flags.resume ? { resume: resolve(flags.resume) } : {}),
        ...(flags.stopAfter ? { stopAfter: flags.stopAfter } : {}),
      });
      console.log(
        JSON.stringify(
          results.map(({ losses, ...rest }) => ({ ...rest, firstLoss: losses[0], lastLoss: losses[losses.length - 1] })),
          null,
          2,
        ),
      );
    });
}
