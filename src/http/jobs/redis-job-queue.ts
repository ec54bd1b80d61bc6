/**
 * The distributed job queue of an API replica (`serve --queue redis://... --store DIR`): jobs are
 * BullMQ jobs in Redis, their inputs and results live in the shared store, and `videomae worker`
 * processes run them. A replica keeps nothing of its own, so any replica answers for any job:
 * GET reads BullMQ's record, DELETE marks the cancel in Redis and announces it (the worker
 * running the job stops it), events come from BullMQ's event stream. Retries with backoff and
 * stalled-job recovery (a worker that dies mid-job) are BullMQ's.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { InsufficientStorageError, isStorageFull, NotFoundError, ServiceError, UnavailableError } from '../../errors.js';
import { SILENT_LOGGER, type Logger } from '../logging.js';
import { jobInputName, QueueFullError, type JobEvent } from './job-manager.js';
import type { JobQueue, SubmitOptions } from './job-queue.js';
import { ACTIVE_STATUSES, type JobKind, type JobRecord, type JobStatus } from './job-store.js';
import { copyFile, moveFile } from './move-file.js';
import { JobWatchers } from './job-watchers.js';
import {
  atMost,
  cancelChannel,
  cancelKey,
  connected,
  DEFAULT_QUEUE_NAME,
  queueUnavailable,
  redisConnection,
  redisHost,
  statusOf,
  toJobRecord,
  type QueuedJobData,
} from './redis-jobs.js';
import type { SharedStore } from './shared-store.js';

export interface RedisQueueOptions {
  readonly url: string;
  readonly store: SharedStore;
  /** Jobs queued or running at most (all replicas together); 503 queue_full beyond. */
  readonly maxQueued: number;
  readonly retentionMs: number;
  /** Runs of a job at most: a failure of the service's own (5xx) is retried, with backoff. */
  readonly maxAttempts: number;
  /** The first retry's delay; each next one doubles it. */
  readonly backoffMs?: number;
  readonly logger?: Logger;
  /** BullMQ queue name (one Redis may hold several services' queues). */
  readonly queueName?: string;
}

/** A store folder no job owns is removed once it is this old (a submit in progress owns one briefly). */
const ORPHAN_AGE_MS = 60_000;

const NO_COUNTS: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };

export class RedisJobQueue implements JobQueue {
  private readonly queueName: string;
  private readonly logger: Logger;
  private readonly watchers: JobWatchers;
  private readonly lastStage = new Map<string, string | null>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private counts: Record<JobStatus, number> = NO_COUNTS;
  private countsAt = 0;
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: RedisQueueOptions,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {
    this.queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.watchers = new JobWatchers(this.logger, (id) => this.lastStage.delete(id));
    for (const name of ['active', 'progress', 'completed', 'failed', 'removed', 'waiting', 'stalled'] as const) {
      this.events.on(name, ({ jobId }: { jobId: string }) => this.refresh(jobId));
    }
    this.subscriber.on('message', (_channel: string, id: string) => this.refresh(id));
  }

  /** Connects to Redis (a 503 queue_unavailable naming the URL when it does not answer). */
  static async connect(options: RedisQueueOptions): Promise<RedisJobQueue> {
    const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    const redis = redisConnection(options.url, false);
    const subscriber = redisConnection(options.url, true);
    const eventsConnection = redisConnection(options.url, true);
    const quiet = (): void => undefined; // ioredis retries by itself; each failed call says why
    for (const c of [redis, subscriber, eventsConnection]) c.on('error', quiet);
    try {
      await Promise.all([connected(redis, options.url), connected(subscriber, options.url)]);
      await subscriber.subscribe(cancelChannel(queueName));
      const queue = new Queue(queueName, { connection: redis });
      queue.on('error', quiet);
      const events = new QueueEvents(queueName, { connection: eventsConnection });
      events.on('error', quiet);
      await events.waitUntilReady();
      return new RedisJobQueue(options, redis, subscriber, queue, events);
    } catch (error) {
      for (const c of [redis, subscriber, eventsConnection]) c.disconnect();
      throw error;
    }
  }

  start(): { requeued: string[]; failed: string[] } {
    // Interrupted jobs are the workers' to recover (BullMQ's stalled check); a replica only tidies the store.
    const every = Math.min(60_000, Math.max(1000, this.options.retentionMs / 4));
    this.sweeper = setInterval(
      () => void this.sweep().catch((error: unknown) => this.logger.warn({ err: error }, 'store sweep failed')),
      every,
    );
    this.sweeper.unref();
    return { requeued: [], failed: [] };
  }

  async submit(
    request: Record<string, unknown>,
    inputFile: string,
    kind: JobKind = 'temporal-detection',
    submit: SubmitOptions = {},
  ): Promise<JobRecord> {
    if (this.closed) throw new ServiceError(503, 'shutting_down', 'the service is shutting down and takes no new jobs');
    if (submit.id !== undefined) {
      const existing = await this.find(submit.id);
      if (existing) return existing.record;
    }
    if (!submit.unbounded) {
      const active = await this.guard(() =>
        this.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active', 'waiting-children'),
      );
      if (active >= this.options.maxQueued) throw new QueueFullError(this.options.maxQueued);
    }
    const id = submit.id ?? randomUUID();
    const inputPath = this.options.store.inputPath(id, jobInputName(request));
    try {
      mkdirSync(dirname(inputPath), { recursive: true });
      (submit.copyInput ? copyFile : moveFile)(inputFile, inputPath);
    } catch (error) {
      this.options.store.remove(id);
      if (isStorageFull(error)) throw new InsufficientStorageError('the job and its input');
      throw error;
    }
    const data: QueuedJobData = { kind, request, inputPath };
    const retentionSec = Math.ceil(this.options.retentionMs / 1000);
    let job: Job;
    try {
      job = await this.guard(() =>
        this.queue.add(kind, data, {
          jobId: id,
          attempts: this.options.maxAttempts,
          backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1000 },
          removeOnComplete: { age: retentionSec },
          removeOnFail: { age: retentionSec },
        }),
      );
    } catch (error) {
      this.options.store.remove(id);
      throw error;
    }
    return toJobRecord(job, 'queued', this.options.store, this.options.retentionMs);
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.find(id);
    if (!job)
      throw new NotFoundError('job_not_found', `job '${id}' does not exist (or its result has expired)`, { parameter: 'id', value: id });
    return job.record;
  }

  async cancel(id: string): Promise<{ job: JobRecord; deleted: boolean }> {
    const found = await this.find(id);
    if (!found)
      throw new NotFoundError('job_not_found', `job '${id}' does not exist (or its result has expired)`, { parameter: 'id', value: id });
    const { record, job } = found;
    if (!ACTIVE_STATUSES.includes(record.status)) {
      if (job) {
        try {
          await job.remove();
        } catch (error) {
          if (error instanceof ServiceError) throw error;
          // BullMQ refuses to remove a job a worker still holds: the cancel is still unwinding there.
          throw new ServiceError(409, 'job_busy', `job '${id}' is still stopping on its worker; delete it again in a moment`, {
            parameter: 'id',
            value: id,
          });
        }
      }
      await this.guard(() => this.redis.del(cancelKey(this.queueName, id)));
      this.options.store.remove(id);
      return { job: record, deleted: true };
    }
    const now = Date.now();
    const cancelled: JobRecord = {
      ...record,
      status: 'cancelled',
      finishedAt: now,
      expiresAt: now + this.options.retentionMs,
      inputPath: null,
      error: {
        status: 499,
        code: 'job_cancelled',
        message:
          record.status === 'queued'
            ? `job ${id} was cancelled before it started`
            : `job ${id} was cancelled while running (${record.stage ?? 'starting'})`,
      },
    };
    await this.guard(() => this.redis.set(cancelKey(this.queueName, id), JSON.stringify(cancelled), 'PX', this.options.retentionMs));
    await this.guard(() => this.redis.publish(cancelChannel(this.queueName), id));
    if (record.status === 'queued' && job) {
      try {
        await job.remove();
        this.options.store.remove(id);
      } catch {
        /* a worker took it meanwhile: it sees the mark and stops */
      }
    }
    return { job: cancelled, deleted: false };
  }

  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobRecord> {
    const job = await this.get(id);
    if (!ACTIVE_STATUSES.includes(job.status)) return job;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.watch(id, (event) => {
        if (event.type === 'finished' || event.type === 'closed') done();
      });
      signal?.addEventListener('abort', done, { once: true });
      // It may have finished between the read and the watch.
      this.refresh(id);
    });
    return this.get(id);
  }

  watch(id: string, listener: (event: JobEvent) => void): () => void {
    return this.watchers.add(id, listener);
  }

  filesDirOf(job: JobRecord): string {
    return job.filesDir ?? this.options.store.attemptDir(job.id, 'none');
  }

  unavailable(): UnavailableError | undefined {
    if (this.redis.status === 'ready') return undefined;
    // the host only: a URL may carry a password
    return new UnavailableError(
      'queue_unavailable',
      `the job queue (Redis at ${redisHost(this.options.url)}) is not connected (${this.redis.status})`,
      5,
    );
  }

  countsByStatus(): Record<JobStatus, number> {
    if (Date.now() - this.countsAt > 1000 && !this.closed) {
      this.countsAt = Date.now();
      void this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed').then(
        (c) => {
          this.counts = {
            queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c['waiting-children'] ?? 0),
            running: c.active ?? 0,
            succeeded: c.completed ?? 0,
            failed: c.failed ?? 0,
            cancelled: 0,
          };
        },
        () => undefined,
      );
    }
    return this.counts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.watchers.closeAll({ type: 'closed' });
    await atMost(Promise.allSettled([...this.refreshing.values()]), 2000);
    await atMost(this.events.close(), 2000);
    await atMost(this.queue.close(), 2000);
    this.subscriber.disconnect();
    this.redis.disconnect();
    await atMost(this.events.disconnect(), 1000);
  }

  /** The job's record: a cancel's record first (it outlives BullMQ's job), else BullMQ's. */
  private async find(id: string): Promise<{ record: JobRecord; job: Job | undefined } | undefined> {
    const [snapshot, job] = await this.guard(() =>
      Promise.all([this.redis.get(cancelKey(this.queueName, id)), Job.fromId(this.queue, id)]),
    );
    if (snapshot) return { record: JSON.parse(snapshot) as JobRecord, job };
    if (!job) return undefined;
    const status = statusOf(await this.guard(() => job.getState()));
    if (!status) return undefined;
    return { record: toJobRecord(job, status, this.options.store, this.options.retentionMs), job };
  }

  /** Tells the watchers of `id` its state now, one refresh at a time per job (so in order). */
  private refresh(id: string): void {
    if (!this.watchers.has(id) || this.closed) return;
    const previous = this.refreshing.get(id) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (!this.watchers.has(id)) return;
        const found = await this.find(id);
        if (!this.watchers.has(id)) return;
        if (!found || !ACTIVE_STATUSES.includes(found.record.status)) {
          if (found) this.watchers.tell(id, { type: 'finished', job: found.record });
          this.watchers.end(id);
          return;
        }
        const job = found.record;
        const before = this.lastStage.has(id) ? this.lastStage.get(id)! : job.stage;
        this.lastStage.set(id, job.stage);
        if (before !== job.stage) this.watchers.tell(id, { type: 'stage', job, previous: before });
        this.watchers.tell(id, { type: 'progress', job });
      })
      .catch((error: unknown) => this.logger.warn({ err: error, jobId: id }, 'could not read a watched job'))
      .finally(() => {
        if (this.refreshing.get(id) === next) this.refreshing.delete(id);
      });
    this.refreshing.set(id, next);
  }

  /**
   * Store folders against the queue: a finished job keeps only its accepted attempt (a worker may
   * have died before tidying), one the queue has forgotten (expired, removed) goes.
   */
  private async sweep(): Promise<void> {
    const store = this.options.store;
    for (const id of store.jobIds()) {
      if (this.closed) return;
      const found = await this.find(id);
      if (!found) {
        let age = Infinity;
        try {
          age = Date.now() - statSync(store.jobDir(id)).mtimeMs;
        } catch {
          /* gone already */
        }
        if (age > ORPHAN_AGE_MS) store.remove(id);
      } else if (found.record.status === 'succeeded') {
        const attempt = (found.job?.returnvalue as { attempt?: string } | null)?.attempt;
        if (attempt) store.keepOnly(id, attempt);
      } else if (found.record.status === 'failed' || found.record.status === 'cancelled') {
        if (!found.job || statusOf(await found.job.getState()) !== 'running') store.keepOnly(id, null);
      }
    }
  }

  /** Redis trouble becomes a 503 queue_unavailable; the service's own errors pass. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw queueUnavailable(error);
    }
  }
}
