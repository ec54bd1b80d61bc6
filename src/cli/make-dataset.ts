/** `videomae make-dataset KIND --out DIR`: synthetic datasets of real encoded videos with manifests. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ServiceError } from '../errors.js';
import { positiveInt, positiveNumber } from './options.js';

export function addMakeDatasetCommand(program: Command): void {
  program
    .command('make-dataset')
    .description('write a dataset of real encoded videos and CSV manifests')
    .argument(
      '<kind>',
      "dataset kind: 'synthetic' (trimmed clips, classes defined by motion and change over time) 'synthetic-temporal' (long videos with action instances at known times, ActivityNet-style annotations) or 'synthetic-ava' (several actors, boxes and actions per keyframe as AVA CSV)",
    )
    .requiredOption('--out <dir>', 'output folder')
    .option('--classes <names>', 'comma-separated class names (default: all)')
    .option('--videos <n>', 'synthetic: videos per class (train + val); synthetic-temporal: videos', positiveInt, 40)
    .option('--val-fraction <f>', 'share of each class held out for validation', positiveNumber, 0.25)
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 0)
    .option('--size <px>', 'frame width and height', positiveInt, 112)
    .option('--frames <n>', 'frames per video', positiveInt, 32)
    .option('--fps <n>', 'frame rate', positiveInt, 16)
    .option('--seconds <s>', 'synthetic-temporal / synthetic-ava: length of each video', positiveNumber, 40)
    .option('--actors <n>', 'synthetic-ava: actors per video', positiveInt)
    .action(async (kind: string, flags) => {
      const { ProgressBar } = await import('../train/progress.js');
      const bar = new ProgressBar();
      const onProgress = (done: number, total: number): void => bar.count('videos written', done, total);
      if (kind === 'synthetic-ava') {
        const { makeSyntheticAvaDataset } = await import('../datasets/synthetic-ava.js');
        const result = await makeSyntheticAvaDataset({
          out: resolve(flags.out),
          videos: flags.videos,
          valFraction: flags.valFraction,
          seed: flags.seed,
          size: flags.size,
          fps: flags.fps,
          seconds: flags.seconds,
          onProgress,
          ...(flags.actors ? { actors: flags.actors } : {}),
        });
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      if (kind === 'synthetic-temporal') {
        const { makeSyntheticTemporalDataset } = await import('../datasets/synthetic-temporal.js');
        const result = await makeSyntheticTemporalDataset({
          out: resolve(flags.out),
          videos: flags.videos,
          valFraction: flags.valFraction,
          seed: flags.seed,
          size: flags.size,
          fps: flags.fps,
          seconds: flags.seconds,
          onProgress,
          ...(flags.classes
            ? {
                classes: String(flags.classes)
                  .split(',')
                  .map((c) => c.trim()),
              }
            : {}),
        });
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      if (kind !== 'synthetic')
        throw new ServiceError(
          400,
          'invalid_parameter',
          `parameter 'kind' must be 'synthetic', 'synthetic-temporal' or 'synthetic-ava' (got '${kind}')`,
          { parameter: 'kind', value: kind },
        );
      const { makeSyntheticDataset } = await import('../datasets/synthetic.js');
      const result = await makeSyntheticDataset({
        out: resolve(flags.out),
        videosPerClass: flags.videos,
        valFraction: flags.valFraction,
        seed: flags.seed,
        width: flags.size,
        height: flags.size,
        frames: flags.frames,
        fps: flags.fps,
        onProgress,
        ...(flags.classes
          ? {
              classes: String(flags.classes)
                .split(',')
                .map((c) => c.trim()),
            }
          : {}),
      });
      console.log(JSON.stringify(result, null, 2));
    });
}
