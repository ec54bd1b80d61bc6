/**
 * From ActionFormer's per-level outputs to candidate segments (libs/modeling/meta_archs.py,
 * inference_single_video), and from feature steps to seconds. Pure functions on typed arrays.
 */
import type { Segments } from './soft-nms-1d.js';

export interface LevelOutput {
  /** [T_l, C] classification logits (sigmoid gives the score). */
  readonly logits: Float32Array;
  /** [T_l, 2] as [left, right] distances in units of this level's stride (already ReLU(scale x .)). */
  readonly offsets: Float32Array;
  /** [T_l], 1 where the position holds real features. */
  readonly mask: Uint8Array;
  /** Feature steps between positions of this level (1, 2, 4, ... 32). */
  readonly stride: number;
}

export interface DecodeOptions {
  /** Scores at or below this are dropped (ActionFormer's pre_nms_thresh, 0.001). */
  readonly scoreThreshold: number;
  /** At most this many candidates per level (pre_nms_topk, 2000). */
  readonly topK: number;
  /** Segments not longer than this many feature steps are dropped (duration_thresh, 0.05). */
  readonly minDuration: number;
}

export const ACTIONFORMER_DECODE: DecodeOptions = { scoreThreshold: 0.001, topK: 2000, minDuration: 0.05 };

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Candidates of all levels, in feature steps of the input sequence: position i of a level with
 * stride s sits at t = i x s and predicts [t - left x s, t + right x s].
 *
 * @example
 * decodeLevels([{ logits: Float32Array.of(0, -9), offsets: Float32Array.of(1, 2, 0, 0), mask: Uint8Array.of(1, 1), stride: 2 }], 1, ACTIONFORMER_DECODE)
 * // -> one segment [-2, 4] (position 0, stride 2), score 0.5, label 0
 */
export function decodeLevels(levels: readonly LevelOutput[], numClasses: number, options: DecodeOptions): Segments {
  const segments: number[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  for (const level of levels) {
    const positions = level.mask.length;
    if (level.logits.length !== positions * numClasses || level.offsets.length !== 2 * positions) {
      throw new RangeError(
        `decodeLevels: a level with ${positions} positions has ${level.logits.length} logits and ${level.offsets.length} offsets for ${numClasses} classes`,
      );
    }
    const candidates: Array<{ flat: number; score: number }> = [];
    for (let i = 0; i < positions; i++) {
      if (!level.mask[i]) continue;
      for (let c = 0; c < numClasses; c++) {
        const score = sigmoid(level.logits[i * numClasses + c]!);
        if (score > options.scoreThreshold) candidates.push({ flat: i * numClasses + c, score });
      }
    }
    candidates.sort((a, b) => b.score - a.score || a.flat - b.flat);
    for (const { flat, score } of candidates.slice(0, options.topK)) {
      const i = Math.floor(flat / numClasses);
      const t = i * level.stride;
      const start = t - level.offsets[2 * i]! * level.stride;
      const end = t + level.offsets[2 * i + 1]! * level.stride;
      if (end - start <= options.minDuration) continue;
      segments.push(start, end);
      scores.push(score);
      labels.push(flat % numClasses);
    }
  }
  return { segments: Float32Array.from(segments), scores: Float32Array.from(scores), labels: Int32Array.from(labels) };
}

export interface FeatureTiming {
  /** Frames between consecutive feature clips. */
  readonly featureStride: number;
  /** Frames per feature clip. */
  readonly numFrames: number;
  readonly fps: number;
  /** Video duration in seconds; times are clamped to [0, duration]. */
  readonly duration: number;
}

/**
 * Feature steps -> seconds: a step x covers the clip starting at frame x x featureStride, whose
 * centre is half a clip later: t = (x x featureStride + 0.5 x numFrames) / fps.
 */
export function stepsToSeconds(segments: Float32Array, timing: FeatureTiming): Float32Array {
  const out = new Float32Array(segments.length);
  for (let i = 0; i < segments.length; i++) {
    const t = (segments[i]! * timing.featureStride + 0.5 * timing.numFrames) / timing.fps;
    out[i] = Math.min(Math.max(t, 0), timing.duration);
  }
  return out;
}

/**
 * The ONNX graph's concatenated outputs ([sum_l T_l, C] logits, [sum_l T_l, 2] offsets for an
 * input of `length` steps, `valid` of them real) back into levels, with each level's mask
 * (position i of level l is real when i x 2^l < valid).
 */
export function splitLevels(
  logits: Float32Array,
  offsets: Float32Array,
  levels: number,
  length: number,
  valid: number,
  numClasses: number,
): LevelOutput[] {
  const out: LevelOutput[] = [];
  let position = 0;
  for (let l = 0; l < levels; l++) {
    const stride = 2 ** l;
    const count = length / stride;
    const mask = new Uint8Array(count);
    for (let i = 0; i < count; i++) mask[i] = i * stride < valid ? 1 : 0;
    out.push({
      logits: logits.subarray(position * numClasses, (position + count) * numClasses),
      offsets: offsets.subarray(position * 2, (position + count) * 2),
      mask,
      stride,
    });
    position += count;
  }
  if (position * numClasses !== logits.length || position * 2 !== offsets.length) {
    throw new RangeError(`splitLevels: ${logits.length / numClasses} positions of logits for levels totalling ${position}`);
  }
  return out;
}
