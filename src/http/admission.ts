/**
 * Bounded work: at most `maxInFlight` requests doing inference and `maxQueued` waiting for a
 * turn. A request beyond that is refused at once with 503 and Retry-After, before its upload is
 * read; what was admitted keeps its place and finishes. Turns are handed out first come, first
 * served; a waiting request whose signal fires (deadline, disconnect) leaves the queue.
 */
import { UnavailableError } from '../errors.js';

export interface AdmissionOptions {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  /** The Retry-After of a refusal, in seconds. */
  readonly retryAfterSec: number;
}

export const DEFAULT_ADMISSION: AdmissionOptions = { maxInFlight: 2, maxQueued: 8, retryAfterSec: 2 };

export class Admission {
  private admitted = 0;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly options: AdmissionOptions) {}

  /** Requests admitted (running + waiting). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.admitted - this.running };
  }

  /** Admits a request or throws 503 `overloaded`; the returned function gives the place back. */
  admit(): () => void {
    const { maxInFlight, maxQueued, retryAfterSec } = this.options;
    if (this.admitted >= maxInFlight + maxQueued) {
      throw new UnavailableError(
        'overloaded',
        `the service is at capacity (${maxInFlight} requests in flight, ${maxQueued} waiting); retry after ${retryAfterSec} s`,
        retryAfterSec,
      );
    }
    this.admitted++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admitted--;
    };
  }

  /** Waits for a turn to run inference; the returned function ends the turn (handing it on). */
  async turn(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.running < this.options.maxInFlight && this.waiting.length === 0) {
      this.running++;
    } else {
      // The turn is handed over by the one ending it, so `running` never overshoots.
      await new Promise<void>((resolve, reject) => {
        const start = (): void => {
          signal?.removeEventListener('abort', leave);
          resolve();
        };
        const leave = (): void => {
          const at = this.waiting.indexOf(start);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal!.reason as Error);
        };
        signal?.addEventListener('abort', leave, { once: true });
        this.waiting.push(start);
      });
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}
