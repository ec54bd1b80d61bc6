/**
 * Decodes only the frames a sampling plan needs, by the cheaper of two plans (decode-plan.ts):
 * one pass from the start, or one ffmpeg run per group of needed indices that seeks (accurately)
 * to its first frame. Either way a `select` filter passes just the wanted frames, so colour
 * conversion and resizing run on those frames only, and a long video is never decoded end to end
 * to use 80 of its frames.
 *
 * The pixels are the official loaders' (decord / PyAV / cv2.VideoCapture, then
 * `cv2.resize(..., INTER_LINEAR)`): ffmpeg converts to RGB24 with swscale's default conversion at
 * the video's own size, and each frame is resized here, as soon as it arrives, with OpenCV's
 * bilinear arithmetic (resize-linear.ts). Only one native frame is held at a time.
 */
import { UnsupportedMediaError } from '../errors.js';
import type { Readable } from 'node:stream';
import { decodeRawFrames } from './ffmpeg.js';
import { DEFAULT_CONTAINERS } from './formats.js';
import type { Size } from './geometry.js';
import { planDecode, planRuns, seekFrames, type DecodePlan, type DecodePlanChoice } from './decode-plan.js';
import { probeSeekKeyframes } from './probe.js';
import { linearResizeTables, resizeLinear, type LinearResizeTables } from './resize-linear.js';
import { rgbFilter, selectFilter } from './select-filter.js';

export { arithmeticRuns, groupIndices, MAX_SELECT_TERMS, rgbFilter, SEEK_GAP_FRAMES, selectFilter } from './select-filter.js';

export interface DecodedFrame {
  readonly index: number;
  /** RGB24, `size.height` rows of `size.width * 3` bytes. */
  readonly rgb: Uint8Array;
}

export interface DecodeRequest {
  readonly file: string;
  readonly fps: number;
  /** Sorted, unique frame indices. */
  readonly indices: readonly number[];
  /**
   * The video's frame size as the probe reports it (VideoInfo width x height: after rotation, as
   * ffmpeg decodes it); ffmpeg's output is pinned to it.
   */
  readonly source: Size;
  /** Output size of every frame (OpenCV's bilinear resize from `source`; aspect ratio not kept). */
  readonly size: Size;
  readonly signal?: AbortSignal;
  /** Name for error messages. */
  readonly displayName?: string;
  /** Demuxers allowed to open the file (default: the accepted video containers). */
  readonly formats?: readonly string[];
  /** How to decode (default `auto`: the cheaper plan by estimated cost). */
  readonly plan?: DecodePlanChoice;
  /** The probe's frame count, when the caller has it: indices at or past it are not decoded. */
  readonly frameCount?: number;
  /** Keyframes the seeks land on, when already probed (the decode budget may have): saves a probe. */
  readonly keyframes?: readonly number[];
}

/** The resize from the decoded size to the requested one, or none when they are equal. */
function resizerFor(source: Size, size: Size): LinearResizeTables | undefined {
  return source.width === size.width && source.height === size.height ? undefined : linearResizeTables(source, size);
}

/**
 * RGB24 frames of `source` size from ffmpeg's raw output, at most `limit` of them (the rest of
 * the stream is read and dropped, so ffmpeg can finish), each resized to `size`. Chunks are copied
 * straight into the frame being assembled: no concatenated buffers. Each yielded frame is a fresh
 * array; when a resize follows, the native frame's buffer is reused for the next one.
 */
async function* rawFrames(stdout: Readable, source: Size, size: Size, limit = Infinity): AsyncGenerator<Uint8Array> {
  const frameBytes = source.width * source.height * 3;
  const resizer = resizerFor(source, size);
  let frame: Uint8Array | undefined;
  let filled = 0;
  let produced = 0;
  for await (const chunk of stdout) {
    const bytes = chunk as Buffer;
    let read = 0;
    while (read < bytes.length && produced < limit) {
      frame ??= new Uint8Array(frameBytes);
      const take = Math.min(frameBytes - filled, bytes.length - read);
      frame.set(bytes.subarray(read, read + take), filled);
      filled += take;
      read += take;
      if (filled === frameBytes) {
        produced++;
        filled = 0;
        if (resizer) {
          yield resizeLinear(frame, resizer);
        } else {
          yield frame;
          frame = undefined;
        }
      }
    }
  }
}

export interface StreamRequest {
  readonly file: string;
  /** The video's frame size as probed (see DecodeRequest.source). */
  readonly source: Size;
  /** Output size of every frame (OpenCV's bilinear resize from `source`; aspect ratio not kept). */
  readonly size: Size;
  readonly signal?: AbortSignal;
  readonly displayName?: string;
  /** Demuxers allowed to open the file (default: the accepted video containers). */
  readonly formats?: readonly string[];
}

/**
 * Every frame of the video, in order, as a stream: ffmpeg writes into a pipe and waits while
 * the consumer is busy (the pipe's backpressure), so memory stays at a few frames whatever the
 * video's length. Each yielded frame is a fresh array the consumer may keep.
 */
export async function* streamFrames(request: StreamRequest): AsyncGenerator<Uint8Array> {
  const ffmpegRun = decodeRawFrames({
    file: request.file,
    seekSeconds: 0,
    filter: rgbFilter(request.source),
    maxFrames: Number.MAX_SAFE_INTEGER,
    formats: request.formats ?? DEFAULT_CONTAINERS,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  let produced = 0;
  try {
    for await (const frame of rawFrames(ffmpegRun.stdout, request.source, request.size)) {
      produced++;
      yield frame;
    }
    await ffmpegRun.done;
    request.signal?.throwIfAborted();
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason ?? error;
    if (produced === 0) {
      throw new UnsupportedMediaError(
        'undecodable_media',
        `video '${request.displayName ?? request.file}' could not be decoded: ${(error as Error).message}`,
        { parameter: 'video' },
      );
    }
    // A truncated file: the frames before the damage are what the video has.
  } finally {
    ffmpegRun.kill();
  }
}

/**
 * The plan decodeFrames runs for `request`. When `auto` cannot choose without the keyframes the
 * seeks would land on, ffprobe finds them (one short run); if it cannot, the plan that is cheaper
 * with every seek from frame 0 stands.
 */
export async function chooseDecodePlan(request: DecodeRequest): Promise<DecodePlan> {
  const facts = {
    width: request.source.width,
    height: request.source.height,
    ...(request.frameCount !== undefined ? { frameCount: request.frameCount } : {}),
    ...(request.keyframes ? { keyframes: request.keyframes } : {}),
  };
  const plan = planDecode(facts, request.indices, request.plan);
  if (!plan.needsKeyframes) return plan;
  const targets = [...new Set([...seekFrames(planRuns('seek', request.indices)), ...seekFrames(plan.runs)])].sort((a, b) => a - b);
  const keyframes = await probeSeekKeyframes(request.file, request.fps, targets, request.formats ?? DEFAULT_CONTAINERS, request.signal);
  return keyframes ? planDecode({ ...facts, keyframes }, request.indices, request.plan) : plan;
}

/**
 * Yields the requested frames in index order. When the file holds fewer frames than probed, the
 * indices past its end are simply not yielded; the caller clamps to the last frame it got.
 */
export async function* decodeFrames(request: DecodeRequest): AsyncGenerator<DecodedFrame> {
  const plan = await chooseDecodePlan(request);
  for (const run of plan.runs) {
    const frames = run.frames;
    // Half a frame early, so that accurate seeking keeps frame `from` and drops `from - 1`.
    const seekSeconds = run.from > 0 ? (run.from - 0.5) / request.fps : 0;
    const ffmpegRun = decodeRawFrames({
      file: request.file,
      seekSeconds,
      filter: selectFilter(frames, request.source, run.from),
      maxFrames: frames.length,
      formats: request.formats ?? DEFAULT_CONTAINERS,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    let produced = 0;
    try {
      for await (const frame of rawFrames(ffmpegRun.stdout, request.source, request.size, frames.length))
        yield { index: frames[produced++]!, rgb: frame };
      await ffmpegRun.done;
      request.signal?.throwIfAborted();
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (produced === 0) {
        throw new UnsupportedMediaError(
          'undecodable_media',
          `upload '${request.displayName ?? request.file}' could not be decoded: ${(error as Error).message}`,
          { parameter: 'video' },
        );
      }
      // Frames came out before the decoder failed (a truncated file): keep what we have.
      return;
    } finally {
      ffmpegRun.kill();
    }
    if (produced < frames.length) return; // past the real end of the video: later runs hold nothing
  }
}
