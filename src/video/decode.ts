/**
 * Decodes only the frames a sampling plan needs. Needed indices are grouped; each group is one
 * ffmpeg run that seeks (accurately) to its first frame and lets a `select` filter pass just the
 * wanted frames, so resizing and colour conversion run on those frames only, and a long video is
 * never decoded end to end to use 80 of its frames.
 */
import { UnsupportedMediaError } from '../errors.js';
import { decodeRawFrames } from './ffmpeg.js';
import type { Size } from './geometry.js';

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
  /** Output size of every frame (the resize happens inside ffmpeg). */
  readonly size: Size;
  readonly signal?: AbortSignal;
  /** Name for error messages. */
  readonly displayName?: string;
}

/** Splits sorted indices into runs whose internal gaps are at most `maxGap`. */
export function groupIndices(indices: readonly number[], maxGap = SEEK_GAP_FRAMES): number[][] {
  const groups: number[][] = [];
  for (const index of indices) {
    const current = groups[groups.length - 1];
    if (current && index - current[current.length - 1]! <= maxGap) current.push(index);
    else groups.push([index]);
  }
  return groups;
}

/** The ffmpeg filter chain for one group, with `n` counted from the group's first frame. */
export function selectFilter(group: readonly number[], size: Size): string {
  const base = group[0]!;
  const terms = group.map((i) => `eq(n\\,${i - base})`).join('+');
  return `select=${terms},scale=${size.width}:${size.height}:flags=bilinear+accurate_rnd+full_chroma_int,format=rgb24`;
}

/**
 * Yields the requested frames in index order. When the file holds fewer frames than probed, the
 * indices past its end are simply not yielded; the caller clamps to the last frame it got.
 */
export async function* decodeFrames(request: DecodeRequest): AsyncGenerator<DecodedFrame> {
  const frameBytes = request.size.width * request.size.height * 3;
  for (const group of groupIndices(request.indices)) {
    const first = group[0]!;
    // Half a frame early, so that accurate seeking keeps frame `first` and drops `first - 1`.
    const seekSeconds = first > 0 ? (first - 0.5) / request.fps : 0;
    const process = decodeRawFrames({
      file: request.file,
      seekSeconds,
      filter: selectFilter(group, request.size),
      maxFrames: group.length,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    let produced = 0;
    try {
      let pending: Buffer = Buffer.alloc(0);
      for await (const chunk of process.stdout) {
        pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
        while (pending.length >= frameBytes && produced < group.length) {
          // Copy out of the stream's chunk so frames do not pin large shared buffers.
          const rgb = new Uint8Array(frameBytes);
          rgb.set(pending.subarray(0, frameBytes));
          pending = pending.subarray(frameBytes);
          yield { index: group[produced++]!, rgb };
        }
      }
      await process.done;
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (produced === 0) {
        throw new UnsupportedMediaError('undecodable_media',
          `upload '${request.displayName ?? request.file}' could not be decoded: ${(error as Error).message}`, { parameter: 'video' });
      }
      // Frames came out before the decoder failed (a truncated file): keep what we have.
      return;
    } finally {
      process.kill();
    }
    if (produced < group.length) return; // past the real end of the video: later groups hold nothing
  }
}
