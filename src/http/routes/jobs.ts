/**
 * POST /detect-temporal (a job per upload), GET /jobs/{id}, DELETE /jobs/{id}: wire requests to
 * domain options, job records to the wire shape. The work itself is the temporal pipeline, run by
 * the job queue (embedded or Redis).
 */
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { AbortedError, InvalidParameterError, NotFoundError, ServiceError, UnavailableError } from '../../errors.js';
import type { DecodePass } from '../../video/decode-budget.js';
import { RENDER_FILE } from '../jobs/temporal-job.js';
import { contextOf } from '../request-context.js';
import {
  checkShortSide,
  checkSpatiotemporalInput,
  toAvaCsv,
  type GivenKeyframeBoxes,
  type SpatiotemporalOptions,
  type SpatiotemporalResult,
} from '../../tasks/spatiotemporal/detect.js';
import { videoId } from '../../tasks/temporal/extract.js';
import { checkDetectOptions, checkTemporalInput, withBackbone, type TemporalDetectOptions } from '../../tasks/temporal/detect.js';
import type { components, operations } from '../generated/openapi.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { JobRecord } from '../jobs/job-store.js';
import { definedOnly } from '../form-fields.js';
import { isBatchItem } from '../batches/batch-record.js';
import type { ServiceState } from '../service-state.js';
import { uploadedFeatures } from '../upload.js';
import { checkVideoSource, requestVideo } from '../video-source.js';
import { submitFeaturesJob } from './temporal-features.js';

type DetectQuery = NonNullable<operations['detectTemporal']['parameters']['query']>;
type DetectForm = Omit<NonNullable<operations['detectTemporal']['requestBody']>['content']['multipart/form-data'], 'video'>;
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
  if (job.request.render === true) wire.render = `/jobs/${job.id}/render.mp4`;
  if (isBatchItem(job.request)) wire.batch = { id: job.request.batch.id, index: job.request.batch.index, video: job.request.batch.video };
  if (job.result) wire.result = job.result as WireJob['result'];
  if (job.error) wire.error = job.error;
  return wire;
}

/** `render` as a query parameter or a form field: true or false, anything else a 400 naming it. */
export function parseRender(value: unknown): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new InvalidParameterError('render', value, 'must be true or false');
}

/** The decoding a render adds to a request's budget: every frame, once. */
const renderPasses = (render: boolean): DecodePass[] => (render ? [{ kind: 'stream' }] : []);

function jobsOf(state: ServiceState): JobQueue {
  if (!state.jobs) throw new UnavailableError('jobs_unavailable', 'this server runs no job queue');
  return state.jobs;
}

export function detectTemporalHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const { video: _video, features: _features, ...form } = (req.body ?? {}) as DetectForm & { video?: unknown; features?: unknown };
    const merged = { ...definedOnly(req.query as DetectQuery), ...definedOnly(form) };
    const features = uploadedFeatures(res);
    const render = parseRender(merged.render);
    if (features) {
      if (render) throw new InvalidParameterError('render', true, 'draws on a video; precomputed features have none to draw on');
      jobsOf(state);
      await answerSubmitted(res, state, await submitFeaturesJob(req, state, features, merged), merged.wait, undefined);
      return;
    }
    checkVideoSource(req, merged.url);
    // a features-only detector (no backbone) cannot take a video: refused before it is probed
    const { detector } = withBackbone(state.registry.resolveTemporal(merged.model));
    const jobs = jobsOf(state);
    const options: TemporalDetectOptions = {
      ...(merged.scoreThreshold !== undefined ? { scoreThreshold: Number(merged.scoreThreshold) } : {}),
      ...(merged.maxSegments !== undefined ? { maxSegments: Number(merged.maxSegments) } : {}),
    };
    checkDetectOptions(options);
    const { signal } = contextOf(res);
    const video = await requestVideo(req, res, state, merged.url, signal);
    // Refuse what cannot be decoded, or would cost more than the budget, now, not in a job the
    // client polls later.
    await checkTemporalInput(video.path, video.name, state.config.limits, signal, renderPasses(render));
    const job = await jobs.submit({ model: detector.name, options, fileName: video.name, ...(render ? { render } : {}) }, video.path);
    await answerSubmitted(res, state, job, merged.wait, undefined);
  };
}

/**
 * 202 with the job and its Location; with `wait`, the finished job (200, or its error status), or
 * 202 when the wait limit passes first. A client that hangs up stops the wait, not the job.
 */
async function answerSubmitted(res: Response, state: ServiceState, job: JobRecord, wait: unknown, format: unknown): Promise<void> {
  res.setHeader('Location', `/jobs/${job.id}`);
  if (!(wait === true || String(wait) === 'true')) {
    res.status(202).json(toWireJob(job));
    return;
  }
  const gone = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort(new AbortedError('client disconnected'));
  };
  res.once('close', onClose);
  try {
    // The wait ends in time for the request's own deadline: then the answer is 202, not 504.
    const untilDeadline = contextOf(res).deadlineAt - performance.now() - 250;
    const finished = await jobsOf(state).waitFor(
      job.id,
      Math.max(0, Math.min(state.config.jobWaitMs ?? 60_000, untilDeadline)),
      gone.signal,
    );
    if (gone.signal.aborted) return;
    if (finished.status === 'succeeded') sendJob(res, finished, format);
    else if (finished.status === 'failed' && finished.error) res.status(finished.error.status).json({ error: finished.error });
    else res.status(202).json(toWireJob(finished));
  } finally {
    res.off('close', onClose);
  }
}

/** A finished spatiotemporal job as AVA CSV rows, or the job as JSON. */
function sendJob(res: Response, job: JobRecord, format: unknown, status = 200): void {
  if (format === 'ava-csv' && job.kind === 'spatiotemporal-detection' && job.status === 'succeeded' && job.result) {
    res
      .status(status)
      .type('text/csv')
      .send(toAvaCsv(job.result as SpatiotemporalResult, videoId(String(job.request.fileName ?? 'video'))));
    return;
  }
  res.status(status).json(toWireJob(job));
}

export function getJobHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    sendJob(res, await jobsOf(state).get(String(req.params.id)), (req.query as { format?: string }).format);
  };
}

type SpatialQuery = NonNullable<operations['detectSpatiotemporal']['parameters']['query']>;
type SpatialForm = Omit<NonNullable<operations['detectSpatiotemporal']['requestBody']>['content']['multipart/form-data'], 'video'>;

function parseTimestamps(given: string | number[] | undefined): number[] | undefined {
  if (given === undefined) return undefined;
  const text = Array.isArray(given) ? given.join(',') : String(given);
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v < 0))
    throw new InvalidParameterError('timestamps', text, 'must be comma-separated non-negative seconds');
  return values;
}

function parseBoxes(text: string | undefined): GivenKeyframeBoxes[] | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InvalidParameterError(
      'boxes',
      text.slice(0, 80),
      'must be JSON: [{"timestamp": seconds, "boxes": [[x1, y1, x2, y2, score?], ...]}]',
    );
  }
  const ok =
    Array.isArray(raw) &&
    raw.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as GivenKeyframeBoxes).timestamp === 'number' &&
        Array.isArray((e as GivenKeyframeBoxes).boxes) &&
        (e as GivenKeyframeBoxes).boxes.every((b) => Array.isArray(b) && b.every((v) => typeof v === 'number')),
    );
  if (!ok)
    throw new InvalidParameterError(
      'boxes',
      text.slice(0, 80),
      'must be a list of {"timestamp": seconds, "boxes": [[x1, y1, x2, y2, score?], ...]}',
    );
  return raw as GivenKeyframeBoxes[];
}

export function detectSpatiotemporalHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const { video: _video, ...form } = (req.body ?? {}) as SpatialForm & { video?: unknown };
    const merged = { ...definedOnly(req.query as SpatialQuery), ...definedOnly(form) };
    checkVideoSource(req, merged.url);
    const registry = state.registry;
    const jobs = jobsOf(state);
    const boxes = parseBoxes(merged.boxes as string | undefined);
    const render = parseRender(merged.render);
    const timestamps = parseTimestamps(merged.timestamps as string | number[] | undefined);
    const options: SpatiotemporalOptions = {
      ...(boxes ? { boxes } : {}),
      ...(timestamps ? { timestamps } : {}),
      ...(merged.keyframeInterval !== undefined ? { keyframeInterval: Number(merged.keyframeInterval) } : {}),
      ...(merged.scoreThreshold !== undefined ? { scoreThreshold: Number(merged.scoreThreshold) } : {}),
      ...(merged.topK !== undefined ? { topK: Number(merged.topK) } : {}),
      ...(merged.shortSide !== undefined ? { shortSide: Number(merged.shortSide) } : {}),
    };
    const { head } = registry.resolveSpatiotemporal(merged.model);
    checkShortSide(options.shortSide, head.folder.manifest.head.patchSize);
    const { signal } = contextOf(res);
    const video = await requestVideo(req, res, state, merged.url, signal);
    // Bad timestamps are a 400 and a request over the decode budget a 413 now, not a failed job later.
    await checkSpatiotemporalInput(
      { file: video.path, displayName: video.name },
      options,
      head.folder.manifest.clip,
      state.config.limits,
      signal,
      renderPasses(render),
    );
    const job = await jobs.submit(
      { model: head.name, options, fileName: video.name, ...(render ? { render } : {}) },
      video.path,
      'spatiotemporal-detection',
    );
    await answerSubmitted(res, state, job, merged.wait, merged.format);
  };
}

/**
 * GET /jobs/{id}/render.mp4: the annotated video of a succeeded job submitted with render=true
 * (Range requests served, so a video player can seek).
 */
export function jobRenderHandler(state: ServiceState) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const jobs = jobsOf(state);
    const job = await jobs.get(String(req.params.id));
    if (job.request.render !== true)
      throw new NotFoundError('render_not_requested', `job '${job.id}' was submitted without render=true: it has no annotated video`, {
        parameter: 'render',
      });
    if (job.status !== 'succeeded')
      throw new ServiceError(
        409,
        'render_not_ready',
        `job '${job.id}' is ${job.status}: its annotated video is there once it has succeeded`,
        { parameter: 'id', value: job.id },
      );
    res.sendFile(join(jobs.filesDirOf(job), RENDER_FILE), { headers: { 'Content-Type': 'video/mp4' }, dotfiles: 'allow' }, (error) => {
      if (!error || res.headersSent) return;
      // The job's record outlived its files (a state dir copied without them, say).
      next(new NotFoundError('render_not_found', `the annotated video of job '${job.id}' is gone`, { parameter: 'id', value: job.id }));
    });
  };
}

export function cancelJobHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const { job, deleted } = await jobsOf(state).cancel(String(req.params.id));
    if (deleted) res.status(204).end();
    else res.json(toWireJob(job));
  };
}
