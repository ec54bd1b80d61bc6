/**
 * Temporal action detection of one video, as a pipeline: prepare (probe, limits) -> infer
 * (sliding-clip backbone features, then ActionFormer on the whole sequence) -> postprocess
 * (decode, Soft-NMS, seconds). Progress is reported by stage with a fraction, for jobs.
 */
import { paddedLength, pyramidLevels } from '../../config/actionformer.js';
import { ACTIONFORMER_INPUTS, ACTIONFORMER_OUTPUTS } from '../../onnx/actionformer-graph.js';
import { batchedNms } from '../../postprocess/soft-nms-1d.js';
import { decodeLevels, splitLevels, stepsToSeconds } from '../../postprocess/temporal-decode.js';
import type { LoadedModel, LoadedTemporalModel } from '../../runtime/model-registry.js';
import { float32Tensor } from '../../runtime/tensor.js';
import { checkDecodeBudget, probeWithinLimits, type VideoLimits } from '../../video/limits.js';
import type { VideoInfo } from '../../video/probe.js';
import type { FeatureSettings } from '../../datasets/feature-index.js';
import { InternalError, InvalidParameterError } from '../../errors.js';
import { extractFeatures, FEATURE_DECODE_PASSES } from './features.js';

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

export interface TemporalSegment {
  readonly label: string;
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

export interface TemporalResult {
  readonly model: string;
  readonly backbone: string;
  readonly video: Omit<VideoInfo, 'bytes' | 'streamCount'>;
  readonly features: FeatureSettings & { readonly clips: number; readonly dim: number };
  readonly segments: TemporalSegment[];
  readonly timings: { probeMs: number; featuresMs: number; detectMs: number; postprocessMs: number; totalMs: number };
}

export interface TemporalDetectSettings {
  readonly limits: VideoLimits;
  readonly maxBatch: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DetectProgress) => void;
}

/** What a client can change when its video is over the decode budget. */
export const TEMPORAL_BUDGET_HINT = 'temporal detection decodes every frame: send a shorter or smaller video';

/** The probe's limits and the decode budget, before a frame is decoded (also run before a job exists). */
export async function checkTemporalInput(file: string, displayName: string, limits: VideoLimits, signal?: AbortSignal): Promise<VideoInfo> {
  const info = await probeWithinLimits(file, displayName, limits, signal);
  await checkDecodeBudget(file, info, FEATURE_DECODE_PASSES, limits, TEMPORAL_BUDGET_HINT, signal);
  return info;
}

export function checkDetectOptions(options: TemporalDetectOptions): void {
  const t = options.scoreThreshold;
  if (t !== undefined && !(t >= 0 && t <= 1)) throw new InvalidParameterError('scoreThreshold', t, 'must be a number in [0, 1]');
  const m = options.maxSegments;
  if (m !== undefined && !(Number.isInteger(m) && m >= 1 && m <= 10000)) throw new InvalidParameterError('maxSegments', m, 'must be an integer in [1, 10000]');
}

export async function detectTemporal(
  input: { file: string; displayName: string },
  models: { detector: LoadedTemporalModel; backbone: LoadedModel },
  options: TemporalDetectOptions,
  settings: TemporalDetectSettings,
): Promise<TemporalResult> {
  checkDetectOptions(options);
  const started = performance.now();
  const { detector, backbone } = models;
  const manifest = detector.folder.manifest;
  const report = (stage: DetectStage, fraction: number) => settings.onProgress?.({ stage, fraction: Math.min(1, Math.max(0, fraction)) });

  report('probe', 0);
  const info = await checkTemporalInput(input.file, input.displayName, settings.limits, settings.signal);
  const probeMs = performance.now() - started;

  const featureSettings: FeatureSettings = { numFrames: manifest.features.numFrames, featureStride: manifest.features.featureStride, size: manifest.features.size, normalization: manifest.features.normalization };
  const featuresStart = performance.now();
  report('features', 0.01);
  const features = await extractFeatures({
    file: input.file, displayName: input.displayName, source: info, model: backbone, settings: featureSettings, maxBatch: settings.maxBatch,
    ...(settings.signal ? { signal: settings.signal } : {}),
    onProgress: (p) => report('features', 0.01 + 0.94 * (p.framesDecoded / Math.max(1, info.frameCount))),
  });
  const featuresMs = performance.now() - featuresStart;

  report('detect', 0.95);
  const detectStart = performance.now();
  const config = manifest.actionformer;
  const valid = features.clips;
  // The official inference padding: to maxSeqLen, or past it to a multiple of the largest stride x window.
  const length = paddedLength(config, valid);
  // [T, D] -> [1, D, T] padded with zeros, mask 1 on the real steps.
  const feats = new Float32Array(features.dim * length);
  for (let t = 0; t < valid; t++) for (let d = 0; d < features.dim; d++) feats[d * length + t] = features.features[t * features.dim + d]!;
  const mask = new Float32Array(length).fill(1, 0, valid);
  settings.signal?.throwIfAborted();
  const { outputs } = await detector.runner.run({
    [ACTIONFORMER_INPUTS.feats]: float32Tensor(feats, [1, features.dim, length]),
    [ACTIONFORMER_INPUTS.mask]: float32Tensor(mask, [1, 1, length]),
  }, [ACTIONFORMER_OUTPUTS.logits, ACTIONFORMER_OUTPUTS.offsets]);
  const logits = outputs[ACTIONFORMER_OUTPUTS.logits];
  const offsets = outputs[ACTIONFORMER_OUTPUTS.offsets];
  if (!logits || !offsets) throw new InternalError(`model '${detector.name}' did not return ${ACTIONFORMER_OUTPUTS.logits} and ${ACTIONFORMER_OUTPUTS.offsets}`);
  const detectMs = performance.now() - detectStart;

  report('postprocess', 0.99);
  const postStart = performance.now();
  const post = manifest.postprocess;
  const levels = splitLevels(logits.data, offsets.data, pyramidLevels(config), length, valid, config.numClasses);
  const candidates = decodeLevels(levels, config.numClasses, post);
  const nms = { ...post.nms, ...(options.maxSegments ? { maxSegments: options.maxSegments } : {}) };
  const kept = batchedNms(candidates, nms);
  const seconds = stepsToSeconds(kept.segments, { featureStride: featureSettings.featureStride, numFrames: featureSettings.numFrames, fps: info.fps, duration: info.durationSec });
  const threshold = options.scoreThreshold ?? post.nms.minScore;
  const segments: TemporalSegment[] = [];
  kept.scores.forEach((score, i) => {
    if (score < threshold) return;
    const index = kept.labels[i]!;
    segments.push({ label: detector.labels[index]!, index, start: round(seconds[2 * i]!), end: round(seconds[2 * i + 1]!), score: round(score, 6) });
  });
  const postprocessMs = performance.now() - postStart;
  report('postprocess', 1);
  const { bytes: _bytes, streamCount: _streams, ...video } = info;
  return {
    model: detector.name,
    backbone: backbone.name,
    video,
    features: { ...featureSettings, clips: features.clips, dim: features.dim },
    segments,
    timings: { probeMs: ms(probeMs), featuresMs: ms(featuresMs), detectMs: ms(detectMs), postprocessMs: ms(postprocessMs), totalMs: ms(performance.now() - started) },
  };
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function ms(value: number): number {
  return Math.round(value);
}
