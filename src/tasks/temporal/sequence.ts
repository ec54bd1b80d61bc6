/**
 * ActionFormer on one feature sequence, then decode, Soft-NMS and seconds: the part of temporal
 * detection shared by a video (features made by the backbone here) and precomputed features
 * (an uploaded or local .npy). Padding, masks, decoding and the time conversion follow the
 * official inference (libs/modeling/meta_archs.py: preprocessing, inference_single_video,
 * postprocessing).
 */
import { paddedLength, pyramidLevels } from '../../config/actionformer.js';
import { InternalError } from '../../errors.js';
import { ACTIONFORMER_INPUTS, ACTIONFORMER_OUTPUTS } from '../../onnx/actionformer-graph.js';
import { batchedNms } from '../../postprocess/soft-nms-1d.js';
import { decodeLevels, splitLevels, stepsToSeconds, type FeatureTiming } from '../../postprocess/temporal-decode.js';
import type { LoadedTemporalModel } from '../../runtime/model-registry.js';
import { float32Tensor } from '../../runtime/tensor.js';

export interface TemporalSegment {
  readonly label: string;
  /** Row of the label file (the class index of the head). */
  readonly labelIndex: number;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

/** Features in the official THUMOS layout: `data` is [T, D] (row t = the clip at frame t x featureStride). */
export interface FeatureSequence {
  readonly data: Float32Array;
  readonly steps: number;
  readonly dim: number;
}

export interface SequenceOptions {
  /** Segments scoring below this are left out (default: the model's NMS minimum score). */
  readonly scoreThreshold?: number;
  /** At most this many segments (default: the model's maximum). */
  readonly maxSegments?: number;
}

export interface SequenceDetection {
  readonly segments: TemporalSegment[];
  readonly detectMs: number;
  readonly postprocessMs: number;
}

/**
 * Runs the detector on `sequence` and returns its segments in seconds, best first.
 *
 * @example
 * await detectOnSequence(detector, { data, steps: 731, dim: 2048 }, { featureStride: 4, numFrames: 16, fps: 30, duration: 97.7 }, {})
 * // -> { segments: [{ label: 'CliffDiving', labelIndex: 4, start: 17.467, end: 17.555, score: 0.183 }, ...], detectMs, postprocessMs }
 */
export async function detectOnSequence(
  detector: LoadedTemporalModel,
  sequence: FeatureSequence,
  timing: FeatureTiming,
  options: SequenceOptions,
  signal?: AbortSignal,
): Promise<SequenceDetection> {
  const manifest = detector.folder.manifest;
  const config = manifest.actionformer;
  const valid = sequence.steps;
  if (sequence.dim !== config.inputDim || sequence.data.length !== valid * sequence.dim || valid < 1) {
    throw new InternalError(
      `detectOnSequence: ${valid} x ${sequence.dim} features (${sequence.data.length} values) for a model of ${config.inputDim}-d inputs`,
    );
  }
  const detectStart = performance.now();
  // The official preprocessing: pad to max_seq_len, or (longer inputs) to a multiple of max_div_factor.
  const length = paddedLength(config, valid);
  // [T, D] -> [1, D, length] padded with zeros, mask 1 on the real steps.
  const feats = new Float32Array(sequence.dim * length);
  for (let t = 0; t < valid; t++) for (let d = 0; d < sequence.dim; d++) feats[d * length + t] = sequence.data[t * sequence.dim + d]!;
  const mask = new Float32Array(length).fill(1, 0, valid);
  signal?.throwIfAborted();
  const { outputs } = await detector.runner.run(
    {
      [ACTIONFORMER_INPUTS.feats]: float32Tensor(feats, [1, sequence.dim, length]),
      [ACTIONFORMER_INPUTS.mask]: float32Tensor(mask, [1, 1, length]),
    },
    [ACTIONFORMER_OUTPUTS.logits, ACTIONFORMER_OUTPUTS.offsets],
  );
  const logits = outputs[ACTIONFORMER_OUTPUTS.logits];
  const offsets = outputs[ACTIONFORMER_OUTPUTS.offsets];
  if (!logits || !offsets)
    throw new InternalError(`model '${detector.name}' did not return ${ACTIONFORMER_OUTPUTS.logits} and ${ACTIONFORMER_OUTPUTS.offsets}`);
  const detectMs = performance.now() - detectStart;

  const postStart = performance.now();
  const post = manifest.postprocess;
  const levels = splitLevels(logits.data, offsets.data, pyramidLevels(config), length, valid, config.numClasses);
  const candidates = decodeLevels(levels, config.numClasses, post);
  const nms = { ...post.nms, ...(options.maxSegments ? { maxSegments: options.maxSegments } : {}) };
  const kept = batchedNms(candidates, nms);
  const seconds = stepsToSeconds(kept.segments, timing);
  const threshold = options.scoreThreshold ?? post.nms.minScore;
  const segments: TemporalSegment[] = [];
  kept.scores.forEach((score, i) => {
    if (score < threshold) return;
    const index = kept.labels[i]!;
    segments.push({
      label: detector.labels[index]!,
      labelIndex: index,
      start: round(seconds[2 * i]!),
      end: round(seconds[2 * i + 1]!),
      score: round(score, 6),
    });
  });
  return { segments, detectMs, postprocessMs: performance.now() - postStart };
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
