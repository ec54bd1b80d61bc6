/**
 * What decoding a request will cost, worked out from the probe's facts and the frames its plan
 * asks for, before ffmpeg starts. The unit is the "decoded pixel": every frame ffmpeg decodes
 * (seek pre-roll included) counts its width x height, plus fixed overheads per frame and per
 * ffmpeg run expressed in pixels of the same cost, so a 16x16 video of a million frames is
 * counted as the work it is. Pure arithmetic; limits.ts compares it with the limit.
 */
import { groupIndices } from './decode.js';

/** One ffmpeg pass over the video, as src/video/decode.ts runs it. */
export type DecodePass =
  /** decodeFrames: sorted unique indices, grouped; each group is one run that seeks to its first frame. */
  | { readonly kind: 'frames'; readonly indices: readonly number[] }
  /** streamFrames: one run from the start, every frame decoded and handed out. */
  | { readonly kind: 'stream' };

export interface DecodeSource {
  readonly width: number;
  readonly height: number;
  readonly frameCount: number;
}

/**
 * Costs in decoded pixels, measured on the 2-core build machine (ffmpeg 5.1, libx264 files, CPU
 * seconds user + sys of the ffmpeg commands decode.ts runs, default threading). One decoded pixel
 * is about 1 ns there on static content: 4096x4096 black, 17.8 ms a frame through a seek; moving
 * 1080p (testsrc2, x264 veryfast) is 2.8 ns, vtest.avi (768x576 msmpeg4v3) 1.3 ns.
 */
export const DECODE_COST_PIXELS = {
  /** An ffmpeg process that opens the file and decodes one frame: 125 ms. */
  run: 120_000_000,
  /** Each decoded frame beyond its pixels: 16x16 frames decode at 48 us each (frame threading). */
  frame: 50_000,
  /**
   * Each frame that leaves ffmpeg, beyond its pixels again: scaled, converted to RGB and piped.
   * 1080p -> 64x64 adds 2.5 ms (about its pixels), 16x16 -> 64x64 adds 105 us (two frame overheads).
   */
  output: 100_000,
} as const;

export interface DecodeEstimate {
  /** Total cost, in decoded pixels. */
  readonly pixels: number;
  readonly width: number;
  readonly height: number;
  /** ffmpeg processes, of which `seeks` start with a seek. */
  readonly runs: number;
  readonly seeks: number;
  /** Frames decoded, of which `prerollFrames` only to get from a keyframe to a seek target. */
  readonly decodedFrames: number;
  readonly prerollFrames: number;
  /** Frames that leave ffmpeg (the sampled ones, or all of them for a stream). */
  readonly outputFrames: number;
  /** False when no keyframes were known and every seek was assumed to decode from frame 0. */
  readonly keyframesKnown: boolean;
  /** `pixels` split by kind of work. */
  readonly breakdown: { readonly runs: number; readonly decoded: number; readonly output: number };
}

interface Work {
  runs: number;
  seeks: number;
  decoded: number;
  preroll: number;
  output: number;
}

/**
 * The keyframe a seek to `frame` starts decoding from: decode.ts seeks half a frame early, so
 * the last keyframe strictly before `frame` (frame 0 when none is known).
 */
export function keyframeBefore(keyframes: readonly number[], frame: number): number {
  let lo = 0;
  let hi = keyframes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keyframes[mid]! < frame) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? Math.max(0, keyframes[lo - 1]!) : 0;
}

type PassWork<K extends DecodePass['kind']> = (
  pass: Extract<DecodePass, { kind: K }>,
  video: DecodeSource,
  keyframes: readonly number[],
  work: Work,
) => void;

/** How each kind of pass turns into runs, seeks and frames. */
const PASS_WORK: { readonly [K in DecodePass['kind']]: PassWork<K> } = {
  frames: (pass, video, keyframes, work) => {
    for (const group of groupIndices(pass.indices.filter((i) => i < video.frameCount))) {
      const first = group[0]!;
      const start = first > 0 ? keyframeBefore(keyframes, first) : 0;
      work.runs++;
      if (first > 0) work.seeks++;
      work.decoded += group[group.length - 1]! - start + 1;
      work.preroll += first - start;
      work.output += group.length;
    }
  },
  stream: (_pass, video, _keyframes, work) => {
    work.runs++;
    work.decoded += video.frameCount;
    work.output += video.frameCount;
  },
};

/**
 * The decode cost of `passes` over `video`. `keyframes` (sorted frame indices) are the ones the
 * probe found, at least the one each seek lands on; without them every seek is assumed to decode
 * from frame 0, which is what a stream with a single keyframe costs.
 *
 * @example
 * estimateDecode({ width: 16, height: 16, frameCount: 100_000 }, [{ kind: 'frames', indices: [50_000] }])
 * // one run, one seek from frame 0: 50_001 frames decoded, pixels ~ 120e6 + 50_001 * 50_256 + 100_256
 */
export function estimateDecode(video: DecodeSource, passes: readonly DecodePass[], keyframes?: readonly number[]): DecodeEstimate {
  const work: Work = { runs: 0, seeks: 0, decoded: 0, preroll: 0, output: 0 };
  for (const pass of passes) (PASS_WORK[pass.kind] as PassWork<DecodePass['kind']>)(pass, video, keyframes ?? [], work);
  const framePixels = video.width * video.height;
  const breakdown = {
    runs: work.runs * DECODE_COST_PIXELS.run,
    decoded: work.decoded * (framePixels + DECODE_COST_PIXELS.frame),
    output: work.output * (framePixels + DECODE_COST_PIXELS.output),
  };
  return {
    pixels: breakdown.runs + breakdown.decoded + breakdown.output,
    width: video.width,
    height: video.height,
    runs: work.runs,
    seeks: work.seeks,
    decodedFrames: work.decoded,
    prerollFrames: work.preroll,
    outputFrames: work.output,
    keyframesKnown: keyframes !== undefined,
    breakdown,
  };
}

/** The frames the runs of `passes` seek to (what the probe asks ffprobe about), sorted, unique. */
export function seekTargets(video: DecodeSource, passes: readonly DecodePass[]): number[] {
  const targets = new Set<number>();
  for (const pass of passes) {
    if (pass.kind !== 'frames') continue;
    for (const group of groupIndices(pass.indices.filter((i) => i < video.frameCount))) if (group[0]! > 0) targets.add(group[0]!);
  }
  return [...targets].sort((a, b) => a - b);
}

/**
 * The refusal's message: what the work is, the limit and its flag, and what the client can change.
 *
 * @example
 * budgetMessage(estimate, 16e9, 'lower numClips')
 * // 'decoding this request would cost about 48700 megapixels (2766 frames of 4096x4096 in 16
 * //  ffmpeg runs), more than the limit of 16000 megapixels (--max-decode-pixels 16000000000); lower numClips'
 */
export function budgetMessage(estimate: DecodeEstimate, limit: number, hint: string): string {
  const mp = (pixels: number): number => Math.round(pixels / 1e6);
  const runs = estimate.runs === 1 ? 'one ffmpeg run' : `${estimate.runs} ffmpeg runs`;
  const assumed = estimate.keyframesKnown ? '' : ', each seek from the first frame';
  return (
    `decoding this request would cost about ${mp(estimate.pixels)} megapixels (${estimate.decodedFrames} frames of ` +
    `${estimate.width}x${estimate.height} in ${runs}${assumed}), more than the limit of ${mp(limit)} megapixels (--max-decode-pixels ${limit}); ${hint}`
  );
}
