/**
 * Decodes only the frames a sampling plan needs. Needed indices are grouped; each group is one
 * ffmpeg run that seeks (accurately) to its first frame and lets a `select` filter pass just the
 * wanted frames, so colour conversion and resizing run on those frames only, and a long video is
 * never decoded end to end to use 80 of its frames.
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
import { linearResizeTables, resizeLinear, type LinearResizeTables } from './resize-linear.js';

/** Gaps up to this many frames are decoded through rather than seeked over: a seek restarts at
 * the previous keyframe anyway, and x264's default keyframe interval is 250. */
export const SEEK_GAP_FRAMES = 150;

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
}

/** Splits sorted indices into runs whose internal gaps are at most `maxGap`. */
export function groupIndices(indices: readonly number[], maxGap = SEEK_GAP_FRAMES): number[][] {
  const groups: number[][] = [];
  for (const index of indices) {
    const current = groups[groups.length - 1];
    if (current && index - current[current.length - 1]! <= maxGap) current.push(index);
    else groups.push([index]);
  }
  return groups.flatMap(splitByTerms);
}

/**
 * Most terms in one select expression. FFmpeg's expression parser nests one level per operator
 * and gives up past about 100, so terms are summed as a balanced tree and a group needing more
 * than this is decoded in several runs.
 */
export const MAX_SELECT_TERMS = 32;

interface Run {
  readonly start: number;
  readonly step: number;
  readonly count: number;
}

/** Maximal arithmetic runs of sorted unique numbers: [0,4,8,12,13] -> (0,4,4), (13,1,1). */
export function arithmeticRuns(values: readonly number[]): Run[] {
  const runs: Run[] = [];
  let i = 0;
  while (i < values.length) {
    const start = values[i]!;
    if (i + 1 >= values.length) {
      runs.push({ start, step: 1, count: 1 });
      break;
    }
    const step = values[i + 1]! - start;
    let count = 2;
    while (i + count < values.length && values[i + count]! - values[i + count - 1]! === step) count++;
    if (count === 2 && i + 2 < values.length) {
      // A pair is cheaper as a lone term when the next value may start a longer run.
      runs.push({ start, step: 1, count: 1 });
      i += 1;
    } else {
      runs.push({ start, step, count });
      i += count;
    }
  }
  return runs;
}

function runTerm(run: Run): string {
  if (run.count === 1) return `eq(n\\,${run.start})`;
  const end = run.start + run.step * (run.count - 1);
  const range = `between(n\\,${run.start}\\,${end})`;
  return run.step === 1 ? range : `${range}*not(mod(n-${run.start}\\,${run.step}))`;
}

function balancedSum(terms: readonly string[]): string {
  if (terms.length === 1) return terms[0]!;
  const middle = Math.ceil(terms.length / 2);
  return `(${balancedSum(terms.slice(0, middle))}+${balancedSum(terms.slice(middle))})`;
}

function splitByTerms(group: number[]): number[][] {
  if (group.length < 2 || arithmeticRuns(relative(group)).length <= MAX_SELECT_TERMS) return [group];
  const middle = Math.ceil(group.length / 2);
  return [...splitByTerms(group.slice(0, middle)), ...splitByTerms(group.slice(middle))];
}

function relative(group: readonly number[]): number[] {
  return group.map((i) => i - group[0]!);
}

/**
 * The ffmpeg filter chain for one group: a select expression true exactly on the group's frames
 * (`n` counted from the group's first frame), then the RGB conversion at the source size.
 *
 * @example
 * selectFilter([100, 104, 108, 112, 130], { width: 768, height: 576 })
 * // select=(between(n\,0\,12)*not(mod(n-0\,4))+eq(n\,30)),scale=768:576,format=rgb24
 */
export function selectFilter(group: readonly number[], source: Size): string {
  const expression = balancedSum(arithmeticRuns(relative(group)).map(runTerm));
  return `select=${expression},${rgbFilter(source)}`;
}

/**
 * The RGB conversion every decode path ends with: swscale's default conversion (no flags), the
 * bytes cv2.VideoCapture hands the official loaders (in BGR order there); the golden test
 * test/e2e/official-pixels.test.ts holds it to that. The `scale` at the frame's own size only
 * converts; it pins the output to the probed size, so the raw stream's frame boundaries hold even
 * if a stream changes size midway.
 */
export function rgbFilter(source: Size): string {
  return `scale=${source.width}:${source.height},format=rgb24`;
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
 * Yields the requested frames in index order. When the file holds fewer frames than probed, the
 * indices past its end are simply not yielded; the caller clamps to the last frame it got.
 */
export async function* decodeFrames(request: DecodeRequest): AsyncGenerator<DecodedFrame> {
  for (const group of groupIndices(request.indices)) {
    const first = group[0]!;
    // Half a frame early, so that accurate seeking keeps frame `first` and drops `first - 1`.
    const seekSeconds = first > 0 ? (first - 0.5) / request.fps : 0;
    const ffmpegRun = decodeRawFrames({
      file: request.file,
      seekSeconds,
      filter: selectFilter(group, request.source),
      maxFrames: group.length,
      formats: request.formats ?? DEFAULT_CONTAINERS,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    let produced = 0;
    try {
      for await (const frame of rawFrames(ffmpegRun.stdout, request.source, request.size, group.length))
        yield { index: group[produced++]!, rgb: frame };
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
    if (produced < group.length) return; // past the real end of the video: later groups hold nothing
  }
}
