/**
 * Who does what, where and when, as a pipeline: prepare (probe, limits, keyframes) -> infer
 * (people on each keyframe from the detector or the request, those under the model's person
 * threshold dropped; the backbone once per keyframe clip, at the manifest's frame offsets, size,
 * padding and normalization (ava-clip.ts); the action head on that clip's token map for all its
 * people, their boxes enlarged and clipped as the manifest says) -> postprocess
 * (score = sigmoid x person score, threshold, top K). Frames are decoded in order and
 * dropped once no later clip needs them, so memory does not grow with the video.
 */
import type { PersonDetector } from '../../detector/person-detector.js';
import { InvalidParameterError } from '../../errors.js';
import { AVA_HEAD_OUTPUTS } from '../../onnx/ava-head-graph.js';
import { BACKBONE_INPUT } from '../../onnx/vit-graph.js';
import type { ScoredBoxes } from '../../postprocess/boxes.js';
import type { LoadedModel, LoadedSpatiotemporalModel } from '../../runtime/model-registry.js';
import { float32Tensor } from '../../runtime/tensor.js';
import { decodeFrames } from '../../video/decode.js';
import type { Size } from '../../video/geometry.js';
import type { DecodePass } from '../../video/decode-budget.js';
import { checkDecodeBudget, probeWithinLimits, type VideoLimits } from '../../video/limits.js';
import type { VideoInfo } from '../../video/probe.js';
import { packFramesPadded } from '../../video/transforms.js';
import { avaFrameGeometry, avaRois, clipFrames, clipNormalization, frameOffsetsOf, type AvaClipSpec } from '../../video/ava-clip.js';
import { clipsInOrder, neededFrames } from './clip-stream.js';
import { headFeeds } from './head-inputs.js';

/** The largest short side a request may ask for (the token count grows with its square). */
export const MAX_SHORT_SIDE = 1024;

export interface GivenKeyframeBoxes {
  readonly timestamp: number;
  /** Normalized [x1, y1, x2, y2], optionally followed by a score. */
  readonly boxes: ReadonlyArray<readonly number[]>;
}

export interface SpatiotemporalOptions {
  readonly timestamps?: readonly number[];
  /** Seconds between keyframes when no timestamps are given (AVA: 1). */
  readonly keyframeInterval?: number;
  /** People given per timestamp (then no detector runs). */
  readonly boxes?: readonly GivenKeyframeBoxes[];
  /** Actions scoring below this are left out (default 0.1). */
  readonly scoreThreshold?: number;
  /** At most this many actions per person (default 5). */
  readonly topK?: number;
  /** Short side of the frames the backbone sees (default: the model's, 256 for AVA). */
  readonly shortSide?: number;
  /** People scoring below this are left out before the head (default: the model's, 0.8 for the official AVA model). */
  readonly personScoreThreshold?: number;
}

export interface PersonActions {
  readonly box: [number, number, number, number];
  readonly boxPixels: [number, number, number, number];
  readonly score: number;
  readonly actions: Array<{ id: number; label: string; score: number; evaluated?: boolean }>;
}

export interface SpatiotemporalResult {
  readonly model: string;
  readonly backbone: string;
  readonly detector: 'centernet' | 'given';
  readonly video: Omit<VideoInfo, 'bytes' | 'streamCount'>;
  /** The clip around each keyframe, the resized frame (`content`) and the padded size the backbone saw (`input`). */
  readonly clip: { numFrames: number; rate: number; shortSide: number; input: Size; content: Size; frameOffsets: number[] };
  readonly keyframes: Array<{ time: number; frame: number; people: PersonActions[] }>;
  readonly timings: { probeMs: number; peopleMs: number; actionsMs: number; totalMs: number };
}

export interface SpatiotemporalSettings {
  readonly limits: VideoLimits;
  readonly detector?: PersonDetector;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: { stage: string; fraction: number }) => void;
}

/** A requested short side must give at least one patch and stay within MAX_SHORT_SIDE. */
export function checkShortSide(shortSide: number | undefined, patchSize: number): void {
  if (shortSide === undefined) return;
  if (!(Number.isInteger(shortSide) && shortSide >= patchSize && shortSide <= MAX_SHORT_SIDE)) {
    throw new InvalidParameterError(
      'shortSide',
      shortSide,
      `must be an integer from ${patchSize} (the patch size) to ${MAX_SHORT_SIDE} pixels`,
    );
  }
}

/** Keyframe times: the given ones (inside the video), or every `interval` seconds from `interval`. */
export function keyframeTimes(
  durationSec: number,
  options: Pick<SpatiotemporalOptions, 'timestamps' | 'keyframeInterval' | 'boxes'>,
): number[] {
  if (options.boxes?.length) return [...new Set(options.boxes.map((b) => b.timestamp))].sort((a, b) => a - b);
  if (options.timestamps?.length) {
    const bad = options.timestamps.find((t) => !(t >= 0 && t <= durationSec));
    if (bad !== undefined)
      throw new InvalidParameterError('timestamps', bad, `must lie within the video (0 to ${durationSec.toFixed(2)} s)`);
    return [...new Set(options.timestamps)].sort((a, b) => a - b);
  }
  const interval = options.keyframeInterval ?? 1;
  if (!(interval > 0)) throw new InvalidParameterError('keyframeInterval', interval, 'must be a positive number of seconds');
  const times: number[] = [];
  for (let t = interval; t < durationSec; t += interval) times.push(Math.round(t * 1000) / 1000);
  return times.length ? times : [durationSec / 2];
}

/** Frame indices of the clip centred on `keyframe`: numFrames at `rate`, clamped to the video. */
export function clipAround(keyframe: number, numFrames: number, rate: number, frameCount: number): number[] {
  return clipFrames(keyframe, frameOffsetsOf({ numFrames, rate, shortSide: 1, resize: 'round-to-patch' }), frameCount);
}

export interface KeyframePlan {
  readonly times: number[];
  /** The frame of each keyframe time. */
  readonly frames: number[];
  /** `[keyframes][numFrames]` frame indices of the clip around each keyframe. */
  readonly clips: number[][];
}

/** Keyframe times, their frames and their clips (bad timestamps are a 400 here, before any work). */
export function planKeyframes(info: VideoInfo, options: SpatiotemporalOptions, clip: ClipTiming): KeyframePlan {
  const times = keyframeTimes(info.durationSec, options);
  const frames = times.map((t) => Math.min(info.frameCount - 1, Math.max(0, Math.round(t * info.fps))));
  const offsets = frameOffsetsOf({ shortSide: 1, resize: 'round-to-patch', ...clip });
  return { times, frames, clips: frames.map((f) => clipFrames(f, offsets, info.frameCount)) };
}

/** What the frame plan needs of a clip: its length and rate, or explicit offsets from the keyframe. */
export type ClipTiming = Pick<AvaClipSpec, 'numFrames' | 'rate' | 'frameOffsets'>;

/** The decoding detectSpatiotemporal does: the keyframes for the detector (unless boxes are given), then the clips. */
export function spatiotemporalDecodePasses(plan: KeyframePlan, detector: boolean): DecodePass[] {
  const clips: DecodePass = { kind: 'frames', indices: neededFrames(plan.clips) };
  return detector ? [{ kind: 'frames', indices: [...new Set(plan.frames)].sort((a, b) => a - b) }, clips] : [clips];
}

/** What a client can change when its request is over the decode budget. */
export const SPATIOTEMPORAL_BUDGET_HINT = 'ask for fewer timestamps or a longer keyframeInterval, or send a shorter or smaller video';

/**
 * The probe's limits, the keyframe plan and the decode budget, before a frame is decoded (also
 * run before a job exists). `extraPasses`: more decoding of the same video the request asks for
 * (an annotated render), counted in the same budget.
 */
export async function checkSpatiotemporalInput(
  input: { file: string; displayName: string },
  options: SpatiotemporalOptions,
  clip: ClipTiming,
  limits: VideoLimits,
  signal?: AbortSignal,
  extraPasses: readonly DecodePass[] = [],
): Promise<{ info: VideoInfo; plan: KeyframePlan }> {
  const info = await probeWithinLimits(input.file, input.displayName, limits, signal);
  const plan = planKeyframes(info, options, clip);
  await checkDecodeBudget(
    input.file,
    info,
    [...spatiotemporalDecodePasses(plan, !options.boxes?.length), ...extraPasses],
    limits,
    SPATIOTEMPORAL_BUDGET_HINT,
    signal,
  );
  return { info, plan };
}

/** The boxes scoring at least `threshold` (the official box_thresh of the evaluation). */
function keepConfident(found: ScoredBoxes, threshold: number): ScoredBoxes {
  const keep = [...found.scores.keys()].filter((i) => found.scores[i]! >= threshold);
  if (keep.length === found.scores.length) return found;
  const boxes = new Float32Array(keep.length * 4);
  keep.forEach((i, j) => boxes.set(found.boxes.subarray(4 * i, 4 * i + 4), 4 * j));
  return { boxes, scores: Float32Array.from(keep.map((i) => found.scores[i]!)) };
}

function givenBoxes(entry: GivenKeyframeBoxes | undefined): ScoredBoxes {
  const list = entry?.boxes ?? [];
  const boxes = new Float32Array(list.length * 4);
  const scores = new Float32Array(list.length);
  list.forEach((b, i) => {
    if (b.length < 4 || b.slice(0, 4).some((v) => !(v >= 0 && v <= 1)) || b[2]! < b[0]! || b[3]! < b[1]!) {
      throw new InvalidParameterError('boxes', b, 'must be normalized [x1, y1, x2, y2] (optionally a score) with x1 <= x2 and y1 <= y2');
    }
    boxes.set(b.slice(0, 4), 4 * i);
    scores[i] = b[4] ?? 1;
  });
  return { boxes, scores };
}

export async function detectSpatiotemporal(
  input: { file: string; displayName: string },
  models: { head: LoadedSpatiotemporalModel; backbone: LoadedModel },
  options: SpatiotemporalOptions,
  settings: SpatiotemporalSettings,
): Promise<SpatiotemporalResult> {
  const started = performance.now();
  const { head, backbone } = models;
  const m = head.folder.manifest;
  const threshold = options.scoreThreshold ?? 0.1;
  const topK = options.topK ?? 5;
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidParameterError('scoreThreshold', threshold, 'must be a number in [0, 1]');
  if (!(Number.isInteger(topK) && topK >= 1)) throw new InvalidParameterError('topK', topK, 'must be a positive integer');
  checkShortSide(options.shortSide, m.head.patchSize);
  const shortSide = options.shortSide ?? m.clip.shortSide;
  if (!options.boxes?.length && !settings.detector)
    throw new InvalidParameterError('boxes', undefined, 'are required: this server runs no person detector');

  const { numFrames, rate } = m.clip;
  const personThreshold = options.personScoreThreshold ?? m.postprocess.personScoreThreshold;
  if (!(personThreshold >= 0 && personThreshold <= 1))
    throw new InvalidParameterError('personScoreThreshold', personThreshold, 'must be a number in [0, 1]');
  const { info, plan } = await checkSpatiotemporalInput(input, options, m.clip, settings.limits, settings.signal);
  const probeMs = performance.now() - started;
  const { times, frames, clips } = plan;
  settings.onProgress?.({ stage: 'people', fraction: 0.02 });

  // People on every keyframe: given, or found by the detector on the keyframe itself.
  const peopleStart = performance.now();
  const people = new Map<number, ScoredBoxes>();
  if (options.boxes?.length) {
    times.forEach((t, k) => people.set(k, givenBoxes(options.boxes!.find((b) => b.timestamp === t))));
  } else {
    const detector = settings.detector!;
    const size = detector.inputSize ?? { width: info.width, height: info.height };
    const unique = [...new Set(frames)].sort((a, b) => a - b);
    const found = new Map<number, ScoredBoxes>();
    for await (const f of decodeFrames({
      file: input.file,
      fps: info.fps,
      indices: unique,
      source: info,
      size,
      ...(settings.signal ? { signal: settings.signal } : {}),
    })) {
      found.set(f.index, await detector.detect({ rgb: f.rgb, width: size.width, height: size.height }));
      settings.onProgress?.({ stage: 'people', fraction: 0.02 + 0.4 * (found.size / unique.length) });
    }
    frames.forEach((f, k) => people.set(k, found.get(f) ?? { boxes: new Float32Array(0), scores: new Float32Array(0) }));
  }
  if (personThreshold > 0) for (const [k, found] of people) people.set(k, keepConfident(found, personThreshold));
  const peopleMs = performance.now() - peopleStart;

  // Actions: clips from one decoding pass, each as soon as its frames are in (clip-stream.ts).
  const actionsStart = performance.now();
  const { content, input: frameSize } = avaFrameGeometry(info, { ...m.clip, shortSide }, m.head.patchSize);
  const preprocessing = clipNormalization(m.clip, backbone.folder.manifest.preprocessing);
  const keyframes: SpatiotemporalResult['keyframes'] = times.map((time, k) => ({ time, frame: frames[k]!, people: [] }));
  const runClip = async (k: number, clipFrames: Uint8Array[]): Promise<void> => {
    const boxes = people.get(k)!;
    const count = boxes.scores.length;
    if (count === 0) return;
    const clip = packFramesPadded(clipFrames, content, frameSize, preprocessing);
    const { outputs } = await backbone.runner.run(
      { [BACKBONE_INPUT]: float32Tensor(clip, [1, 3, numFrames, frameSize.height, frameSize.width]) },
      ['tokens'],
    );
    const headOut = await head.runner.run(
      headFeeds(outputs.tokens!, frameSize, m.head.patchSize, avaRois(boxes.boxes, info, content, m.boxes)),
      [AVA_HEAD_OUTPUTS.scores],
    );
    const scores = headOut.outputs[AVA_HEAD_OUTPUTS.scores]!.data;
    const classes = head.classes.length;
    for (let p = 0; p < count; p++) {
      const box = Array.from(boxes.boxes.subarray(4 * p, 4 * p + 4)) as [number, number, number, number];
      const personScore = boxes.scores[p]!;
      const actions = head.classes
        .map((c, j) => ({
          id: c.id,
          label: c.label,
          score: scores[p * classes + j]! * personScore,
          ...(head.evaluated.size ? { evaluated: head.evaluated.has(c.id) } : {}),
        }))
        .filter((a) => a.score >= threshold)
        .sort((a, b) => b.score - a.score)
        .slice(0, topK);
      keyframes[k]!.people.push({
        box,
        boxPixels: [box[0] * info.width, box[1] * info.height, box[2] * info.width, box[3] * info.height].map(Math.round) as [
          number,
          number,
          number,
          number,
        ],
        score: personScore,
        actions,
      });
    }
  };
  const decoded = decodeFrames({
    file: input.file,
    fps: info.fps,
    indices: neededFrames(clips),
    source: info,
    size: content,
    ...(settings.signal ? { signal: settings.signal } : {}),
  });
  for await (const { clip, frames: clipFrames } of clipsInOrder(decoded, clips)) {
    await runClip(clip, clipFrames);
    settings.onProgress?.({ stage: 'actions', fraction: 0.42 + 0.57 * ((clip + 1) / clips.length) });
  }
  const { bytes: _b, streamCount: _s, ...video } = info;
  return {
    model: head.name,
    backbone: backbone.name,
    detector: options.boxes?.length ? 'given' : 'centernet',
    video,
    clip: { numFrames, rate, shortSide, input: frameSize, content, frameOffsets: frameOffsetsOf(m.clip) },
    keyframes,
    timings: {
      probeMs: Math.round(probeMs),
      peopleMs: Math.round(peopleMs),
      actionsMs: Math.round(performance.now() - actionsStart),
      totalMs: Math.round(performance.now() - started),
    },
  };
}

/** AVA CSV rows (video_id, timestamp, x1, y1, x2, y2, action_id, score) of a result. */
export function toAvaCsv(result: SpatiotemporalResult, videoId: string): string {
  const lines: string[] = [];
  for (const k of result.keyframes) {
    for (const p of k.people)
      for (const a of p.actions) lines.push([videoId, k.time, ...p.box.map((v) => v.toFixed(4)), a.id, a.score.toFixed(4)].join(','));
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}
