/** `videomae extract-features INPUT --out DIR`: sliding-clip backbone features, one .npy per video. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ServiceError } from '../errors.js';
import { loadModel } from '../runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../video/limits.js';
import { BUNDLED_MODELS_DIR, deviceOption, positiveInt } from './options.js';

export function addExtractFeaturesCommand(program: Command): void {
  program
    .command('extract-features')
    .description("sliding-clip backbone features of whole videos, one [T, D] float32 .npy per video (ActionFormer's input)")
    .argument('<input>', 'a video file, or a list of videos (.csv with a path column, or one path per line)')
    .requiredOption('--out <dir>', 'folder for <video>.npy and features.json')
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name|folder>', 'backbone: a model name under --models, or a model folder', 'default')
    .option('--stride <frames>', 'frames between clip starts', positiveInt, 4)
    .addOption(
      new Option('--normalization <kind>', 'unit: pixels / 255 (the official TAD extraction); imagenet: the classification mean/std')
        .choices(['unit', 'imagenet'])
        .default('unit'),
    )
    .option('--batch <n>', 'clips per ONNX Runtime run', positiveInt, 4)
    .option('--threads <n>', 'ONNX Runtime threads per run', positiveInt)
    .option('--force', 'recompute videos already extracted with the same backbone and settings')
    .addOption(deviceOption())
    .action(async (input: string, flags) => {
      const { extractFeaturesToFolder } = await import('../tasks/temporal/extract.js');
      const { defaultFeatureSettings } = await import('../tasks/temporal/features.js');
      const { readVideoList } = await import('../datasets/manifest.js');
      if (!existsSync(input)) throw new ServiceError(400, 'file_not_found', `input '${input}' does not exist`, { parameter: 'input' });
      const isList = /\.(csv|txt)$/i.test(input);
      const videos = isList ? readVideoList(resolve(input), 'input') : [resolve(input)];
      const folder = existsSync(join(flags.model, 'model.json')) ? flags.model : join(flags.models, flags.model);
      if (!existsSync(join(folder, 'model.json'))) {
        throw new ServiceError(
          404,
          'model_not_found',
          `backbone '${flags.model}' is neither a model folder nor a model under '${flags.models}'`,
          { parameter: 'model', value: flags.model },
        );
      }
      const model = await loadModel(resolve(folder), { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) });
      try {
        const settings = defaultFeatureSettings(model, { featureStride: flags.stride, normalization: flags.normalization });
        const index = await extractFeaturesToFolder({
          videos,
          model,
          out: resolve(flags.out),
          settings,
          maxBatch: flags.batch,
          limits: DEFAULT_LIMITS,
          ...(flags.force ? { force: true } : {}),
          onSkip: (id, done, total) =>
            console.log(`[${done}/${total}] ${id}: already extracted with these settings, skipped (--force recomputes)`),
          onVideo: (id, entry, done, total) =>
            console.log(
              `[${done}/${total}] ${id}: ${entry.clips} x ${entry.dim} features from ${entry.frames} frames ` +
                `(${entry.durationSec.toFixed(1)} s of video in ${entry.seconds.toFixed(1)} s, ${(entry.durationSec / entry.seconds).toFixed(2)}x real time)`,
            ),
        });
        console.log(
          `wrote ${Object.keys(index.videos).length} feature files to ${resolve(flags.out)} (backbone '${model.name}', ${settings.numFrames}-frame clips every ${settings.featureStride} frames, ${settings.size}x${settings.size}, ${settings.normalization})`,
        );
      } finally {
        await model.runner.close();
      }
    });
}
