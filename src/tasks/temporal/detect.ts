/**
 * Temporal action detection of one video, as a pipeline: prepare (probe, limits) -> infer
 * (sliding-clip backbone features, then ActionFormer on the whole sequence) -> postprocess
 * (decode, Soft-NMS, seconds). Progress is reported by stage with a fraction, for jobs.
 */
import type { LoadedModel, LoadedTemporalModel } from '../../runtime/model-registry.js';
import { checkDecodeBudget, probeWithinLimits, type VideoLimits } from '../../video/limits.js';
import type { VideoInfo } from '../../video/probe.js';
import type { DecodePass } from '../../video/decode-budget.js';
import type { FeatureSettings } from '../../datasets/feature-index.js';
import { InvalidParameterError, ServiceError } from '../../errors.js';
import { extractFeatures, FEATURE_DECODE_PASSES } from './features.js';
import { detectOnSequence, type TemporalSegment } from './sequence.js';

export type { TemporalSegment } from './sequence.js';

export type DetectStage = 'probe' | 'features' | 'detect' | 'postprocess';

export interface DetectProgress {
  readonly stage: DetectStage;
  /** 0..1 over the whole job. */
  readonly fraction: number;
}

export interface TemporalDetectOptions {
  /** Segments scoring below this are left out (default: the model's minimum, 0.001). */
  readonly scoreThreshold?: number;
  /** At most this many segments (default: the model's maximum, 200). */
  readonly maxSegments?: number;
}

/** A video's result has `backbone` and `video`; precomputed features' (input 'features') has the fps and duration sent with them. */
export interface TemporalResult {
  readonly model: string;
  readonly input?: 'features';
  readonly backbone?: string;
  readonly video?: Omit<VideoInfo, 'bytes' | 'streamCount'>;
  readonly features: Pick<FeatureSettings, 'numFrames' | 'featureStride'> &
    Partial<FeatureSettings> & {
      readonly clips: number;
      readonly dim: number;
      readonly fps?: number;
      readonly duration?: number;
    };
  readonly segments: TemporalSegment[];
  readonly timings: { probeMs?: number; featuresMs?: number; loadMs?: number; detectMs: number; postprocessMs: number; totalMs: number };
}

export interface TemporalDetectSettings {
  readonly limits: VideoLimits;
  readonly maxBatch: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DetectProgress) => void;
}

/** What a client can change when its video is over the decode budget. */
export const TEMPORAL_BUDGET_HINT = 'temporal detection decodes every frame: send a shorter or smaller video';

/**
 * The probe's limits and the decode budget, before a frame is decoded (also run before a job
 * exists). `extraPasses`: more decoding of the same video the request asks for (an annotated
 * render), counted in the same budget.
 */
export async function checkTemporalInput(
  file: string,
  displayName: string,
  limits: VideoLimits,
  signal?: AbortSignal,
  extraPasses: readonly DecodePass[] = [],
): Promise<VideoInfo> {
  const info = await probeWithinLimits(file, displayName, limits, signal);
  await checkDecodeBudget(file, info, [...FEATURE_DECODE_PASSES, ...extraPasses], limits, TEMPORAL_BUDGET_HINT, signal);
  return info;
}

export function checkDetectOptions(options: TemporalDetectOptions): void {
  const t = options.scoreThreshold;
  if (t !== undefined && !(t >= 0 && t <= 1)) throw new InvalidParameterError('scoreThreshold', t, 'must be a number in [0, 1]');
  const m = options.maxSegments;
  if (m !== undefined && !(Number.isInteger(m) && m >= 1 && m <= 10000))
    throw new InvalidParameterError('maxSegments', m, 'must be an integer in [1, 10000]');
}

/** 400: a video was sent to a detector that has no backbone to make its features. */
export class FeaturesOnlyModelError extends ServiceError {
  constructor(model: string) {
    super(
      400,
      'features_only_model',
      `temporal model '${model}' has no backbone (it reads precomputed features, e.g. I3D): send its features as a .npy in the 'features' field (or run videomae detect-features), not a video`,
      { parameter: 'model', value: model },
    );
  }
}

/** The detector with its backbone; a features-only detector cannot take a video. */
export function withBackbone(models: { detector: LoadedTemporalModel; backbone: LoadedModel | undefined }): {
  detector: LoadedTemporalModel;
  backbone: LoadedModel;
} {
  if (!models.backbone) throw new FeaturesOnlyModelError(models.detector.name);
  return { detector: models.detector, backbone: models.backbone };
}

export async function detectTemporal(
  input: { file: string; displayName: string },
  models: { detector: LoadedTemporalModel; backbone: LoadedModel | undefined },
  options: TemporalDetectOptions,
  settings: TemporalDetectSettings,
): Promise<TemporalResult & Required<Pick<TemporalResult, 'backbone' | 'video'>>> {
  checkDetectOptions(options);
  const started = performance.now();
  const { detector, backbone } = withBackbone(models);
  const manifest = detector.folder.manifest;
  const report = (stage: DetectStage, fraction: number) => settings.onProgress?.({ stage, fraction: Math.min(1, Math.max(0, fraction)) });

  report('probe', 0);
  const info = await checkTemporalInput(input.file, input.displayName, settings.limits, settings.signal);
  const probeMs = performance.now() - started;

  const f = manifest.features;
  // the manifest schema requires size and normalization whenever there is a backbone
  const featureSettings: FeatureSettings = {
    numFrames: f.numFrames,
    featureStride: f.featureStride,
    size: f.size!,
    normalization: f.normalization!,
  };
  const featuresStart = performance.now();
  report('features', 0.01);
  const features = await extractFeatures({
    file: input.file,
    displayName: input.displayName,
    source: info,
    model: backbone,
    settings: featureSettings,
    maxBatch: settings.maxBatch,
    ...(settings.signal ? { signal: settings.signal } : {}),
    onProgress: (p) => report('features', 0.01 + 0.94 * (p.framesDecoded / Math.max(1, info.frameCount))),
  });
  const featuresMs = performance.now() - featuresStart;

  report('detect', 0.95);
  const timing = {
    featureStride: featureSettings.featureStride,
    numFrames: featureSettings.numFrames,
    fps: info.fps,
    duration: info.durationSec,
  };
  const { segments, detectMs, postprocessMs } = await detectOnSequence(
    detector,
    { data: features.features, steps: features.clips, dim: features.dim },
    timing,
    options,
    settings.signal,
  );
  report('postprocess', 1);
  const { bytes: _bytes, streamCount: _streams, ...video } = info;
  return {
    model: detector.name,
    backbone: backbone.name,
    video,
    features: { ...featureSettings, clips: features.clips, dim: features.dim },
    segments,
    timings: {
      probeMs: ms(probeMs),
      featuresMs: ms(featuresMs),
      detectMs: ms(detectMs),
      postprocessMs: ms(postprocessMs),
      totalMs: ms(performance.now() - started),
    },
  };
}

function ms(value: number): number {
  return Math.round(value);
}
