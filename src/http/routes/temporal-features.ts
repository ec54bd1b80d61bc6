/**
 * POST /detect-temporal with precomputed features (a `features` .npy upload with fps, duration,
 * featStride, numFrames): checked now (shape, width, dtype, timing: 4xx before any job exists),
 * then run as a temporal job like a video, by detectFeatures.
 */
import type { Request } from 'express';
import { InvalidParameterError } from '../../errors.js';
import { readFeatureSequence, resolveFeatureTiming, type FeatureTimingRequest } from '../../tasks/temporal/detect-features.js';
import { checkDetectOptions, type TemporalDetectOptions } from '../../tasks/temporal/detect.js';
import type { JobRecord } from '../jobs/job-store.js';
import type { ServiceState } from '../service-state.js';
import type { UploadedVideo } from '../upload.js';

/** What a features job stores in its request, beside model, options and fileName. */
export interface FeaturesJobRequest {
  readonly input: 'features';
  readonly timing: FeatureTimingRequest;
}

const num = (value: unknown): number | undefined => (value === undefined || value === '' ? undefined : Number(value));

export async function submitFeaturesJob(
  req: Request,
  state: ServiceState,
  features: UploadedVideo,
  merged: {
    model?: string;
    url?: string;
    scoreThreshold?: unknown;
    maxSegments?: unknown;
    fps?: unknown;
    duration?: unknown;
    featStride?: unknown;
    numFrames?: unknown;
  },
): Promise<JobRecord> {
  if (merged.url !== undefined) throw new InvalidParameterError('url', merged.url, "cannot be given together with uploaded 'features'");
  if ((req.body as { video?: unknown } | undefined)?.video !== undefined)
    throw new InvalidParameterError('video', 'upload', "cannot be given together with uploaded 'features'");
  const { detector } = state.registry.resolveTemporal(merged.model);
  const options: TemporalDetectOptions = {
    ...(merged.scoreThreshold !== undefined ? { scoreThreshold: Number(merged.scoreThreshold) } : {}),
    ...(merged.maxSegments !== undefined ? { maxSegments: Number(merged.maxSegments) } : {}),
  };
  checkDetectOptions(options);
  const timing: FeatureTimingRequest = Object.fromEntries(
    (['fps', 'duration', 'featStride', 'numFrames'] as const).map((k) => [k, num(merged[k])]).filter(([, v]) => v !== undefined),
  );
  resolveFeatureTiming(detector, timing);
  const name = features.originalName || 'features.npy';
  // The whole file is read and checked here so a bad one is a 4xx now, not a failed job later.
  readFeatureSequence(features.path, name, detector);
  if (!state.jobs) throw new Error('unreachable: the caller checked the job queue');
  const request: FeaturesJobRequest = { input: 'features', timing };
  return await state.jobs.submit({ model: detector.name, options, fileName: name, ...request }, features.path);
}
