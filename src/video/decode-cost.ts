/**
 * The cost terms of decoding, shared by the decode planner (which of two ways to decode) and the
 * decode budget (whether to decode at all). The unit is the "decoded pixel": every frame ffmpeg
 * decodes (seek pre-roll included) counts its width x height, plus fixed overheads per frame and
 * per ffmpeg run expressed in pixels of the same cost. Pure arithmetic.
 */

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
  /**
   * Finding the keyframes seeks land on (probe.ts probeSeekKeyframes: two ffprobe runs, start
   * time and seek packets): 0.17 s of CPU on vtest.avi. Only the planner weighs it, against what
   * knowing them could save; the budget counts decoding.
   */
  keyframeProbe: 160_000_000,
} as const;

/**
 * One ffmpeg run of decodeFrames: it starts at frame `from` (a seek there, or the file's start
 * when 0) and passes `frames` (sorted, unique, none before `from`) through its select filter.
 */
export interface DecodeRun {
  readonly from: number;
  readonly frames: readonly number[];
}

/** What a set of runs makes ffmpeg do. */
export interface DecodeWork {
  runs: number;
  /** Runs that start with a seek. */
  seeks: number;
  /** Frames decoded, of which `preroll` only to get from a keyframe to a seek target. */
  decoded: number;
  preroll: number;
  /** Frames that leave ffmpeg. */
  output: number;
}

export const noWork = (): DecodeWork => ({ runs: 0, seeks: 0, decoded: 0, preroll: 0, output: 0 });

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

/**
 * Adds the work of `runs` to `work`. `landing(from)` is the frame a seek to `from` starts decoding
 * at (from the probed keyframes, or a bound when they are not known).
 */
export function addRunsWork(runs: readonly DecodeRun[], landing: (from: number) => number, work: DecodeWork): DecodeWork {
  for (const run of runs) {
    if (run.frames.length === 0) continue;
    const start = run.from > 0 ? Math.min(run.from, landing(run.from)) : 0;
    work.runs++;
    if (run.from > 0) work.seeks++;
    work.decoded += run.frames[run.frames.length - 1]! - start + 1;
    work.preroll += run.from - start;
    work.output += run.frames.length;
  }
  return work;
}

/** `work` in decoded pixels, split by kind, for frames of `framePixels` pixels. */
export function workPixels(work: DecodeWork, framePixels: number): { runs: number; decoded: number; output: number } {
  return {
    runs: work.runs * DECODE_COST_PIXELS.run,
    decoded: work.decoded * (framePixels + DECODE_COST_PIXELS.frame),
    output: work.output * (framePixels + DECODE_COST_PIXELS.output),
  };
}

/** The total of workPixels. */
export function workCost(work: DecodeWork, framePixels: number): number {
  const pixels = workPixels(work, framePixels);
  return pixels.runs + pixels.decoded + pixels.output;
}
