/**
 * POST /detect-temporal (a job per upload), GET /jobs/{id}, DELETE /jobs/{id}: wire requests to
 * domain options, job records to the wire shape. The work itself is the temporal pipeline, run by
 * the JobManager.
 */
import type { Request, Response } from 'express';
import { AbortedError, InvalidParameterError, UnavailableError } from '../../errors.js';
import { checkDetectOptions, type TemporalDetectOptions } from '../../tasks/temporal/detect.js';
import { checkLimits } from '../../video/limits.js';
import { probeVideo } from '../../video/probe.js';
import type { components, operations } from '../generated/openapi.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { JobRecord } from '../jobs/job-store.js';
import { definedOnly } from '../form-fields.js';
import type { ServiceState } from '../service-state.js';
import { uploadedVideo } from '../upload.js';

type DetectQuery = NonNullable<operations['detectTemporal']['parameters']['query']>;
type DetectForm = Omit<operations['detectTemporal']['requestBody']['content']['multipart/form-data'], 'video'>;
type WireJob = components['schemas']['Job'];

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

export function toWireJob(job: JobRecord): WireJob {
  const wire: WireJob = {
    id: job.id,
    kind: job.kind,
    status: job.status,
    progress: { fraction: job.progress, ...(job.etaSec !== null ? { etaSec: job.etaSec } : {}) },
    createdAt: iso(job.createdAt)!,
    attempts: job.attempts,
  };
  if (job.stage) wire.stage = job.stage;
  if (typeof job.request.model === 'string') wire.model = job.request.model;
  for (const key of ['startedAt', 'finishedAt', 'expiresAt'] as const) {
    const value = iso(job[key]);
    if (value) wire[key] = value;
  }
  if (job.result) wire.result = job.result as WireJob['result'];
  if (job.error) wire.error = job.error;
  return wire;
}

function jobsOf(state: ServiceState): JobManager {
  if (!state.jobs) throw new UnavailableError('jobs_unavailable', 'this server runs no job queue');
  return state.jobs;
}

export function detectTemporalHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const registry = state.registry;
    const jobs = jobsOf(state);
    const upload = uploadedVideo(req);
    if (!upload) throw new InvalidParameterError('video', (req.body as { video?: unknown })?.video, 'must be a file uploaded as multipart/form-data');
    const { video: _video, ...form } = req.body as DetectForm & { video?: unknown };
    const merged = { ...definedOnly(req.query as DetectQuery), ...definedOnly(form) };
    const options: TemporalDetectOptions = {
      ...(merged.scoreThreshold !== undefined ? { scoreThreshold: Number(merged.scoreThreshold) } : {}),
      ...(merged.maxSegments !== undefined ? { maxSegments: Number(merged.maxSegments) } : {}),
    };
    checkDetectOptions(options);
    const { detector } = registry.resolveTemporal(merged.model);
    // Refuse what cannot be decoded now, not in a job the client polls later.
    checkLimits(await probeVideo(upload.path, upload.originalName || 'video'), state.config.limits);
    const job = jobs.submit({ model: detector.name, options, fileName: upload.originalName || 'video' }, upload.path);
    const location = `/jobs/${job.id}`;
    res.setHeader('Location', location);
    const wait = merged.wait === true || String(merged.wait) === 'true';
    if (!wait) {
      res.status(202).json(toWireJob(job));
      return;
    }
    const gone = new AbortController();
    const onClose = (): void => { if (!res.writableFinished) gone.abort(new AbortedError('client disconnected')); };
    res.once('close', onClose);
    try {
      const finished = await jobs.waitFor(job.id, state.config.jobWaitMs ?? 60_000, gone.signal);
      if (gone.signal.aborted) return;
      if (finished.status === 'succeeded') res.status(200).json(toWireJob(finished));
      else if (finished.status === 'failed' && finished.error) res.status(finished.error.status).json({ error: finished.error });
      else res.status(202).json(toWireJob(finished));
    } finally {
      res.off('close', onClose);
    }
  };
}

export function getJobHandler(state: ServiceState) {
  return (req: Request, res: Response): void => {
    res.json(toWireJob(jobsOf(state).get(String(req.params.id))));
  };
}

export function cancelJobHandler(state: ServiceState) {
  return (req: Request, res: Response): void => {
    const { job, deleted } = jobsOf(state).cancel(String(req.params.id));
    if (deleted) res.status(204).end();
    else res.json(toWireJob(job));
  };
}
