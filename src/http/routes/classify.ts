/**
 * POST /classify: maps the validated wire request to domain options, runs the classification
 * pipeline on the uploaded file, and maps the result back to the wire shape.
 */
import type { Request, Response } from 'express';
import { InvalidParameterError } from '../../errors.js';
import { contextOf } from '../request-context.js';
import { classifyVideo } from '../../tasks/classify/pipeline.js';
import type { ClassifyOptions } from '../../tasks/classify/prepare.js';
import type { components, operations } from '../generated/openapi.js';
import { definedOnly } from '../form-fields.js';
import type { ServiceState } from '../service-state.js';
import { uploadedVideo } from '../upload.js';

type ClassifyQuery = NonNullable<operations['classify']['parameters']['query']>;
type ClassifyForm = Omit<operations['classify']['requestBody']['content']['multipart/form-data'], 'video'>;
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
  return options;
}

export function classifyHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const registry = state.registry;
    const upload = uploadedVideo(req);
    if (!upload) throw new InvalidParameterError('video', (req.body as { video?: unknown })?.video, 'must be a file uploaded as multipart/form-data');
    const { video: _video, ...form } = req.body as ClassifyForm & { video?: unknown };
    const options = toClassifyOptions(req.query as ClassifyQuery, form);
    const model = registry.resolve(options.model);

    // A client that hangs up or a passed deadline stops the work: ffmpeg is killed, no more
    // batches are queued. The turn bounds how many requests decode and infer at once.
    const { signal } = contextOf(res);
    const endTurn = await state.admission.turn(signal);
    try {
      const result = await classifyVideo(
        { file: upload.path, displayName: upload.originalName || 'video' },
        model,
        options,
        { limits: state.config.limits, maxBatch: state.config.maxBatch, signal },
      );
      const body: ClassifyResponse = result;
      res.json(body);
    } finally {
      endTurn();
    }
  };
}
