/**
 * What the API replicas (redis-job-queue.ts) and the workers (redis-job-worker.ts) agree on: the
 * BullMQ queue's name, the job's data, the keys of a cancel, how a failure travels in BullMQ's
 * `failedReason`, and a BullMQ job read back as the service's JobRecord.
 */
import { Redis } from 'ioredis';
import type { Job, JobState } from 'bullmq';
import { UnavailableError } from '../../errors.js';
import type { JobError, JobKind, JobRecord, JobStatus } from './job-store.js';
import type { SharedStore } from './shared-store.js';

export const DEFAULT_QUEUE_NAME = 'videomae-jobs';

/** A BullMQ job's data: what a worker needs to run it. */
export interface QueuedJobData {
  readonly kind: JobKind;
  readonly request: Record<string, unknown>;
  /** The input in the shared store. */
  readonly inputPath: string;
}

/** A completed job's return value: which attempt's folder holds its result. */
export interface QueuedJobResult {
  readonly attempt: string;
}

/** The progress a worker reports (BullMQ's job.progress). */
export interface QueuedJobProgress {
  readonly stage: string | null;
  readonly fraction: number;
  readonly etaSec: number | null;
}

/** A cancelled job's record, kept for its retention (BullMQ's own job may be gone or still unwinding). */
export const cancelKey = (queueName: string, id: string): string => `videomae:${queueName}:cancelled:${id}`;
/** Where a cancel is announced: the worker running the job stops it, the replicas tell its watchers. */
export const cancelChannel = (queueName: string): string => `videomae:${queueName}:cancel`;

/** Redis errors surface as a 503 naming the queue, not as an internal error. */
export function queueUnavailable(error: unknown): UnavailableError {
  return new UnavailableError('queue_unavailable', `the job queue (Redis) cannot be reached: ${(error as Error).message}`, 5);
}

/** HOST:PORT of a redis:// URL, for messages (never its password). */
export function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** A connection for BullMQ; blocking ones (workers, event readers) must retry forever. */
export function redisConnection(url: string, blocking: boolean): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UnavailableError('queue_unavailable', `--queue '${url}' is not a redis:// URL`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new UnavailableError('queue_unavailable', `--queue '${url}' must start with redis:// or rediss://`);
  return new Redis(
    url,
    blocking ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false },
  );
}

/** Waits until `connection` is ready, or fails with a 503 naming the URL. */
export async function connected(connection: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new UnavailableError('queue_unavailable', `the job queue at ${url} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      connection.off('ready', onReady);
    };
    connection.on('ready', onReady);
  });
}

export function encodeJobError(error: JobError): string {
  return JSON.stringify(error);
}

/** A `failedReason` back as a JobError; BullMQ's own reasons (a job stalled too often) are interruptions. */
export function decodeJobError(id: string, reason: string | undefined): JobError {
  try {
    const parsed = JSON.parse(reason ?? '') as Partial<JobError>;
    if (typeof parsed.status === 'number' && typeof parsed.code === 'string' && typeof parsed.message === 'string')
      return { status: parsed.status, code: parsed.code, message: parsed.message };
  } catch {
    /* not ours */
  }
  return {
    status: 500,
    code: 'job_interrupted',
    message: `job ${id} was interrupted (its worker stopped) more often than it may be: ${reason ?? 'no reason given'}`,
  };
}

const STATUS_OF: Record<JobState | 'unknown', JobStatus | undefined> = {
  waiting: 'queued',
  'waiting-children': 'queued',
  delayed: 'queued',
  prioritized: 'queued',
  active: 'running',
  completed: 'succeeded',
  failed: 'failed',
  unknown: undefined,
};

export function statusOf(state: JobState | 'unknown'): JobStatus | undefined {
  return STATUS_OF[state];
}

/** A BullMQ job in `state` as the service's record (its result read from the store). */
export function toJobRecord(job: Job, status: JobStatus, store: SharedStore, retentionMs: number): JobRecord {
  const data = job.data as QueuedJobData;
  const id = job.id!;
  const progress = (typeof job.progress === 'object' && job.progress !== null ? job.progress : {}) as Partial<QueuedJobProgress>;
  const finished = status === 'succeeded' || status === 'failed';
  const attempt = status === 'succeeded' ? (job.returnvalue as QueuedJobResult | null)?.attempt : undefined;
  return {
    id,
    kind: data.kind,
    status,
    stage: status === 'running' ? (progress.stage ?? null) : null,
    progress: status === 'succeeded' ? 1 : status === 'running' ? (progress.fraction ?? 0) : 0,
    etaSec: status === 'running' ? (progress.etaSec ?? null) : status === 'succeeded' ? 0 : null,
    createdAt: job.timestamp,
    startedAt: status === 'queued' ? null : (job.processedOn ?? null),
    finishedAt: finished ? (job.finishedOn ?? null) : null,
    expiresAt: finished && job.finishedOn ? job.finishedOn + retentionMs : null,
    request: data.request,
    inputPath: finished ? null : data.inputPath,
    result: attempt ? (store.readResult(id, attempt) ?? null) : null,
    error: status === 'failed' ? decodeJobError(id, job.failedReason) : null,
    attempts: job.attemptsStarted ?? job.attemptsMade,
    filesDir: store.attemptDir(id, attempt ?? 'none'),
  };
}

/** Waits for `work` at most `ms` (a close must not hang on a Redis that is gone). */
export async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
