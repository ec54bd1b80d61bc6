import { describe, expect, it } from 'vitest';
import { planDecode, planRuns } from '../../src/video/decode-plan.js';
import { MAX_SELECT_TERMS } from '../../src/video/select-filter.js';
import { clipFrameIndices, resolveProtocol } from '../../src/video/sampling.js';

/** Keyframes every `interval` frames, as x264 writes them by default (250). */
const every = (interval: number, frameCount: number): number[] =>
  Array.from({ length: Math.ceil(frameCount / interval) }, (_, i) => i * interval);

/** The frames the classify path decodes: k400 stride sampling, 5 clips of 8 frames. */
const clipFrames = (frameCount: number): number[] =>
  [...new Set(clipFrameIndices(resolveProtocol('k400', { numFrames: 8 }), frameCount).flat())].sort((a, b) => a - b);

const tenMinutes = { width: 320, height: 240, frameCount: 15_000 };

describe('planRuns', () => {
  it('makes a single pass one run from frame 0, and seeks one run per group', () => {
    const indices = [10, 20, 500, 510, 2000];
    expect(planRuns('single-pass', indices)).toEqual([{ from: 0, frames: indices }]);
    expect(planRuns('seek', indices)).toEqual([
      { from: 10, frames: [10, 20] },
      { from: 500, frames: [500, 510] },
      { from: 2000, frames: [2000] },
    ]);
  });

  it('splits a single pass whose frames need too many select terms; the later parts seek', () => {
    const irregular = Array.from({ length: 4 * MAX_SELECT_TERMS }, (_, i) => i * 3 + (i % 2));
    const runs = planRuns('single-pass', irregular);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs[0]!.from).toBe(0);
    expect(runs.slice(1).every((r) => r.from === r.frames[0])).toBe(true);
    expect(runs.flatMap((r) => r.frames)).toEqual(irregular);
  });
});

describe('planDecode', () => {
  it('decodes a short video in one pass (vtest.avi, 8-frame clips), without needing its keyframes', () => {
    const indices = clipFrames(795);
    expect(planRuns('seek', indices).length).toBe(5);
    const plan = planDecode({ width: 768, height: 576, frameCount: 795 }, indices);
    expect(plan).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
    expect(plan.runs).toEqual([{ from: 0, frames: indices }]);
  });

  it('decodes a dense plan in one pass: 75 clips over ten minutes would be 75 process start-ups', () => {
    const indices = Array.from({ length: 75 }, (_, c) => Array.from({ length: 8 }, (_, t) => c * 200 + t * 4)).flat();
    expect(planDecode({ ...tenMinutes, keyframes: every(250, 15_000) }, indices)).toMatchObject({ kind: 'single-pass' });
    expect(planDecode(tenMinutes, indices)).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
  });

  it('does not probe keyframes to save less than the probe costs: one clip near the start of vtest.avi', () => {
    const clip = Array.from({ length: 16 }, (_, i) => 100 + 4 * i);
    expect(planDecode({ width: 768, height: 576, frameCount: 795 }, clip)).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
  });

  it('seeks to a sparse plan of a long video with keyframes every 250 frames', () => {
    const indices = clipFrames(15_000);
    const plan = planDecode({ ...tenMinutes, keyframes: every(250, 15_000) }, indices);
    expect(plan).toMatchObject({ kind: 'seek', needsKeyframes: false });
    expect(plan.runs.map((r) => r.from)).toEqual(planRuns('seek', indices).map((r) => r.from));
  });

  it('asks for the keyframes when the choice depends on them, and passes one keyframe through once', () => {
    const indices = clipFrames(15_000);
    // Unknown keyframes: seeks from frame 0 would cost more than one pass, seeks to the target less.
    expect(planDecode(tenMinutes, indices)).toMatchObject({ kind: 'single-pass', needsKeyframes: true });
    // A single keyframe: every seek decodes from the start, so one pass is cheaper.
    expect(planDecode({ ...tenMinutes, keyframes: [0] }, indices)).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
  });

  it('needs no keyframes for small frames near the start of a long video, and asks for them when they are far apart', () => {
    const small = { width: 64, height: 48, frameCount: 90_000 };
    // 1001 frames of 64x48 cost less than a second ffmpeg process.
    expect(planDecode(small, [0, 1, 1000])).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
    expect(planDecode(small, [0, 1, 89_000])).toMatchObject({ kind: 'single-pass', needsKeyframes: true });
    expect(planDecode({ ...small, keyframes: every(250, 90_000) }, [0, 1, 89_000])).toMatchObject({ kind: 'seek' });
  });

  it('follows a forced plan and drops frames past the probed end', () => {
    const indices = [0, 4, 8, 5000, 9000];
    expect(planDecode(tenMinutes, indices, 'seek')).toMatchObject({ kind: 'seek', needsKeyframes: false });
    expect(planDecode(tenMinutes, indices, 'seek').runs).toHaveLength(3);
    expect(planDecode({ ...tenMinutes, frameCount: 6000 }, indices, 'single-pass').runs).toEqual([{ from: 0, frames: [0, 4, 8, 5000] }]);
  });
});
