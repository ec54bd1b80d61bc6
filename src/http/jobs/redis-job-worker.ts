/**
 * `videomae worker`: takes jobs from the Redis queue (BullMQ) and runs them with the same runner
 * as the embedded queue, reading inputs from and writing results to the shared store. Each run
 * writes into its own attempt folder and names it in its return value; BullMQ accepts the return
 * value only from the worker that still holds the job's lock, so a job whose first worker was
 * killed (and recovered by another through the stalled check) keeps exactly one result.
 * A cancel announced on the cancel channel aborts the run (ffmpeg killed, inference stopped).
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { SILENT_LOGGER, type Logger } from '../logging.js';
import { toJobError, type JobRunner } from './job-manager.js';
import type { JobError, JobRecord } from './job-store.js';
import {
  atMost,
  cancelChannel,
  cancelKey,
  connected,
  DEFAULT_QUEUE_NAME,
  encodeJobError,
  redisConnection,
  type QueuedJobData,
  type QueuedJobProgress,
  type QueuedJobResult,
} from './redis-jobs.js';
import type { SharedStore } from './shared-store.js';

export interface JobWorkerOptions {
  readonly url: string;
  readonly store: SharedStore;
  /** Jobs this worker runs at once. */
  readonly concurrency: number;
  /** Shown as the job's `processedBy` (default: host and pid). */
  readonly name?: string;
  /** How long a job's lock lasts without renewal: a worker silent for longer is taken for dead. */
  readonly lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died. */
  readonly stalledIntervalMs?: number;
  /** Times a job may be found stalled before it fails (job_interrupted). */
  readonly maxStalledCount?: number;
  readonly logger?: Logger;
  readonly queueName?: string;
}

export const DEFAULT_WORKER_TIMING = { lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 1 } as const;

/** Two progress writes a second are plenty; a new stage is written at once. */
const PROGRESS_INTERVAL_MS = 500;

export class RedisJobWorker {
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
  ) {}

  static async start(runner: JobRunner, options: JobWorkerOptions): Promise<RedisJobWorker> {
    const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    const logger = options.logger ?? SILENT_LOGGER;
    const redis = redisConnection(options.url, false);
    const subscriber = redisConnection(options.url, true);
    const workerConnection = redisConnection(options.url, true);
    const quiet = (): void => undefined;
    for (const c of [redis, subscriber, workerConnection]) c.on('error', quiet);
    await Promise.all([connected(redis, options.url), connected(subscriber, options.url)]);
    const cancelled = (id: string): Promise<number> => redis.exists(cancelKey(queueName, id));
    const timing = {
      lockDurationMs: options.lockDurationMs ?? DEFAULT_WORKER_TIMING.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs ?? DEFAULT_WORKER_TIMING.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount ?? DEFAULT_WORKER_TIMING.maxStalledCount,
    };
    const worker = new Worker(
      queueName,
      (job: Job, _token?: string, signal?: AbortSignal) => runOne(job, signal, runner, options.store, cancelled, logger),
      {
        connection: workerConnection,
        concurrency: options.concurrency,
        name: options.name ?? `${process.env.HOSTNAME ?? 'worker'}-${process.pid}`,
        lockDuration: timing.lockDurationMs,
        stalledInterval: timing.stalledIntervalMs,
        maxStalledCount: timing.maxStalledCount,
        autorun: false,
      },
    );
    worker.on('error', (error) => logger.warn({ err: error }, 'worker: Redis error'));
    worker.on('completed', (job: Job, result: QueuedJobResult) => {
      options.store.keepOnly(job.id!, result.attempt);
      logger.info({ jobId: job.id, attempt: result.attempt }, 'job succeeded');
    });
    worker.on('failed', (job: Job | undefined, error: Error) => {
      if (!job) return;
      void job.getState().then(
        (state) => {
          // A job to be retried keeps its input; a finished one keeps nothing.
          if (state === 'failed') options.store.keepOnly(job.id!, null);
          logger.warn(
            { jobId: job.id, state, reason: error.message.slice(0, 300) },
            state === 'failed' ? 'job failed' : 'job failed; retried',
          );
        },
        () => undefined,
      );
    });
    await subscriber.subscribe(cancelChannel(queueName));
    subscriber.on('message', (_channel: string, id: string) => {
      if (worker.cancelJob(id, 'cancelled')) logger.info({ jobId: id }, 'job cancelled while running here');
    });
    void worker.run();
    await worker.waitUntilReady();
    return new RedisJobWorker(worker, redis, subscriber);
  }

  /** Stops taking jobs and waits for the running ones (up to `graceMs`; the rest are recovered by another worker). */
  async close(graceMs = 30_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.subscriber.disconnect();
    await atMost(this.worker.close(), graceMs);
    // Jobs still running after the grace period stop here; another worker's stalled check runs them again.
    await atMost(this.worker.close(true), 2000);
    await atMost(this.worker.disconnect(), 1000);
    this.redis.disconnect();
  }
}

const CANCELLED = (id: string): JobError => ({ status: 499, code: 'job_cancelled', message: `job ${id} was cancelled` });

/** One run of one job: its own attempt folder, progress to BullMQ, its result into the store. */
async function runOne(
  job: Job,
  signal: AbortSignal | undefined,
  runner: JobRunner,
  store: SharedStore,
  cancelled: (id: string) => Promise<number>,
  logger: Logger,
): Promise<QueuedJobResult> {
  const id = job.id!;
  const data = job.data as QueuedJobData;
  if (await cancelled(id)) throw new UnrecoverableError(encodeJobError(CANCELLED(id)));
  const attempt = `${job.attemptsStarted}-${randomUUID().slice(0, 8)}`;
  const filesDir = store.attemptDir(id, attempt);
  const startedAt = Date.now();
  await job.updateProgress({ stage: null, fraction: 0, etaSec: null } satisfies QueuedJobProgress);
  const record: JobRecord = {
    id,
    kind: data.kind,
    status: 'running',
    stage: null,
    progress: 0,
    etaSec: null,
    createdAt: job.timestamp,
    startedAt,
    finishedAt: null,
    expiresAt: null,
    request: data.request,
    inputPath: data.inputPath,
    result: null,
    error: null,
    attempts: job.attemptsStarted,
    filesDir,
  };
  let lastWrite = 0;
  let stage: string | null = null;
  const log = logger.child({ jobId: id, kind: data.kind, attempt });
  log.info('job started');
  const aborted = signal ?? new AbortController().signal;
  try {
    const result = await runner(
      record,
      aborted,
      (p) => {
        const now = Date.now();
        if (now - lastWrite < PROGRESS_INTERVAL_MS && p.fraction < 1 && p.stage === stage) return;
        lastWrite = now;
        stage = p.stage;
        const elapsed = (now - startedAt) / 1000;
        const eta = p.fraction > 0.02 ? Math.round((elapsed / p.fraction) * (1 - p.fraction) * 10) / 10 : null;
        void job
          .updateProgress({ stage: p.stage, fraction: p.fraction, etaSec: eta } satisfies QueuedJobProgress)
          .catch((error: unknown) => log.warn({ err: error }, 'could not record progress'));
      },
      filesDir,
    );
    store.writeResult(id, attempt, result);
    return { attempt };
  } catch (error) {
    rmSync(filesDir, { recursive: true, force: true });
    if (aborted.aborted) throw new UnrecoverableError(encodeJobError(CANCELLED(id)));
    const jobError = toJobError(error, log);
    // Bad input fails the same way every time: only the service's own failures are retried.
    if (jobError.status < 500) throw new UnrecoverableError(encodeJobError(jobError));
    throw new Error(encodeJobError(jobError));
  }
}
