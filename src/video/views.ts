/**
 * From a probed video and a protocol to model-ready views: which frames, at what size, which
 * crops (planViews, pure), then decoding and packing clip by clip (readViews), so the caller can
 * start inference on the first views while later ones are still being decoded.
 */
import { setImmediate } from 'node:timers/promises';
import { UnsupportedMediaError } from '../errors.js';
import { decodeFrames } from './decode.js';
import type { DecodePass } from './decode-budget.js';
import { cropBoxes, resizeShortSide, type CropBox, type Size } from './geometry.js';
import type { VideoInfo } from './probe.js';
import { clipFrameIndices, type SamplingProtocol } from './sampling.js';
import { packClip, type Normalization } from './transforms.js';

export interface Preprocessing extends Normalization {
  readonly shortSide: number;
  readonly cropSize: number;
}

export interface ViewPlan {
  readonly protocol: SamplingProtocol;
  /** `[numClips][numFrames]` frame indices. */
  readonly clips: readonly (readonly number[])[];
  readonly resized: Size;
  readonly crops: readonly CropBox[];
  readonly cropSize: number;
  readonly viewCount: number;
  /** Values in one view: 3 x T x S x S. */
  readonly viewLength: number;
}

export function planViews(info: VideoInfo, protocol: SamplingProtocol, preprocessing: Preprocessing): ViewPlan {
  const clips = clipFrameIndices(protocol, info.frameCount);
  const resized = resizeShortSide(info, preprocessing.shortSide);
  const crops = cropBoxes(resized, preprocessing.cropSize, protocol.numCrops);
  return {
    protocol,
    clips,
    resized,
    crops,
    cropSize: preprocessing.cropSize,
    viewCount: clips.length * crops.length,
    viewLength: 3 * protocol.numFrames * preprocessing.cropSize ** 2,
  };
}

/** Every frame the plan's clips use, sorted and unique: what is decoded. */
export function neededFrames(plan: ViewPlan): number[] {
  return [...new Set(plan.clips.flat())].sort((a, b) => a - b);
}

/** The decoding readViews does for a plan (one `decodeFrames` pass), for the decode budget. */
export function viewDecodePasses(plan: ViewPlan): DecodePass[] {
  return [{ kind: 'frames', indices: neededFrames(plan) }];
}

/** Frames packed between two turns of the event loop (about a millisecond of work). */
const FRAMES_PER_SLICE = 4;

export interface View {
  readonly clip: number;
  readonly crop: number;
  /**
   * Writes the view, float32 `[3, T, S, S]` normalized, at `offset` of `out` (typically its slot
   * in a batch, so no per-view buffer is made), a few frames at a time with the event loop free
   * in between. The view holds its clip's frames until it is dropped: pack it and let it go.
   */
  packInto(out: Float32Array, offset: number): Promise<void>;
}

export interface ViewTimings {
  decodeMs: number;
  preprocessMs: number;
}

/**
 * Yields every view (clip-major, crops in order), ready to be packed. Indices past the decodable
 * end of the file are clamped to the last decoded frame, as the official loaders repeat the
 * last index.
 */
export async function* readViews(
  file: string,
  info: VideoInfo,
  plan: ViewPlan,
  preprocessing: Preprocessing,
  timings: ViewTimings,
  signal?: AbortSignal,
  displayName?: string,
): AsyncGenerator<View> {
  const needed = neededFrames(plan);
  const frames = new Map<number, Uint8Array>();
  let lastIndex = -1;
  let nextClip = 0;

  const frameAt = (index: number): Uint8Array => {
    for (let i = index; i >= 0; i--) {
      const frame = frames.get(i);
      if (frame) return frame;
    }
    throw new UnsupportedMediaError('undecodable_media', `upload '${displayName ?? file}' yielded no frames`, { parameter: 'video' });
  };
  /** Packs the clips whose frames are all decoded, one view at a time. */
  const packReadyClips = async function* (all: boolean): AsyncGenerator<View> {
    while (nextClip < plan.clips.length && (all || plan.clips[nextClip]!.at(-1)! <= lastIndex)) {
      const clip = nextClip;
      const clipFrames = plan.clips[clip]!.map(frameAt);
      for (let crop = 0; crop < plan.crops.length; crop++) {
        const box = plan.crops[crop]!;
        yield {
          clip,
          crop,
          packInto: async (out, offset) => {
            for (let from = 0; from < clipFrames.length; from += FRAMES_PER_SLICE) {
              const started = performance.now();
              const to = Math.min(from + FRAMES_PER_SLICE, clipFrames.length);
              packClip(clipFrames, plan.resized, box, preprocessing, out, offset, { from, to });
              timings.preprocessMs += performance.now() - started;
              await setImmediate();
            }
          },
        };
      }
      nextClip++;
      // Frames before the next clip's first index are no longer needed.
      const keepFrom = plan.clips[nextClip]?.[0] ?? Number.POSITIVE_INFINITY;
      for (const index of frames.keys()) if (index < keepFrom && index !== lastIndex) frames.delete(index);
    }
  };

  const decoder = decodeFrames({
    file,
    fps: info.fps,
    indices: needed,
    source: info,
    size: plan.resized,
    ...(signal ? { signal } : {}),
    ...(displayName ? { displayName } : {}),
  });
  let waitStarted = performance.now();
  for await (const frame of decoder) {
    timings.decodeMs += performance.now() - waitStarted;
    frames.set(frame.index, frame.rgb);
    lastIndex = frame.index;
    yield* packReadyClips(false);
    waitStarted = performance.now();
  }
  timings.decodeMs += performance.now() - waitStarted;
  if (lastIndex < 0) {
    throw new UnsupportedMediaError('undecodable_media', `upload '${displayName ?? file}' yielded no frames`, { parameter: 'video' });
  }
  yield* packReadyClips(true);
}
