/**
 * Temporal action detection on precomputed features, as a pipeline: prepare (read the .npy,
 * check its shape against the model, settle fps / duration / stride) -> infer and postprocess
 * (detectOnSequence, the same code a video's features go through). This is how a features-only
 * model (an imported ActionFormer on I3D features) runs, from `videomae detect-features` and
 * from POST /detect-temporal with a `features` upload.
 */
import { InvalidParameterError, ServiceError, TooLargeError } from '../../errors.js';
import type { LoadedTemporalModel } from '../../runtime/model-registry.js';
import { readNpy } from '../../weights/npy.js';
import type { FeatureTiming } from '../../postprocess/temporal-decode.js';
import { checkDetectOptions, type DetectProgress, type TemporalDetectOptions, type TemporalResult } from './detect.js';
import { detectOnSequence, type FeatureSequence } from './sequence.js';

/** Longer sequences are refused (THUMOS14's longest video is about 6,000 steps at stride 4). */
export const MAX_FEATURE_STEPS = 200_000;

/** What the caller says about the features; fps and duration are required unless the model has a default fps. */
export interface FeatureTimingRequest {
  readonly fps?: number;
  readonly duration?: number;
  readonly featStride?: number;
  readonly numFrames?: number;
}

export interface FeatureDetectSettings {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DetectProgress) => void;
  /** The request parameter the features arrive in, named in errors ('features' over HTTP). */
  readonly parameter?: string;
}

/**
 * The timing of a feature sequence: fps (or the model's official default_fps), duration, and the
 * stride / clip length (default the model's), each checked and named when wrong.
 */
export function resolveFeatureTiming(detector: LoadedTemporalModel, given: FeatureTimingRequest): FeatureTiming {
  const f = detector.folder.manifest.features;
  const positive = (name: string, value: number | undefined, integer: boolean): void => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value)))) {
      throw new InvalidParameterError(name, value, integer ? 'must be a positive integer' : 'must be a positive number');
    }
  };
  positive('fps', given.fps, false);
  positive('duration', given.duration, false);
  positive('featStride', given.featStride, true);
  positive('numFrames', given.numFrames, true);
  const fps = given.fps ?? f.defaultFps;
  if (fps === undefined) {
    throw new ServiceError(
      400,
      'missing_parameter',
      `parameter 'fps' is required with precomputed features (the frame rate of the video they come from; model '${detector.name}' has no default fps)`,
      { parameter: 'fps' },
    );
  }
  if (given.duration === undefined) {
    throw new ServiceError(
      400,
      'missing_parameter',
      "parameter 'duration' is required with precomputed features (the video's length in seconds; segments are clamped to it)",
      { parameter: 'duration' },
    );
  }
  return { fps, duration: given.duration, featureStride: given.featStride ?? f.featureStride, numFrames: given.numFrames ?? f.numFrames };
}

/** Reads a [T, C] float32 (or float64) .npy and checks it against the detector's input width. */
export function readFeatureSequence(
  file: string,
  displayName: string,
  detector: LoadedTemporalModel,
  parameter = 'features',
): FeatureSequence {
  let npy: { data: Float32Array; shape: number[] };
  try {
    npy = readNpy(file);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    throw new ServiceError(
      400,
      'invalid_features',
      `${parameter} '${displayName}' ${error.message.replace(/^feature file '[^']*' /, '')}`,
      { parameter },
    );
  }
  const { shape } = npy;
  const inputDim = detector.folder.manifest.actionformer.inputDim;
  if (shape.length !== 2) {
    throw new ServiceError(
      400,
      'invalid_features',
      `${parameter} '${displayName}' has shape [${shape.join(', ')}]; expected [T, ${inputDim}] (one row per feature step, the official THUMOS layout)`,
      { parameter, value: shape },
    );
  }
  const [steps, dim] = shape as [number, number];
  if (dim !== inputDim) {
    throw new ServiceError(
      400,
      'feature_width_mismatch',
      `${parameter} '${displayName}' has ${dim}-d features (shape [${steps}, ${dim}]); model '${detector.name}' reads ${inputDim}-d features`,
      { parameter, value: shape },
    );
  }
  if (steps < 1)
    throw new ServiceError(400, 'invalid_features', `${parameter} '${displayName}' holds no feature steps (shape [${shape.join(', ')}])`, {
      parameter,
      value: shape,
    });
  if (steps > MAX_FEATURE_STEPS)
    throw new TooLargeError(
      'features_too_long',
      `${parameter} '${displayName}' has ${steps} steps; at most ${MAX_FEATURE_STEPS} are taken`,
      { parameter, value: steps },
    );
  for (let i = 0; i < npy.data.length; i++) {
    if (!Number.isFinite(npy.data[i]!)) {
      throw new ServiceError(
        400,
        'invalid_features',
        `${parameter} '${displayName}' holds a non-finite value at step ${Math.floor(i / dim)}, channel ${i % dim}`,
        { parameter },
      );
    }
  }
  return { data: npy.data, steps, dim };
}

/**
 * Detects actions in precomputed features.
 *
 * @example
 * await detectFeatures({ file: 'video_test_0000004.npy', displayName: 'video_test_0000004.npy' }, detector, { fps: 30, duration: 33.5 }, {})
 * // -> { model: 'actionformer-thumos', input: 'features', features: { numFrames: 16, featureStride: 4, clips: 247, dim: 2048, fps: 30, duration: 33.5 },
 * //      segments: [{ label: 'CricketBowling', labelIndex: 5, start: 0.8, end: 2.9, score: 0.71 }, ...], timings: { loadMs, detectMs, postprocessMs, totalMs } }
 */
export async function detectFeatures(
  input: { file: string; displayName: string },
  detector: LoadedTemporalModel,
  timingRequest: FeatureTimingRequest,
  options: TemporalDetectOptions,
  settings: FeatureDetectSettings = {},
): Promise<TemporalResult> {
  checkDetectOptions(options);
  const started = performance.now();
  const timing = resolveFeatureTiming(detector, timingRequest);
  settings.onProgress?.({ stage: 'features', fraction: 0 });
  const sequence = readFeatureSequence(input.file, input.displayName, detector, settings.parameter);
  const loadMs = performance.now() - started;
  settings.onProgress?.({ stage: 'detect', fraction: 0.1 });
  const { segments, detectMs, postprocessMs } = await detectOnSequence(detector, sequence, timing, options, settings.signal);
  settings.onProgress?.({ stage: 'postprocess', fraction: 1 });
  return {
    model: detector.name,
    input: 'features',
    features: {
      numFrames: timing.numFrames,
      featureStride: timing.featureStride,
      clips: sequence.steps,
      dim: sequence.dim,
      fps: timing.fps,
      duration: timing.duration,
    },
    segments,
    timings: {
      loadMs: Math.round(loadMs),
      detectMs: Math.round(detectMs),
      postprocessMs: Math.round(postprocessMs),
      totalMs: Math.round(performance.now() - started),
    },
  };
}
