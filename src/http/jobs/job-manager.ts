/**
 * Runs jobs one at a time (configurable) from a bounded queue, records every transition in the
 * JobStore, and keeps each job's input under `<dataDir>/<id>/` until it finishes. On start it
 * recovers what a previous process left: an interrupted job runs again once (its input is still
 * there), otherwise it is marked failed with the reason; finished jobs are forgotten after the
 * retention time. DELETE cancels through an AbortSignal, which kills ffmpeg and stops inference.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { AbortedError, InsufficientStorageError, isStorageFull, NotFoundError, ServiceError, UnavailableError } from '../../errors.js';
import { ACTIVE_STATUSES, type JobError, type JobKind, type JobPatch, type JobRecord, type JobStatus, type JobStore } from './job-store.js';
import { SILENT_LOGGER, type Logger } from '../logging.js';
import { copyFile, moveFile } from './move-file.js';
import { JobWatchers } from './job-watchers.js';
import type { JobEvent, JobQueue, SubmitOptions } from './job-queue.js';

export interface JobProgress {
  readonly stage: string;
  readonly fraction: number;
}

/**
 * Does the work of one job; throws to fail it. `filesDir` is where it may leave files for the
 * client (a rendered video): kept while a succeeded job is, removed when the job does not succeed.
 */
export type JobRunner = (
  job: JobRecord,
  signal: AbortSignal,
  onProgress: (progress: JobProgress) => void,
  filesDir: string,
) => Promise<unknown>;

export type { JobEvent } from './job-queue.js';

export interface JobManagerOptions {
  readonly dataDir: string;
  /** Jobs queued or running at most; beyond it submissions get 503 queue_full with Retry-After. */
  readonly maxQueued: number;
  /** Jobs running at the same time. */
  readonly concurrency: number;
  /** How long a finished job and its result are kept. */
  readonly retentionMs: number;
  /** Times a job may be started; a restart re-runs an interrupted job while under this. */
  readonly maxAttempts: number;
  /** Where job events and unexpected errors are logged (default: nowhere). */
  readonly logger?: Logger;
  /** Where finished jobs keep their files, one folder per job (default: `job-files` beside dataDir). */
  readonly filesDir?: string;
}

export const DEFAULT_JOB_OPTIONS: Omit<JobManagerOptions, 'dataDir'> = {
  maxQueued: 16,
  concurrency: 1,
  retentionMs: 24 * 3600_000,
  maxAttempts: 2,
};

/** 503 with Retry-After, like the other refusals at capacity. */
export class QueueFullError extends UnavailableError {
  constructor(limit: number) {
    super('queue_full', `the job queue is full (${limit} jobs queued or running); retry later`, 10);
  }
}

/** The stored input's file name: `input` and the upload's extension (tidied), which ffmpeg's probe may use. */
export function jobInputName(request: Record<string, unknown>): string {
  return `input${extname(String(request.fileName ?? ''))
    .replace(/[^.A-Za-z0-9]/g, '')
    .slice(0, 8)}`;
}

export class JobManager implements JobQueue {
  private readonly running = new Map<string, AbortController>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly watchers: JobWatchers;
  private readonly filesRoot: string;
  private lastWrite = new Map<string, number>();
  private closed = false;
  private started = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly store: JobStore,
    private readonly runner: JobRunner,
    readonly options: JobManagerOptions,
  ) {
    this.watchers = new JobWatchers(options.logger ?? SILENT_LOGGER);
    mkdirSync(options.dataDir, { recursive: true });
    this.filesRoot = options.filesDir ?? join(dirname(options.dataDir), 'job-files');
    mkdirSync(this.filesRoot, { recursive: true });
    this.sweeper = setInterval(() => this.purgeExpired(), Math.min(60_000, Math.max(1000, options.retentionMs / 4)));
    this.sweeper.unref();
  }

  /**
   * Takes over what an earlier process left, then starts running queued jobs. Call once the
   * models are loaded.
   */
  start(): { requeued: string[]; failed: string[] } {
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const job of this.store.withStatus(['running'])) {
      if (job.inputPath && existsSync(job.inputPath) && job.attempts < this.options.maxAttempts) {
        this.store.update(job.id, { status: 'queued', stage: null, progress: 0, etaSec: null });
        requeued.push(job.id);
      } else {
        const reason = job.inputPath && existsSync(job.inputPath) ? `it was interrupted ${job.attempts} times` : 'its input is gone';
        this.finish(job.id, 'failed', {
          error: {
            status: 500,
            code: 'job_interrupted',
            message: `job ${job.id} was interrupted by a restart of the service and cannot run again: ${reason}`,
          },
        });
        failed.push(job.id);
      }
    }
    for (const job of this.store.withStatus(['queued'])) {
      if (!job.inputPath || !existsSync(job.inputPath)) {
        this.finish(job.id, 'failed', {
          error: { status: 500, code: 'job_interrupted', message: `job ${job.id} was queued before a restart, and its input is gone` },
        });
        failed.push(job.id);
      }
    }
    this.removeOrphanFolders();
    this.started = true;
    this.purgeExpired();
    this.pump();
    return { requeued, failed };
  }

  /**
   * Queues a job; moves `inputFile` into the job's folder (so it outlives the request). When the
   * disk is full the answer is 507 and nothing of the job is left: no folder, no record.
   */
  submit(request: Record<string, unknown>, inputFile: string, kind: JobKind = 'temporal-detection', submit: SubmitOptions = {}): JobRecord {
    if (this.closed) throw new ServiceError(503, 'shutting_down', 'the service is shutting down and takes no new jobs');
    const existing = submit.id !== undefined ? this.store.get(submit.id) : undefined;
    if (existing) return existing;
    if (!submit.unbounded && this.store.countWithStatus(ACTIVE_STATUSES) >= this.options.maxQueued)
      throw new QueueFullError(this.options.maxQueued);
    const id = submit.id ?? randomUUID();
    const dir = join(this.options.dataDir, id);
    const inputPath = join(dir, jobInputName(request));
    const job: JobRecord = {
      id,
      kind,
      status: 'queued',
      stage: null,
      progress: 0,
      etaSec: null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      request,
      inputPath,
      result: null,
      error: null,
      attempts: 0,
    };
    try {
      mkdirSync(dir, { recursive: true });
      (submit.copyInput ? copyFile : moveFile)(inputFile, inputPath);
      this.store.insert(job);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (isStorageFull(error)) throw new InsufficientStorageError('the job and its input');
      throw error;
    }
    this.pump();
    return this.store.get(id)!;
  }

  get(id: string): JobRecord {
    const job = this.store.get(id);
    if (!job)
      throw new NotFoundError('job_not_found', `job '${id}' does not exist (or its result has expired)`, { parameter: 'id', value: id });
    return job;
  }

  /** Cancels a queued or running job (its ffmpeg and inference stop); a finished one is deleted. */
  cancel(id: string): { job: JobRecord; deleted: boolean } {
    const job = this.get(id);
    if (job.status === 'queued') {
      this.finish(id, 'cancelled', { error: { status: 499, code: 'job_cancelled', message: `job ${id} was cancelled before it started` } });
      return { job: this.get(id), deleted: false };
    }
    if (job.status === 'running') {
      this.running.get(id)?.abort(new AbortedError(`job ${id} was cancelled`));
      this.finish(id, 'cancelled', {
        error: { status: 499, code: 'job_cancelled', message: `job ${id} was cancelled while running (${job.stage ?? 'starting'})` },
      });
      return { job: this.get(id), deleted: false };
    }
    this.remove(job);
    return { job, deleted: true };
  }

  /** Resolves with the job once it is finished, or as it is after `timeoutMs`. */
  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobRecord> {
    const job = this.get(id);
    if (!ACTIVE_STATUSES.includes(job.status)) return job;
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.get(id);
  }

  /** Jobs kept, by status (for metrics). */
  countsByStatus(): Record<JobStatus, number> {
    const statuses: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
    return Object.fromEntries(statuses.map((s) => [s, this.store.countWithStatus([s])])) as Record<JobStatus, number>;
  }

  get active(): number {
    return this.store.countWithStatus(ACTIVE_STATUSES);
  }

  /** Stops taking jobs and aborts the running ones; they stay 'running' in the store, so the next start re-runs them. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.watchers.closeAll({ type: 'closed' });
    for (const controller of this.running.values()) controller.abort(new AbortedError('the service is shutting down'));
    const deadline = Date.now() + 5000;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.store.close();
  }

  purgeExpired(now = Date.now()): number {
    if (this.closed) return 0;
    const expired = this.store.expired(now);
    for (const job of expired) this.remove(job);
    return expired.length;
  }

  /** Job folders no queued or running job owns (left by a crash mid-submit, or by older versions). */
  private removeOrphanFolders(): void {
    const owned = new Set(this.store.withStatus(ACTIVE_STATUSES).map((job) => job.id));
    for (const name of readdirSync(this.options.dataDir)) {
      if (!owned.has(name)) rmSync(join(this.options.dataDir, name), { recursive: true, force: true });
    }
    // Files survive only with a succeeded job; a requeued one makes its files again.
    for (const name of readdirSync(this.filesRoot)) {
      if (this.store.get(name)?.status !== 'succeeded') rmSync(join(this.filesRoot, name), { recursive: true, force: true });
    }
  }

  /** The folder where job `id` keeps its files (it may not exist: most jobs leave none). */
  filesDir(id: string): string {
    return join(this.filesRoot, id);
  }

  filesDirOf(job: JobRecord): string {
    return this.filesDir(job.id);
  }

  /**
   * Calls `listener` with each change of job `id` until it finishes (then once more with the
   * finished job) or the manager closes; returns the unsubscribe. A listener of a job already
   * finished hears nothing: read the job first.
   */
  watch(id: string, listener: (event: JobEvent) => void): () => void {
    return this.watchers.add(id, listener);
  }

  /** Listeners of job `id` (of all jobs without an id): the leak check of the events tests. */
  watcherCount(id?: string): number {
    return this.watchers.count(id);
  }

  private remove(job: JobRecord): void {
    rmSync(join(this.options.dataDir, job.id), { recursive: true, force: true });
    rmSync(this.filesDir(job.id), { recursive: true, force: true });
    this.store.delete(job.id);
  }

  private pump(): void {
    if (!this.started || this.closed) return;
    while (this.running.size < this.options.concurrency) {
      const next = this.store.withStatus(['queued']).find((j) => !this.running.has(j.id));
      if (!next) return;
      void this.run(next);
    }
  }

  private async run(job: JobRecord): Promise<void> {
    const controller = new AbortController();
    this.running.set(job.id, controller);
    const startedAt = Date.now();
    this.store.update(job.id, { status: 'running', startedAt, attempts: job.attempts + 1, stage: null, progress: 0, etaSec: null });
    this.emitProgress(job.id, undefined);
    const onProgress = (p: JobProgress): void => {
      const now = Date.now();
      const current = this.store.get(job.id);
      // A write per progress report would be hundreds per second; two a second is plenty. A new
      // stage is written at once, so no stage goes unseen.
      const stageChanged = current !== undefined && current.stage !== p.stage;
      if (now - (this.lastWrite.get(job.id) ?? 0) < 500 && p.fraction < 1 && !stageChanged) return;
      this.lastWrite.set(job.id, now);
      const elapsed = (now - startedAt) / 1000;
      const eta = p.fraction > 0.02 ? (elapsed / p.fraction) * (1 - p.fraction) : null;
      if (current?.status !== 'running') return;
      this.store.update(job.id, { stage: p.stage, progress: p.fraction, etaSec: eta === null ? null : Math.round(eta * 10) / 10 });
      this.emitProgress(job.id, stageChanged ? current.stage : undefined);
    };
    const filesDir = this.filesDir(job.id);
    const log = (this.options.logger ?? SILENT_LOGGER).child({ jobId: job.id, kind: job.kind });
    log.info({ attempt: job.attempts + 1 }, 'job started');
    try {
      const result = await this.runner({ ...job, status: 'running' }, controller.signal, onProgress, filesDir);
      if (!controller.signal.aborted) {
        this.finishOrRecordFailure(job.id, { result, progress: 1, etaSec: 0 }, log);
        log.info({ ms: Date.now() - startedAt }, 'job succeeded');
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        const jobError = toJobError(error, log);
        this.finishOrRecordFailure(job.id, { error: jobError }, log);
        log.warn({ ms: Date.now() - startedAt, code: jobError.code, status: jobError.status }, 'job failed');
      } else if (this.closed) {
        /* left 'running': the next start re-runs it */
      }
    } finally {
      // A cancel removed the files while the runner unwound; whatever it wrote since goes too.
      if (this.store.get(job.id)?.status !== 'succeeded' && !this.closed) rmSync(filesDir, { recursive: true, force: true });
      this.running.delete(job.id);
      this.lastWrite.delete(job.id);
      this.pump();
    }
  }

  /**
   * Records the outcome. A result the database cannot take (a full disk) fails the job with 507
   * instead; if even that cannot be written, the job stays 'running' in the store and runs again
   * at the next start. Never an unhandled rejection.
   */
  private finishOrRecordFailure(
    id: string,
    outcome: { result: unknown; progress: number; etaSec: number } | { error: JobError },
    log: Logger,
  ): void {
    try {
      this.finish(id, 'error' in outcome ? 'failed' : 'succeeded', outcome);
    } catch (error) {
      log.error({ err: error }, 'could not record the outcome of the job');
      if (!isStorageFull(error) || 'error' in outcome) return;
      try {
        const full = new InsufficientStorageError('the result of the job');
        this.finish(id, 'failed', { error: { status: full.status, code: full.code, message: full.message } });
      } catch (again) {
        log.error({ err: again }, 'could not record the failure of the job either; it runs again at the next start');
      }
    }
  }

  private finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', patch: JobPatch): void {
    const now = Date.now();
    this.store.update(id, { ...patch, status, finishedAt: now, expiresAt: now + this.options.retentionMs });
    const job = this.store.get(id);
    // The input (and its folder) is no longer needed once the job is over.
    rmSync(join(this.options.dataDir, id), { recursive: true, force: true });
    if (status !== 'succeeded') rmSync(this.filesDir(id), { recursive: true, force: true });
    if (job?.inputPath) this.store.update(id, { inputPath: null });
    for (const wake of this.waiters.get(id) ?? []) wake();
    this.waiters.delete(id);
    const finished = this.store.get(id);
    if (finished) this.watchers.tell(id, { type: 'finished', job: finished });
    this.watchers.end(id);
  }

  /** Tells the watchers of `id` its progress as recorded (after a stage event when the stage changed). */
  private emitProgress(id: string, previousStage: string | null | undefined): void {
    if (!this.watchers.has(id)) return;
    const job = this.store.get(id);
    if (!job) return;
    if (previousStage !== undefined) this.watchers.tell(id, { type: 'stage', job, previous: previousStage });
    this.watchers.tell(id, { type: 'progress', job });
  }
}

/** A runner's failure as the job records it: a ServiceError as it is, anything else an internal error (logged). */
export function toJobError(error: unknown, logger: Logger): JobError {
  if (error instanceof ServiceError) return { status: error.status, code: error.code, message: error.message };
  logger.error({ err: error }, 'job failed with an internal error');
  return { status: 500, code: 'internal_error', message: 'internal error; the server log has the details' };
}
