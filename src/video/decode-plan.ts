/**
 * How decodeFrames gets its frames, chosen by estimated cost before ffmpeg starts:
 * - `single-pass`: one run from the start of the file, every frame up to the last needed one
 *   decoded once, the select filter passing the needed ones. Cheapest when the needed frames are
 *   dense or the video is short: no process start-up per group, no decoding twice.
 * - `seek`: the needed frames grouped (gaps up to SEEK_GAP_FRAMES decoded through), one run per
 *   group, each seeking to its first frame and decoding from the keyframe before it. Cheapest
 *   when the needed frames are sparse in a long video with frequent keyframes.
 * Both give the same frames (test/e2e/decode-plans.test.ts). Pure functions of the probe's facts.
 */
import { addRunsWork, DECODE_COST_PIXELS, keyframeBefore, noWork, workCost, type DecodeRun } from './decode-cost.js';
import { groupIndices } from './select-filter.js';

export type DecodePlanKind = 'single-pass' | 'seek';
/** What a caller asks for: a plan, or `auto` for the cheaper one. */
export type DecodePlanChoice = DecodePlanKind | 'auto';

export interface PlanFacts {
  readonly width: number;
  readonly height: number;
  /** Frames in the video, when known: needed indices at or past it are dropped. */
  readonly frameCount?: number;
  /** Keyframe positions the seeks land on (sorted frame indices), when probed; undefined when unknown. */
  readonly keyframes?: readonly number[];
}

export interface DecodePlan {
  readonly kind: DecodePlanKind;
  readonly runs: readonly DecodeRun[];
  /**
   * True when `auto` could not choose without the keyframes (not known, and the choice depends
   * on them): `kind` is then the cheaper plan were every seek to decode from frame 0, whose cost
   * bounds either plan's from above. decodeFrames probes the keyframes and plans again.
   */
  readonly needsKeyframes: boolean;
}

/**
 * The runs of a plan. A single pass is one run from frame 0, unless the frames need more select
 * terms than one run may hold (MAX_SELECT_TERMS): then the later parts seek, as groups do.
 */
export function planRuns(kind: DecodePlanKind, indices: readonly number[]): DecodeRun[] {
  const groups = groupIndices(indices, kind === 'seek' ? undefined : Number.POSITIVE_INFINITY);
  return groups.map((frames, i) => ({ from: kind === 'single-pass' && i === 0 ? 0 : frames[0]!, frames }));
}

/** Frames the runs seek to (what a keyframe probe asks about), sorted. */
export function seekFrames(runs: readonly DecodeRun[]): number[] {
  return runs.filter((r) => r.from > 0).map((r) => r.from);
}

/** Estimated cost of `runs`, in decoded pixels, with seeks landing where `landing` says. */
function runsCost(runs: readonly DecodeRun[], facts: PlanFacts, landing: (from: number) => number): number {
  return workCost(addRunsWork(runs, landing, noWork()), facts.width * facts.height);
}

/**
 * The plan for `indices` (sorted, unique) of a video. `auto` takes the cheaper plan by the cost
 * terms of decode-cost.ts; a tie goes to the single pass (one process). Without keyframes, it
 * takes the single pass when the seeks at their best (every seek landing on its target) would
 * not save the cost of probing the keyframes; otherwise it says it needs them.
 *
 * @example
 * planDecode({ width: 768, height: 576, frameCount: 795 }, [0, 4, 8, 200, 204, 400, 404]).kind
 * // 'single-pass': 405 frames in one run cost less than 3 process start-ups
 */
export function planDecode(facts: PlanFacts, indices: readonly number[], choice: DecodePlanChoice = 'auto'): DecodePlan {
  const needed = facts.frameCount === undefined ? indices : indices.filter((i) => i < facts.frameCount!);
  const single = planRuns('single-pass', needed);
  const seek = planRuns('seek', needed);
  if (choice !== 'auto') return { kind: choice, runs: choice === 'seek' ? seek : single, needsKeyframes: false };
  const fromZero = (): number => 0;
  if (facts.keyframes) {
    const keyframes = facts.keyframes;
    const probed = (from: number): number => keyframeBefore(keyframes, from);
    const kind = runsCost(single, facts, probed) <= runsCost(seek, facts, probed) ? 'single-pass' : 'seek';
    return { kind, runs: kind === 'seek' ? seek : single, needsKeyframes: false };
  }
  const singleWorst = runsCost(single, facts, fromZero);
  // Probing the keyframes is worth it only if the seeks at their best could save more than it costs.
  const seekBest = runsCost(seek, facts, (from) => from);
  if (singleWorst <= seekBest + DECODE_COST_PIXELS.keyframeProbe) return { kind: 'single-pass', runs: single, needsKeyframes: false };
  // (Seeks from frame 0 never beat one pass: the last of them alone decodes what the pass does.)
  const seekWorst = runsCost(seek, facts, fromZero);
  return seekWorst < singleWorst
    ? { kind: 'seek', runs: seek, needsKeyframes: true }
    : { kind: 'single-pass', runs: single, needsKeyframes: true };
}
