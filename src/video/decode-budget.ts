/**
 * What decoding a request will cost, worked out from the probe's facts and the frames its plan
 * asks for, before ffmpeg starts. The unit is the "decoded pixel": every frame ffmpeg decodes
 * (seek pre-roll included) counts its width x height, plus fixed overheads per frame and per
 * ffmpeg run expressed in pixels of the same cost, so a 16x16 video of a million frames is
 * counted as the work it is. Pure arithmetic; limits.ts compares it with the limit.
 */
import { addRunsWork, keyframeBefore, noWork, workPixels } from './decode-cost.js';
import { planDecode, planRuns, seekFrames, type DecodePlanChoice } from './decode-plan.js';

export { DECODE_COST_PIXELS, keyframeBefore } from './decode-cost.js';

/** One ffmpeg pass over the video, as src/video/decode.ts runs it. */
export type DecodePass =
  /** decodeFrames: sorted unique indices, decoded by the plan decode-plan.ts chooses (or `plan`). */
  | { readonly kind: 'frames'; readonly indices: readonly number[]; readonly plan?: DecodePlanChoice }
  /** streamFrames: one run from the start, every frame decoded and handed out. */
  | { readonly kind: 'stream' };

export interface DecodeSource {
  readonly width: number;
  readonly height: number;
  readonly frameCount: number;
}

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

/**
 * The decode cost of `passes` over `video`. A frames pass costs the runs of the plan
 * decodeFrames will choose from the same facts. `keyframes` (sorted frame indices) are the ones
 * the probe found, at least the one each seek lands on; without them every seek is assumed to
 * decode from frame 0 (what a stream with a single keyframe costs), and the plan's cost so counted
 * bounds what decodeFrames will do once it knows them.
 *
 * @example
 * estimateDecode({ width: 16, height: 16, frameCount: 100_000 }, [{ kind: 'frames', indices: [50_000], plan: 'seek' }])
 * // one run, one seek from frame 0: 50_001 frames decoded, pixels ~ 120e6 + 50_001 * 50_256 + 100_256
 */
export function estimateDecode(video: DecodeSource, passes: readonly DecodePass[], keyframes?: readonly number[]): DecodeEstimate {
  const work = noWork();
  const landing = (from: number): number => keyframeBefore(keyframes ?? [], from);
  for (const pass of passes) {
    if (pass.kind === 'stream') {
      work.runs++;
      work.decoded += video.frameCount;
      work.output += video.frameCount;
    } else {
      // As decodeFrames chooses: without the keyframes first, with them only if the choice needs them.
      const blind = planDecode(video, pass.indices, pass.plan);
      const plan = blind.needsKeyframes && keyframes ? planDecode({ ...video, keyframes }, pass.indices, pass.plan) : blind;
      addRunsWork(plan.runs, landing, work);
    }
  }
  const breakdown = workPixels(work, video.width * video.height);
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

/**
 * The frames either plan of the frames passes would seek to (what the probe asks ffprobe about,
 * so that the planner can then compare them), sorted, unique.
 */
export function seekTargets(video: DecodeSource, passes: readonly DecodePass[]): number[] {
  const targets = new Set<number>();
  for (const pass of passes) {
    if (pass.kind !== 'frames') continue;
    const needed = pass.indices.filter((i) => i < video.frameCount);
    const kinds = pass.plan === undefined || pass.plan === 'auto' ? (['seek', 'single-pass'] as const) : [pass.plan];
    for (const kind of kinds) for (const frame of seekFrames(planRuns(kind, needed))) targets.add(frame);
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
