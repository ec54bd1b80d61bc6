/**
 * `videomae detect-features FEATURES.npy --model DIR --fps F --duration SECONDS [--feat-stride N] [--num-frames N]`:
 * temporal action detection on precomputed features ([T, C] float32 .npy, the official THUMOS
 * layout), printing the same JSON as a POST /detect-temporal result with features. The model
 * may be features-only (an imported ActionFormer) or one with a backbone.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ServiceError } from '../errors.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { deviceOption, positiveInt, positiveNumber } from './options.js';

interface DetectFeaturesFlags {
  model: string;
  fps?: number;
  duration?: number;
  featStride?: number;
  numFrames?: number;
  scoreThreshold?: number;
  maxSegments?: number;
  device: DeviceRequest;
  threads?: number;
}

export function addDetectFeaturesCommand(program: Command): void {
  program
    .command('detect-features')
    .description(
      'detect actions in time on precomputed features (a [T, C] float32 .npy) with a temporal model folder; prints the /detect-temporal result JSON',
    )
    .argument('<features>', 'the .npy of features, [T, C] (row t: the clip starting at frame t x feat-stride)')
    .requiredOption('--model <dir>', 'temporal model folder (e.g. one made by import-checkpoint --kind actionformer)')
    .option('--fps <f>', "frames per second of the video the features come from (default: the model's default fps, if any)", positiveNumber)
    .option('--duration <seconds>', 'duration of that video in seconds (segments are clamped to it)', positiveNumber)
    .option('--feat-stride <n>', "frames between consecutive features (default: the model's)", positiveInt)
    .option('--num-frames <n>', "frames per feature clip (default: the model's)", positiveInt)
    .option('--score-threshold <s>', 'leave out segments scoring below this', Number.parseFloat)
    .option('--max-segments <n>', 'at most this many segments', positiveInt)
    .option('--threads <n>', 'ONNX Runtime threads per run', positiveInt)
    .addOption(deviceOption())
    .action(async (features: string, flags: DetectFeaturesFlags) => {
      if (!existsSync(features))
        throw new ServiceError(400, 'file_not_found', `features '${features}' do not exist`, { parameter: 'features' });
      const [{ loadTemporalModel }, { detectFeatures }] = await Promise.all([
        import('../runtime/model-registry.js'),
        import('../tasks/temporal/detect-features.js'),
      ]);
      const detector = await loadTemporalModel(resolve(flags.model), {
        device: flags.device,
        ...(flags.threads ? { threads: flags.threads } : {}),
      });
      try {
        const result = await detectFeatures(
          { file: resolve(features), displayName: features },
          detector,
          {
            ...(flags.fps !== undefined ? { fps: flags.fps } : {}),
            ...(flags.duration !== undefined ? { duration: flags.duration } : {}),
            ...(flags.featStride !== undefined ? { featStride: flags.featStride } : {}),
            ...(flags.numFrames !== undefined ? { numFrames: flags.numFrames } : {}),
          },
          {
            ...(flags.scoreThreshold !== undefined ? { scoreThreshold: flags.scoreThreshold } : {}),
            ...(flags.maxSegments !== undefined ? { maxSegments: flags.maxSegments } : {}),
          },
          { parameter: 'features' },
        );
        console.log(JSON.stringify(result, null, 2));
      } finally {
        await detector.runner.close();
      }
    });
}
