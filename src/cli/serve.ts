/**
 * `videomae serve`: the HTTP service, its limits, admission, jobs and person detector from flags;
 * logs readiness and shuts down on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { InvalidParameterError } from '../errors.js';
import { DEFAULT_ADMISSION } from '../http/admission.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../http/app.js';
import { DEFAULT_URL_LIMITS } from '../http/fetch-url.js';
import { DEFAULT_JOB_OPTIONS } from '../http/jobs/job-manager.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_BATCH_ITEMS, startServer } from '../http/server.js';
import { DEFAULT_UPLOAD_IDLE_TIMEOUT_MS } from '../http/upload.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { addLimitOptions, BUNDLED_MODELS_DIR, deviceOption, limitsFrom, positiveInt, positiveNumber } from './options.js';

/** API keys from a file (one per line, # comments) and VIDEOMAE_API_KEYS (comma-separated). */
function readApiKeys(file: string | undefined): string[] {
  const fromFile = file ? readFileSync(resolve(file), 'utf8').split('\n') : [];
  const fromEnv = (process.env.VIDEOMAE_API_KEYS ?? '').split(',');
  const keys = [...fromFile, ...fromEnv].map((k) => k.trim()).filter((k) => k && !k.startsWith('#'));
  const short = keys.find((k) => k.length < 16);
  if (short !== undefined) throw new InvalidArgumentError('API keys must be at least 16 characters long');
  return keys;
}

export function addServeCommand(program: Command): void {
  addLimitOptions(
    program
      .command('serve')
      .description('start the HTTP service')
      .option('--host <host>', 'interface to listen on', '0.0.0.0')
      .option('--port <port>', 'port to listen on', (v) => Number.parseInt(v, 10), 8080)
      .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
      .option('--default-model <name>', 'model used when a request names none')
      .addOption(deviceOption())
      .option('--threads <n>', 'ONNX Runtime threads per run (default: all cores)', positiveInt)
      .option('--max-batch <n>', 'views per ONNX Runtime run', positiveInt, 4)
      .option('--batch-across-requests', 'let concurrent /classify requests share ONNX Runtime runs')
      .option('--batch-max <n>', 'with --batch-across-requests: views per shared run at most', positiveInt, 16)
      .option(
        '--batch-wait-ms <ms>',
        'with --batch-across-requests: how long an idle model waits for more views',
        (v) => {
          const n = Number(v);
          if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of milliseconds`);
          return n;
        },
        5,
      )
      .option(
        '--request-timeout <seconds>',
        'deadline of every request (504 and its work stopped beyond; 0 = none)',
        (v) => {
          const n = Number(v);
          if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of seconds`);
          return n;
        },
        DEFAULT_REQUEST_TIMEOUT_MS / 1000,
      )
      .option('--max-in-flight <n>', '/classify requests decoding and inferring at once', positiveInt, DEFAULT_ADMISSION.maxInFlight)
      .option(
        '--max-waiting <n>',
        '/classify requests waiting for a turn (503 + Retry-After beyond)',
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a whole number`);
          return n;
        },
        DEFAULT_ADMISSION.maxQueued,
      )
      .option(
        '--url-allow-host <host>',
        'fetch videos by URL from this host (repeat; *.example.com for subdomains); off when none',
        (v: string, all: string[]) => [...all, v],
        [] as string[],
      )
      .option('--url-timeout <seconds>', 'longest a URL fetch may take', positiveNumber, DEFAULT_URL_LIMITS.timeoutMs / 1000)
      .option('--shutdown-grace <seconds>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish', positiveNumber, 30)
      .option(
        '--api-keys-file <file>',
        'require Authorization: Bearer <key> with one of the keys in this file (one per line; also VIDEOMAE_API_KEYS, comma-separated)',
      )
      .option('--retry-after <seconds>', 'Retry-After of a 503 at capacity', positiveInt, DEFAULT_ADMISSION.retryAfterSec)
      .option('--temp-dir <dir>', 'where uploads are spooled', join(tmpdir(), 'videomae'))
      .option('--state-dir <dir>', 'where jobs, their inputs and results are kept across restarts', join(tmpdir(), 'videomae-state'))
      .option('--state-repair', 'if the job database is corrupt, move it aside and start with no jobs (says how many were lost)')
      .option(
        '--queue <url>',
        'jobs on Redis (BullMQ) at redis://HOST:PORT, run by `videomae worker`s, instead of the embedded SQLite queue',
      )
      .option('--store <dir>', 'with --queue: the shared store of job inputs and results (a folder every replica and worker mounts)')
      .option('--queue-name <name>', 'with --queue: BullMQ queue name (several services on one Redis)')
      .option('--batch-root <dir>', 'POST /batches may name video paths under this folder (none without it)')
      .option('--max-batch-items <n>', 'videos per batch at most', positiveInt, DEFAULT_MAX_BATCH_ITEMS)
      .option(
        '--upload-idle-timeout <seconds>',
        'cut an upload that sends no byte for this long (408; 0 = never)',
        (v) => {
          const n = Number(v);
          if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of seconds`);
          return n;
        },
        DEFAULT_UPLOAD_IDLE_TIMEOUT_MS / 1000,
      )
      .option(
        '--header-timeout <seconds>',
        'cut a client that takes longer than this to send its request headers',
        positiveNumber,
        DEFAULT_HEADERS_TIMEOUT_MS / 1000,
      )
      .option('--max-queued-jobs <n>', 'jobs queued or running at most (503 queue_full beyond)', positiveInt, DEFAULT_JOB_OPTIONS.maxQueued)
      .option(
        '--job-retention <seconds>',
        'how long finished jobs and their results are kept',
        positiveNumber,
        DEFAULT_JOB_OPTIONS.retentionMs / 1000,
      )
      .option('--job-wait <seconds>', 'longest a ?wait=true request waits for its job', positiveNumber, 60)
      .option('--person-threshold <score>', 'person boxes the detector keeps (CenterNet score)', Number.parseFloat, 0.3)
      .option(
        '--person-detector <file.onnx>',
        'an ONNX person detector instead of CenterNet: input [1, 3, S, S] RGB / 255, output [1, N, 6] rows x1, y1, x2, y2, score, class (0 = person) in input pixels',
      )
      .option('--person-detector-size <px>', 'input size S of --person-detector', positiveInt, 640)
      .option('--person-enlarge <factor>', 'scale detected person boxes about their centre (1 = as detected)', positiveNumber, 1),
  ).action(async (flags) => {
    if (flags.queue && !flags.store)
      throw new InvalidParameterError(
        '--store',
        undefined,
        'is needed with --queue: the folder of job inputs and results every replica and worker shares',
      );
    if (flags.store && !flags.queue)
      throw new InvalidParameterError('--store', flags.store, 'is the shared store of the Redis queue: give --queue redis://HOST:PORT too');
    const running = await startServer({
      ...(flags.queue
        ? { queue: { url: flags.queue, storeDir: resolve(flags.store), ...(flags.queueName ? { name: flags.queueName } : {}) } }
        : {}),
      ...(flags.batchRoot ? { batchRoot: resolve(flags.batchRoot) } : {}),
      maxBatchItems: flags.maxBatchItems,
      stateDir: resolve(flags.stateDir),
      stateRepair: Boolean(flags.stateRepair),
      uploadIdleTimeoutMs: flags.uploadIdleTimeout * 1000,
      headersTimeoutMs: flags.headerTimeout * 1000,
      jobs: { maxQueued: flags.maxQueuedJobs, retentionMs: flags.jobRetention * 1000 },
      jobWaitMs: flags.jobWait * 1000,
      personThreshold: flags.personThreshold,
      personEnlarge: flags.personEnlarge,
      ...(flags.personDetector ? { personDetectorOnnx: { file: resolve(flags.personDetector), size: flags.personDetectorSize } } : {}),
      host: flags.host,
      port: flags.port,
      modelsDir: resolve(flags.models),
      defaultModel: flags.defaultModel,
      device: flags.device as DeviceRequest,
      threads: flags.threads,
      maxBatch: flags.maxBatch,
      tempDir: flags.tempDir,
      limits: limitsFrom(flags),
      requestTimeoutMs: flags.requestTimeout * 1000,
      admission: { maxInFlight: flags.maxInFlight, maxQueued: flags.maxWaiting, retryAfterSec: flags.retryAfter },
      apiKeys: readApiKeys(flags.apiKeysFile),
      ...(flags.batchAcrossRequests ? { batching: { maxBatch: flags.batchMax, maxWaitMs: flags.batchWaitMs } } : {}),
      ...(flags.urlAllowHost.length
        ? {
            urlFetch: {
              allowHosts: flags.urlAllowHost,
              maxBytes: Math.round(flags.maxUploadMb * 2 ** 20),
              timeoutMs: flags.urlTimeout * 1000,
              maxRedirects: DEFAULT_URL_LIMITS.maxRedirects,
            },
          }
        : {}),
    });
    const log = running.state.logger;
    log.info({ url: running.url, models: resolve(flags.models) }, `listening on ${running.url}`);
    running.loaded.then(
      () => {
        const registry = running.state.registry;
        const models = [...registry.list(), ...registry.listTemporal(), ...registry.listSpatiotemporal()];
        for (const failure of registry.failures) log.error(failure, `model folder failed to load: ${failure.folder}`);
        log.info(
          { models: models.map((m) => ({ name: m.name, provider: m.runner.provider })), failed: registry.failures.length },
          registry.failures.length ? 'serving, not ready' : 'ready',
        );
      },
      (error: Error) => {
        log.fatal({ err: error }, 'cannot load models');
        void running.close().finally(() => process.exit(1));
      },
    );
    const stop = (signal: string): void => {
      log.info({ signal }, 'signal received');
      void running.shutdown(flags.shutdownGrace * 1000).then(
        () => process.exit(0),
        (error: Error) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
