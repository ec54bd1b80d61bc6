/**
 * The listeners of each job (GET /jobs/{id}/events, ?wait=true), for either queue: subscribe,
 * tell (a listener's failure is logged, never the job's), end a job's listeners, count them.
 */
import type { Logger } from '../logging.js';
import type { JobEvent } from './job-queue.js';

export type JobListener = (event: JobEvent) => void;

export class JobWatchers {
  private readonly byJob = new Map<string, Set<JobListener>>();

  constructor(
    private readonly logger: Logger,
    /** Called when the last listener of a job goes. */
    private readonly onIdle: (id: string) => void = () => undefined,
  ) {}

  /** Adds a listener of job `id`; returns the unsubscribe. */
  add(id: string, listener: JobListener): () => void {
    const set = this.byJob.get(id) ?? new Set();
    this.byJob.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byJob.get(id) === set) {
        this.byJob.delete(id);
        this.onIdle(id);
      }
    };
  }

  has(id: string): boolean {
    return this.byJob.has(id);
  }

  ids(): string[] {
    return [...this.byJob.keys()];
  }

  /** Tells every listener of `id` (a copy of the set: a listener may unsubscribe while it is told). */
  tell(id: string, event: JobEvent): void {
    for (const listener of [...(this.byJob.get(id) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error, jobId: id }, 'a job watcher failed');
      }
    }
  }

  /** Forgets the listeners of `id` (its job is finished: they heard the last event). */
  end(id: string): void {
    if (this.byJob.delete(id)) this.onIdle(id);
  }

  /** Tells every listener of every job `event`, then forgets them all (the queue closes). */
  closeAll(event: JobEvent): void {
    for (const id of this.ids()) this.tell(id, event);
    this.byJob.clear();
  }

  /** Listeners of job `id`, or of all jobs (the leak checks of the events tests). */
  count(id?: string): number {
    if (id !== undefined) return this.byJob.get(id)?.size ?? 0;
    let count = 0;
    for (const set of this.byJob.values()) count += set.size;
    return count;
  }
}
