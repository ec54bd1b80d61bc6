/**
 * Which frames one ffmpeg run of decodeFrames passes: sorted indices grouped into runs, and the
 * `select` filter that keeps exactly those frames. Pure string and index arithmetic.
 */
import type { Size } from './geometry.js';

/** Gaps up to this many frames are decoded through rather than seeked over: a seek restarts at
 * the previous keyframe anyway, and x264's default keyframe interval is 250. */
export const SEEK_GAP_FRAMES = 150;

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

function relative(group: readonly number[], origin = group[0]!): number[] {
  return group.map((i) => i - origin);
}

/**
 * The ffmpeg filter chain for one run: a select expression true exactly on the group's frames
 * (`n` counted from `origin`, the frame the run starts at: its first frame after a seek, 0 when
 * it decodes from the start), then the RGB conversion at the source size.
 *
 * @example
 * selectFilter([100, 104, 108, 112, 130], { width: 768, height: 576 })
 * // select=(between(n\\,0\\,12)*not(mod(n-0\\,4))+eq(n\\,30)),scale=768:576,format=rgb24
 */
export function selectFilter(group: readonly number[], source: Size, origin = group[0]!): string {
  const expression = balancedSum(arithmeticRuns(relative(group, origin)).map(runTerm));
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
