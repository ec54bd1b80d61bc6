/**
 * What the HTTP routes need from a job queue, whichever runs it: the embedded one (JobManager on
 * SQLite, jobs run in the serving process) or the distributed one (RedisJobQueue on BullMQ, jobs
 * run by `videomae worker` processes anywhere). The embedded queue answers at once; the Redis one
 * asks Redis, so every answer may be a promise and the routes await them all.
 */
import type { UnavailableError } from '../../errors.js';
import type { JobKind, JobRecord, JobStatus } from './job-store.js';

export type Awaitable<T> = T | Promise<T>;

/**
 * What a watcher of one job hears (GET /jobs/{id}/events): every recorded change of its status or
 * progress, a stage change before the progress that brought it, the finished job last; `closed`
 * when the manager stops (the job stays where it was and runs again at the next start).
 */
export type JobEvent =
  | { readonly type: 'progress'; readonly job: JobRecord }
  | { readonly type: 'stage'; readonly job: JobRecord; readonly previous: string | null }
  | { readonly type: 'finished'; readonly job: JobRecord }
  | { readonly type: 'closed' };

/** How a batch submits its items. */
export interface SubmitOptions {
  /** The job's id, chosen by the caller; a job with this id already there is answered as it is (no second job). */
  readonly id?: string;
  /** Link or copy the input instead of moving it (a batch's videos stay where the manifest names them). */
  readonly copyInput?: boolean;
  /** Not counted against maxQueued (a batch bounds its own items). */
  readonly unbounded?: boolean;
}

export interface JobQueue {
  /** Takes over what an earlier process left (embedded queue), then starts; call once the models are loaded. */
  start(): Awaitable<{ requeued: string[]; failed: string[] }>;
  /** Queues a job; `inputFile` is moved into the queue's keeping. 503 queue_full at capacity. */
  submit(request: Record<string, unknown>, inputFile: string, kind?: JobKind, options?: SubmitOptions): Awaitable<JobRecord>;
  /** The job as it is now; 404 job_not_found when it does not exist (or expired). */
  get(id: string): Awaitable<JobRecord>;
  /** Cancels a queued or running job wherever it runs; a finished one is deleted (`deleted`). */
  cancel(id: string): Awaitable<{ job: JobRecord; deleted: boolean }>;
  /** Resolves with the job once it is finished, or as it is after `timeoutMs`. */
  waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobRecord>;
  /** Calls `listener` with each change of job `id` until it finishes or the queue closes; returns the unsubscribe. */
  watch(id: string, listener: (event: JobEvent) => void): () => void;
  /** The folder where a job keeps its files (a rendered video); it may not exist. */
  filesDirOf(job: JobRecord): string;
  /** Jobs kept, by status (for metrics; the distributed queue answers its latest count). */
  countsByStatus(): Record<JobStatus, number>;
  /** Why the queue can take no job now (its Redis is not connected), if so: /readyz answers 503 with it. */
  unavailable?(): UnavailableError | undefined;
  /** Stops taking jobs; running jobs of the embedded queue stop and run again at the next start. */
  close(): Promise<void>;
}
