/**
 * `videomae worker --queue redis://... --store DIR`: runs the jobs the API replicas queue on
 * Redis, on this machine's models; logs 'ready' once it takes jobs, and on SIGTERM/SIGINT stops
 * taking jobs, lets the running ones finish (up to the grace period) and exits.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { RedisJobWorker, DEFAULT_WORKER_TIMING } from '../http/jobs/redis-job-worker.js';
import { SharedStore } from '../http/jobs/shared-store.js';
import { temporalJobRunner } from '../http/jobs/temporal-job.js';
import { createLogger } from '../http/logging.js';
import { ServiceState } from '../http/service-state.js';
import { loadModels } from '../kinds/load-models.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { addLimitOptions, BUNDLED_MODELS_DIR, deviceOption, limitsFrom, positiveInt, positiveNumber } from './options.js';

export function addWorkerCommand(program: Command): void {
  addLimitOptions(
    program
      .command('worker')
      .description('run the jobs queued on Redis by `serve --queue` replicas')
      .requiredOption('--queue <url>', 'the job queue: redis://HOST:PORT')
      .requiredOption('--store <dir>', 'the shared store of job inputs and results (the same folder the replicas use)')
      .option('--queue-name <name>', 'BullMQ queue name (several services on one Redis)')
      .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
      .option('--default-model <name>', 'model used when a job names none')
      .addOption(deviceOption())
      .option('--threads <n>', 'ONNX Runtime threads per run (default: all cores)', positiveInt)
      .option('--max-batch <n>', 'views per ONNX Runtime run', positiveInt, 4)
      .option('--concurrency <n>', 'jobs run at once', positiveInt, 1)
      .option('--name <name>', "this worker's name in the jobs it runs (default: host and pid)")
      .option(
        '--lock-duration <seconds>',
        'a worker silent this long is taken for dead and its job runs elsewhere',
        positiveNumber,
        DEFAULT_WORKER_TIMING.lockDurationMs / 1000,
      )
      .option(
        '--stalled-interval <seconds>',
        'how often to look for jobs whose worker died',
        positiveNumber,
        DEFAULT_WORKER_TIMING.stalledIntervalMs / 1000,
      )
      .option('--max-stalled <n>', 'times a job may lose its worker before it fails', positiveInt, DEFAULT_WORKER_TIMING.maxStalledCount)
      .option('--temp-dir <dir>', 'scratch space for decoding', join(tmpdir(), 'videomae-worker'))
      .option('--person-threshold <score>', 'person boxes the detector keeps (CenterNet score)', Number.parseFloat, 0.3)
      .option('--person-enlarge <factor>', 'scale detected person boxes about their centre (1 = as detected)', positiveNumber, 1)
      .option('--shutdown-grace <seconds>', 'on SIGTERM/SIGINT, how long running jobs may take to finish', positiveNumber, 30),
  ).action(async (flags) => {
    const logger = createLogger();
    const registry = await loadModels(
      resolve(flags.models),
      { device: flags.device as DeviceRequest, ...(flags.threads ? { threads: flags.threads } : {}) },
      flags.defaultModel,
    );
    for (const failure of registry.failures) logger.error(failure, `model folder failed to load: ${failure.folder}`);
    const state = new ServiceState({
      device: flags.device as DeviceRequest,
      limits: limitsFrom(flags),
      maxBatch: flags.maxBatch,
      tempDir: flags.tempDir,
      personThreshold: flags.personThreshold,
      personEnlarge: flags.personEnlarge,
      logger,
    });
    state.setRegistry(registry);
    const worker = await RedisJobWorker.start(temporalJobRunner(state), {
      url: flags.queue,
      store: new SharedStore(resolve(flags.store)),
      concurrency: flags.concurrency,
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.queueName ? { queueName: flags.queueName } : {}),
      lockDurationMs: flags.lockDuration * 1000,
      stalledIntervalMs: flags.stalledInterval * 1000,
      maxStalledCount: flags.maxStalled,
      logger,
    });
    logger.info({ queue: flags.queue, store: resolve(flags.store), name: flags.name, concurrency: flags.concurrency }, 'ready');
    const stop = (signal: string): void => {
      logger.info({ signal }, 'signal received: finishing the running jobs');
      void worker
        .close(flags.shutdownGrace * 1000)
        .then(() => state.closeDetector())
        .then(() => registry.close())
        .then(
          () => process.exit(0),
          (error: Error) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
