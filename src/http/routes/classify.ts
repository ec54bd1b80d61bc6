/**
 * POST /classify: maps the validated wire request to domain options, runs the classification
 * pipeline on the uploaded file, and maps the result back to the wire shape.
 */
import type { Request, Response } from 'express';
import { contextOf } from '../request-context.js';
import { classifyVideo } from '../../tasks/classify/pipeline.js';
import type { ClassifyOptions } from '../../tasks/classify/prepare.js';
import type { components, operations } from '../generated/openapi.js';
import { definedOnly } from '../form-fields.js';
import type { ServiceState } from '../service-state.js';
import { checkVideoSource, requestVideo } from '../video-source.js';

type ClassifyQuery = NonNullable<operations['classify']['parameters']['query']>;
type ClassifyForm = Omit<NonNullable<operations['classify']['requestBody']>['content']['multipart/form-data'], 'video'>;
type ClassifyResponse = components['schemas']['ClassifyResponse'];

/** Query parameters and form fields (already validated and coerced); a form field wins. */
export function toClassifyOptions(query: ClassifyQuery, form: ClassifyForm): ClassifyOptions {
  const merged = { ...definedOnly(query), ...definedOnly(form) };
  const options: ClassifyOptions = {};
  if (merged.model !== undefined) options.model = merged.model;
  if (merged.topK !== undefined) options.topK = merged.topK;
  if (merged.protocol !== undefined) options.protocol = merged.protocol;
  if (merged.numClips !== undefined) options.numClips = merged.numClips;
  if (merged.numCrops !== undefined) options.numCrops = merged.numCrops;
  if (merged.numFrames !== undefined) options.numFrames = merged.numFrames;
  if (merged.samplingRate !== undefined) options.samplingRate = merged.samplingRate;
  if (merged.clipScores !== undefined) options.clipScores = merged.clipScores;
  return options;
}

export function classifyHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const { video: _video, url: formUrl, ...form } = (req.body ?? {}) as ClassifyForm & { video?: unknown };
    const url = formUrl ?? (req.query as ClassifyQuery).url;
    checkVideoSource(req, url);
    const registry = state.registry;
    const options = toClassifyOptions(req.query as ClassifyQuery, form);
    const model = registry.resolve(options.model);

    // A client that hangs up or a passed deadline stops the work: ffmpeg is killed, no more
    // batches are queued. The turn bounds how many requests decode and infer at once.
    const { signal } = contextOf(res);
    const video = await requestVideo(req, res, state, url, signal);
    const endTurn = await state.admission.turn(signal);
    try {
      const result = await classifyVideo({ file: video.path, displayName: video.name }, model, options, {
        limits: state.config.limits,
        maxBatch: state.config.maxBatch,
        signal,
        onBatch: (views) => state.metrics.batchSize.observe(views),
        ...(state.config.batching ? { batcher: state.batcherFor(model)! } : {}),
      });
      state.metrics.observeStages('classify', result.timings);
      const body: ClassifyResponse = result;
      res.json(body);
    } finally {
      endTurn();
    }
  };
}
