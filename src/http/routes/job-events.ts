/**
 * GET /jobs/{id}/events: a job's life as Server-Sent Events. The stream opens with the job's
 * progress as it is, then carries each recorded change (`stage` when the stage changes, then
 * `progress`), and ends with `result` (succeeded) or `failure` (failed or cancelled), the whole
 * job as GET /jobs/{id} shows it. A finished job gets its final event at once. The stream also
 * ends (without a final event) when the request's deadline passes, the server drains or the job
 * manager stops: EventSource reconnects, and the new stream starts from the job's state then.
 */
import type { Request, Response } from 'express';
import { UnavailableError } from '../../errors.js';
import type { components } from '../generated/openapi.js';
import type { JobEvent } from '../jobs/job-manager.js';
import type { JobRecord } from '../jobs/job-store.js';
import { contextOf } from '../request-context.js';
import type { ServiceState } from '../service-state.js';
import { toWireJob } from './jobs.js';

type ProgressEvent = components['schemas']['JobProgressEvent'];
type StageEvent = components['schemas']['JobStageEvent'];

/** A comment line this often keeps proxies from closing an idle stream. */
export const KEEPALIVE_MS = 15_000;

/** How long EventSource waits before reconnecting (the `retry` field). */
const RETRY_MS = 2000;

export function progressEvent(job: JobRecord): ProgressEvent {
  return {
    id: job.id,
    // Only active jobs get progress events; a finished one gets its final event instead.
    status: job.status as ProgressEvent['status'],
    ...(job.stage ? { stage: job.stage } : {}),
    progress: { fraction: job.progress, ...(job.etaSec !== null ? { etaSec: job.etaSec } : {}) },
  };
}

function stageEvent(job: JobRecord, previous: string | null): StageEvent {
  return { id: job.id, stage: job.stage ?? '', ...(previous ? { previous } : {}) };
}

/**
 * One SSE frame. `event: error` is avoided on purpose: EventSource fires its own `error` for a
 * broken connection, so a job's failure is `failure`.
 */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function finalFrame(job: JobRecord): string {
  return sseFrame(job.status === 'succeeded' ? 'result' : 'failure', toWireJob(job));
}

export function jobEventsHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    if (!state.jobs) throw new UnavailableError('jobs_unavailable', 'this server runs no job queue');
    const jobs = state.jobs;
    // Unknown job: the same 404 as GET /jobs/{id}, as JSON, before any stream starts.
    const job = await jobs.get(String(req.params.id));
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    // nginx would otherwise buffer the stream until it ends.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n\n`);
    if (job.status !== 'queued' && job.status !== 'running') {
      res.end(finalFrame(job));
      return;
    }

    const { signal } = contextOf(res);
    let ended = false;
    // Between a hang-up and its 'close' event the socket is already gone: nothing is written then.
    const send = (text: string): void => {
      if (!ended && !res.writableEnded && !res.destroyed) res.write(text);
    };
    const keepalive = setInterval(() => send(': keep-alive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = (last?: string): void => {
      if (ended) return;
      ended = true;
      clearInterval(keepalive);
      unsubscribe();
      signal.removeEventListener('abort', stop);
      state.drainSignal.removeEventListener('abort', stop);
      res.off('close', stop);
      if (!res.writableEnded && !res.destroyed) res.end(last);
    };
    const stop = (): void => end();
    const unsubscribe = jobs.watch(job.id, (event: JobEvent) => {
      if (event.type === 'closed') end();
      else if (event.type === 'finished') end(finalFrame(event.job));
      else if (event.type === 'stage') send(sseFrame('stage', stageEvent(event.job, event.previous)));
      else send(sseFrame('progress', progressEvent(event.job)));
    });
    // A client that hangs up, the deadline, the drain: the listener goes, the job runs on.
    res.once('close', stop);
    signal.addEventListener('abort', stop, { once: true });
    state.drainSignal.addEventListener('abort', stop, { once: true });
    if (signal.aborted || state.draining) {
      end();
      return;
    }
    // The state when the stream opened; it may have finished between the read and the watch.
    const now = await jobs.get(job.id);
    if (now.status !== 'queued' && now.status !== 'running') end(finalFrame(now));
    else send(sseFrame('progress', progressEvent(now)));
  };
}
