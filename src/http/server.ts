/**
 * `videomae serve`: listen first (so /healthz answers at once), then load the models and turn
 * ready. `shutdown` is the graceful stop SIGTERM/SIGINT trigger: readiness goes false, new work
 * is refused, the requests in flight get a grace period to finish, running jobs are stopped and
 * left to run again at the next start, then everything closes.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_CENTERNET_OPTIONS } from '../detector/centernet.js';
import { OnnxPersonDetector } from '../detector/onnx-detector.js';
import { reapOrphanedChildren } from '../process/child-records.js';
import { childRecordDir, recordChildrenIn } from '../process/spawn-child.js';
import { createApp } from './app.js';
import { DEFAULT_JOB_OPTIONS, type JobManagerOptions } from './jobs/job-manager.js';
import { createJobManager } from './jobs/temporal-job.js';
import { RedisJobQueue } from './jobs/redis-job-queue.js';
import { SharedStore } from './jobs/shared-store.js';
import { BatchService } from './batches/batch-service.js';
import { BatchStore } from './batches/batch-record.js';
import { createLogger } from './logging.js';
import { listen } from './listen.js';
import type { RepairReport } from './jobs/job-database.js';
import { ServiceState, type ServiceConfig } from './service-state.js';
import { loadModels } from '../kinds/load-models.js';

export interface ServeOptions extends ServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly modelsDir: string;
  readonly defaultModel?: string;
  readonly threads?: number;
  /** Where jobs and their results are kept across restarts (SQLite + job inputs). */
  readonly stateDir: string;
  readonly jobs?: Partial<Omit<JobManagerOptions, 'dataDir'>>;
  /** Move a corrupt job database aside and start with no jobs (else a corrupt one stops the start). */
  readonly stateRepair?: boolean;
  /** Longest a client may take to send a request's headers (slow-header clients are cut). Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** A user-supplied ONNX person detector (YOLO-style [1, N, 6] output) and its input size. */
  readonly personDetectorOnnx?: { file: string; size: number };
  /**
   * Jobs on Redis (BullMQ) instead of the embedded SQLite queue: this replica queues and answers
   * for jobs, `videomae worker` processes run them; inputs and results in the shared store.
   */
  readonly queue?: { readonly url: string; readonly storeDir: string; readonly name?: string };
  /** POST /batches: manifest paths must lie under this folder (paths refused without it). */
  readonly batchRoot?: string;
  /** Items per batch at most (default 10000). */
  readonly maxBatchItems?: number;
}

export interface RunningServer {
  readonly server: Server;
  readonly state: ServiceState;
  readonly url: string;
  /** Resolves once the models folder is read (failed folders are in the registry's failures). */
  readonly loaded: Promise<void>;
  /** Set when --state-repair moved a corrupt job database aside. */
  readonly repaired?: RepairReport;
  /** Graceful stop: drain, wait up to `graceMs` for requests in flight, then close. */
  shutdown(graceMs: number): Promise<{ unfinished: number }>;
  close(): Promise<void>;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BATCH_ITEMS = 10_000;

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  mkdirSync(options.tempDir, { recursive: true });
  mkdirSync(options.stateDir, { recursive: true });
  const state = new ServiceState({ ...options, logger: options.logger ?? createLogger() });
  // An earlier server on this state dir killed with SIGKILL may have left ffmpeg running (where
  // setpriv's parent-death signal did not reach it): killed here, before any job runs again.
  const children = join(options.stateDir, 'children');
  const reaped = reapOrphanedChildren(children);
  if (reaped.killed.length) {
    state.logger.warn(
      { killed: reaped.killed.map((c) => ({ pid: c.pid, command: c.command[0] })) },
      `killed ${reaped.killed.length} child processes left running by an earlier server process`,
    );
  }
  const jobOptions = { ...DEFAULT_JOB_OPTIONS, ...options.jobs };
  const { manager, repaired } = options.queue
    ? {
        manager: await RedisJobQueue.connect({
          url: options.queue.url,
          store: new SharedStore(options.queue.storeDir),
          maxQueued: jobOptions.maxQueued,
          retentionMs: jobOptions.retentionMs,
          maxAttempts: jobOptions.maxAttempts,
          logger: state.logger,
          ...(options.queue.name ? { queueName: options.queue.name } : {}),
        }),
        repaired: undefined,
      }
    : createJobManager(state, options.stateDir, jobOptions, options.stateRepair);
  recordChildrenIn(children);
  // Another server in this process may have taken over the records since.
  const stopRecording = (): void => {
    if (childRecordDir() === children) recordChildrenIn(undefined);
  };
  state.jobs = manager;
  state.batches = new BatchService(
    new BatchStore(join(options.queue ? options.queue.storeDir : options.stateDir, 'batches')),
    manager,
    state,
    {
      ...(options.batchRoot ? { root: options.batchRoot } : {}),
      ...(options.urlFetch ? { urlFetch: options.urlFetch } : {}),
      maxItems: options.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS,
      tempDir: options.tempDir,
    },
  );
  if (repaired) {
    state.logger.warn(
      { ...repaired },
      `the job database was corrupt: moved aside to ${repaired.movedTo}; ${repaired.lostJobs ?? 'an unknown number of'} jobs (${repaired.lostInputs} with inputs) were lost; starting with none`,
    );
  }
  if (options.personDetectorOnnx) {
    const { file, size } = options.personDetectorOnnx;
    state.usePersonDetector(
      await OnnxPersonDetector.create(file, size, {
        ...DEFAULT_CENTERNET_OPTIONS,
        ...(options.personThreshold !== undefined ? { scoreThreshold: options.personThreshold } : {}),
        ...(options.personEnlarge !== undefined ? { enlarge: options.personEnlarge } : {}),
      }),
    );
  }
  const app = createApp(state);
  // Slow-header clients are cut after the headers timeout; Node checks it every second instead of
  // every 30. The body has no overall cap here: uploads have their own idle timeout and deadline.
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const server = createServer({ headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, app);
  // Expect: 100-continue is answered by the upload middleware, once the request is admitted.
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    await state.jobs.close();
    stopRecording();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const loaded = loadModels(
    options.modelsDir,
    { device: options.device, ...(options.threads ? { threads: options.threads } : {}) },
    options.defaultModel,
  ).then(async (registry) => {
    state.setRegistry(registry);
    // Jobs left by an earlier process run (or fail with a reason) once the models are here.
    const recovered = await state.jobs!.start();
    if (recovered.requeued.length || recovered.failed.length) {
      state.logger.info({ requeued: recovered.requeued.length, failed: recovered.failed.length }, 'jobs from before the restart');
    }
    // Batches cut short mid-submit (a restart) get their missing items now.
    const resumed = await state.batches!.resumeAll();
    if (resumed) state.logger.info({ items: resumed }, 'batch items submitted after the restart');
  });

  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    await loaded.catch(() => undefined);
    await state.jobs?.close();
    await state.closeDetector();
    await state.registryIfLoaded?.close();
    stopRecording();
  };
  const shutdown = async (graceMs: number): Promise<{ unfinished: number }> => {
    // Still listening while draining: probes see readiness false and every new request gets a
    // 503 (its body read, so the client sees the answer rather than a reset), until the
    // requests open at the start of the drain are done.
    state.beginDraining();
    state.logger.info({ graceMs, open: state.openRequests }, 'shutting down: finishing requests in flight');
    const until = Date.now() + graceMs;
    while (state.openRequests > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const unfinished = state.openRequests;
    if (unfinished > 0) state.logger.warn({ unfinished }, 'grace period over: closing the connections still open');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await loaded.catch(() => undefined);
    // Running jobs are stopped and stay 'running' in the store: the next start runs them again.
    await state.jobs?.close();
    await state.closeDetector();
    await state.registryIfLoaded?.close();
    stopRecording();
    state.logger.info({ unfinished }, 'stopped');
    return { unfinished };
  };
  return { server, state, url, loaded, shutdown, close, ...(repaired ? { repaired } : {}) };
}
