/**
 * `videomae batch MANIFEST --task T --out DIR`: a task over every video of a manifest on this
 * machine, N videos at a time, with a progress bar on stderr; results.jsonl and (extract-features)
 * features/<id>.npy in DIR. Run it again after a crash or Ctrl-C and it skips what is done.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BatchFolder } from '../batch/batch-folder.js';
import { videoIds } from '../http/batches/batch-record.js';
import { BATCH_TASK_NAMES, batchTask } from '../batch/batch-tasks.js';
import { readVideoList } from '../datasets/manifest.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import { toJobError } from '../http/jobs/job-manager.js';
import { SILENT_LOGGER } from '../http/logging.js';
import { ServiceState } from '../http/service-state.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { DEFAULT_LIMITS } from '../video/limits.js';
import { BUNDLED_MODELS_DIR, deviceOption, positiveInt } from './options.js';
import { loadRegistry } from './registry.js';

/** One line of progress: a bar on a terminal (redrawn), a line per item otherwise. */
function progressReporter(total: number, skipped: number): (done: number, failed: number, last: string) => void {
  const started = Date.now();
  const tty = process.stderr.isTTY;
  return (done, failed, last) => {
    const finished = done + skipped;
    const width = 30;
    const filled = Math.round((finished / total) * width);
    const perItem = done > 0 ? (Date.now() - started) / done : 0;
    const eta = done > 0 ? Math.round((perItem * (total - finished)) / 1000) : undefined;
    const text =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${total}` +
      `${skipped ? ` (${skipped} done before)` : ''}${failed ? `, ${failed} failed` : ''}${eta !== undefined ? `, ~${eta} s left` : ''} ${last}`;
    process.stderr.write(
      tty ? `\r${text.slice(0, (process.stderr.columns || 120) - 1).padEnd((process.stderr.columns || 120) - 1)}` : `${text}\n`,
    );
  };
}

export function addBatchCommand(program: Command): void {
  program
    .command('batch')
    .description('run a task over every video of a manifest: results.jsonl (+ features/<id>.npy) in --out; a rerun skips the videos done')
    .argument('<manifest>', 'the videos: .csv with a path column, or one path per line')
    .requiredOption('--task <task>', BATCH_TASK_NAMES.join(', '))
    .requiredOption('--out <dir>', 'folder for results.jsonl and features/<id>.npy')
    .option('--concurrency <n>', 'videos at a time', positiveInt, 1)
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name>', "the task's model (default: its default model)")
    .option('--options <json>', "the task endpoint's options as JSON, e.g. '{\"topK\": 3}'", '{}')
    .option('--max-batch <n>', 'views per ONNX Runtime run', positiveInt, 4)
    .option('--threads <n>', 'ONNX Runtime threads per run', positiveInt)
    .addOption(deviceOption())
    .action(async (manifest: string, flags) => {
      const task = batchTask(flags.task, '--task');
      let options: unknown;
      try {
        options = JSON.parse(flags.options);
      } catch {
        throw new InvalidParameterError('--options', flags.options, 'must be a JSON object');
      }
      if (typeof options !== 'object' || options === null || Array.isArray(options))
        throw new InvalidParameterError('--options', flags.options, 'must be a JSON object');
      const videos = readVideoList(resolve(manifest), 'manifest');
      const ids = videoIds(videos, (index) => `manifest line ${index + 1}`);
      const folder = new BatchFolder(resolve(flags.out));
      const done = folder.done(task.name === 'extract-features');
      const todo = videos.map((video, index) => ({ index, video, id: ids[index]! })).filter((item) => !done.has(item.id));
      const registry = await loadRegistry(
        flags.models,
        { device: flags.device as DeviceRequest, ...(flags.threads ? { threads: flags.threads } : {}) },
        flags.model,
      );
      const state = new ServiceState({
        device: flags.device as DeviceRequest,
        limits: DEFAULT_LIMITS,
        maxBatch: flags.maxBatch,
        tempDir: resolve(flags.out),
      });
      state.setRegistry(registry);
      const abort = new AbortController();
      const interrupt = (): void => abort.abort(new ServiceError(499, 'interrupted', 'interrupted; run the same command again to go on'));
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      let finished = 0;
      let failed = 0;
      const report = progressReporter(videos.length, videos.length - todo.length);
      try {
        task.checkModel(state, flags.model);
        report(0, 0, '');
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < todo.length && !abort.signal.aborted) {
            const item = todo[next++]!;
            const started = performance.now();
            const request = { ...(flags.model ? { model: flags.model } : {}), options };
            try {
              const output = await task.run(state, { file: item.video, displayName: item.video, request }, abort.signal, () => undefined);
              if (output.features) folder.writeFeatures(item.id, output.features.data, output.features.shape);
              const seconds = (performance.now() - started) / 1000;
              folder.append({ index: item.index, id: item.id, video: item.video, status: 'succeeded', result: output.result, seconds });
            } catch (error) {
              if (abort.signal.aborted) return;
              failed++;
              const seconds = (performance.now() - started) / 1000;
              folder.append({
                index: item.index,
                id: item.id,
                video: item.video,
                status: 'failed',
                error: toJobError(error, SILENT_LOGGER),
                seconds,
              });
            }
            report(++finished, failed, item.id);
          }
        };
        await Promise.all(Array.from({ length: Math.min(flags.concurrency, Math.max(1, todo.length)) }, lane));
      } finally {
        await state.closeDetector();
        await registry.close();
      }
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (abort.signal.aborted) throw abort.signal.reason;
      const skipped = videos.length - todo.length;
      console.log(
        `${task.name}: ${finished - failed} succeeded, ${failed} failed, ${skipped} done before; results in ${resolve(flags.out, 'results.jsonl')}`,
      );
      if (failed > 0) process.exitCode = 1;
    });
}
