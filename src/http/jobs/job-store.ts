/**
 * What the service remembers about long-running work (jobs): the interface; sqlite-job-store.ts
 * implements it on an embedded database so finished results survive a restart.
 */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
/** The kinds of job: the two detection endpoints', and the other tasks a batch runs per item. */
export type JobKind = 'temporal-detection' | 'spatiotemporal-detection' | 'classification' | 'feature-extraction';
export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running'];

export interface JobError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface JobRecord {
  readonly id: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  /** What the job is doing now (probe, features, detect, postprocess), while running. */
  readonly stage: string | null;
  /** 0..1 */
  readonly progress: number;
  readonly etaSec: number | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** When a finished job (and its result) is forgotten. */
  readonly expiresAt: number | null;
  /** The request as the job needs it to run (model, options, the upload's name). */
  readonly request: Record<string, unknown>;
  /** The uploaded input, kept until the job is finished. */
  readonly inputPath: string | null;
  readonly result: unknown;
  readonly error: JobError | null;
  /** How many times the job was started (a restart re-runs an interrupted job once). */
  readonly attempts: number;
  /** Where its files are, when the queue keeps them apart from its id (the shared store of the Redis queue). */
  readonly filesDir?: string;
}

export type JobPatch = Partial<Omit<JobRecord, 'id' | 'kind' | 'createdAt' | 'filesDir'>>;

export interface JobStore {
  insert(job: JobRecord): void;
  get(id: string): JobRecord | undefined;
  update(id: string, patch: JobPatch): void;
  /** Oldest first. */
  withStatus(statuses: readonly JobStatus[]): JobRecord[];
  countWithStatus(statuses: readonly JobStatus[]): number;
  /** Finished jobs whose expiry has passed. */
  expired(now: number): JobRecord[];
  delete(id: string): void;
  close(): void;
}
