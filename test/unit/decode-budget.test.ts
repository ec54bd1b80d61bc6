import { describe, expect, it } from 'vitest';
import {
  budgetMessage,
  DECODE_COST_PIXELS as COST,
  estimateDecode,
  keyframeBefore,
  seekTargets,
  type DecodePass,
} from '../../src/video/decode-budget.js';
import { planDecode } from '../../src/video/decode-plan.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { resolveProtocol } from '../../src/video/sampling.js';
import { planViews, viewDecodePasses } from '../../src/video/views.js';

/** Keyframes every `interval` frames, as x264 writes them by default (250). */
const every = (interval: number, frameCount: number): number[] =>
  Array.from({ length: Math.ceil(frameCount / interval) }, (_, i) => i * interval);

describe('keyframeBefore', () => {
  it('is the last keyframe strictly before the frame (decode.ts seeks half a frame early)', () => {
    const keyframes = [0, 250, 500];
    expect(keyframeBefore(keyframes, 375)).toBe(250);
    expect(keyframeBefore(keyframes, 500)).toBe(250);
    expect(keyframeBefore(keyframes, 501)).toBe(500);
    expect(keyframeBefore(keyframes, 10_000)).toBe(500);
    expect(keyframeBefore([], 10_000)).toBe(0);
    expect(keyframeBefore([300], 200)).toBe(0);
  });
});

describe('estimateDecode', () => {
  const small = { width: 16, height: 16, frameCount: 100_000 };

  it('counts a stream as one run that decodes and hands out every frame', () => {
    const e = estimateDecode(small, [{ kind: 'stream' }]);
    expect(e).toMatchObject({ runs: 1, seeks: 0, decodedFrames: 100_000, prerollFrames: 0, outputFrames: 100_000 });
    expect(e.pixels).toBe(COST.run + 100_000 * (256 + COST.frame) + 100_000 * (256 + COST.output));
    expect(e.breakdown.runs + e.breakdown.decoded + e.breakdown.output).toBe(e.pixels);
  });

  it('decodes from frame 0 to reach a seek target when no keyframe is known', () => {
    const e = estimateDecode(small, [{ kind: 'frames', indices: [50_000], plan: 'seek' }]);
    expect(e).toMatchObject({ runs: 1, seeks: 1, decodedFrames: 50_001, prerollFrames: 50_000, outputFrames: 1, keyframesKnown: false });
    expect(e.pixels).toBe(COST.run + 50_001 * (256 + COST.frame) + 1 * (256 + COST.output));
  });

  it('starts each seek at the keyframe before it', () => {
    const e = estimateDecode(small, [{ kind: 'frames', indices: [375, 1000, 2251], plan: 'seek' }], every(250, small.frameCount));
    // 375 from 250; 1000 is a keyframe, so its seek lands on 750; 2251 from 2250.
    expect(e).toMatchObject({ runs: 3, seeks: 3, prerollFrames: 125 + 250 + 1, decodedFrames: 126 + 251 + 2, keyframesKnown: true });
  });

  it('decodes through small gaps in one run, as decode.ts groups them', () => {
    const e = estimateDecode(small, [{ kind: 'frames', indices: [0, 100, 200, 300] }]);
    expect(e).toMatchObject({ runs: 1, seeks: 0, decodedFrames: 301, prerollFrames: 0, outputFrames: 4 });
  });

  it('counts the plan decodeFrames chooses: one pass through 2252 small frames, not three runs', () => {
    const e = estimateDecode(small, [{ kind: 'frames', indices: [375, 1000, 2251] }], every(250, small.frameCount));
    expect(e).toMatchObject({ runs: 1, seeks: 0, prerollFrames: 0, decodedFrames: 2252, outputFrames: 3 });
    // Without keyframes too: the single pass costs less than the seeks could at best.
    expect(estimateDecode(small, [{ kind: 'frames', indices: [375, 1000, 2251] }])).toMatchObject({ runs: 1, decodedFrames: 2252 });
  });

  it('adds up passes and leaves out frames past the end', () => {
    const passes: DecodePass[] = [
      { kind: 'frames', indices: [0, 1, 2] },
      { kind: 'frames', indices: [99_999, 100_000, 120_000], plan: 'seek' },
    ];
    const e = estimateDecode(small, passes, every(250, small.frameCount));
    expect(e).toMatchObject({ runs: 2, seeks: 1, outputFrames: 4, decodedFrames: 3 + 250 });
  });

  it('lists the frames the runs seek to', () => {
    expect(
      seekTargets(small, [
        { kind: 'frames', indices: [0, 100, 5000, 5100, 9000] },
        { kind: 'stream' },
        { kind: 'frames', indices: [5000, 200_000] },
      ]),
    ).toEqual([5000, 9000]);
  });
});

describe('the default limit', () => {
  // The bundled default model: ssv2 sampling, 8 frames, short side 64.
  const protocol = resolveProtocol('ssv2', { numFrames: 8 });
  const preprocessing = { shortSide: 64, cropSize: 64, mean: [0, 0, 0], std: [1, 1, 1] } as const;
  const limit = DEFAULT_LIMITS.maxDecodePixels!;
  const classify = (video: { width: number; height: number; frameCount: number; fps: number }, keyframes?: number[], p = protocol) => {
    const info = { ...video, durationSec: video.frameCount / video.fps, codec: 'h264', container: 'mp4', streamCount: 1, bytes: 1 };
    return estimateDecode(video, viewDecodePasses(planViews(info, p, preprocessing)), keyframes);
  };

  it('lets a 10-minute 1080p video pass with the default protocol, and refuses 32 clips of it', () => {
    const video = { width: 1920, height: 1080, frameCount: 15_000, fps: 25 };
    expect(classify(video, every(250, video.frameCount)).pixels).toBeLessThan(limit);
    expect(classify(video, every(250, video.frameCount), { ...protocol, numClips: 32 }).pixels).toBeGreaterThan(limit);
  });

  it('refuses a one-hour 4096x4096 video and a 16x16 stream of 400000 frames with one keyframe', () => {
    const big = { width: 4096, height: 4096, frameCount: 90_000, fps: 25 };
    expect(classify(big, every(250, big.frameCount)).pixels).toBeGreaterThan(limit);
    expect(classify({ width: 16, height: 16, frameCount: 400_000, fps: 1000 }, [0]).pixels).toBeGreaterThan(limit);
  });

  it('lets 100000 frames of 16x16 with one keyframe through as one pass, not 16 seeks from the start', () => {
    const e = classify({ width: 16, height: 16, frameCount: 100_000, fps: 1000 }, [0]);
    expect(e).toMatchObject({ runs: 1, seeks: 0 });
    expect(e.pixels).toBeLessThan(limit);
  });

  it('lets vtest.avi (768x576, 795 frames) through temporal detection', () => {
    expect(estimateDecode({ width: 768, height: 576, frameCount: 795 }, [{ kind: 'stream' }]).pixels).toBeLessThan(limit / 10);
  });
});

describe('budgetMessage', () => {
  it('names the work, the limit and its flag, and what to change', () => {
    const e = estimateDecode({ width: 4096, height: 4096, frameCount: 90_000 }, [{ kind: 'frames', indices: [45_000], plan: 'seek' }]);
    const message = budgetMessage(e, 16e9, 'lower numClips');
    expect(message).toMatch(
      /^decoding this request would cost about \d+ megapixels \(45001 frames of 4096x4096 in one ffmpeg run, each seek from the first frame\)/,
    );
    expect(message).toContain('more than the limit of 16000 megapixels (--max-decode-pixels 16000000000); lower numClips');
  });
});

describe('the plan the budget counts', () => {
  it('is the one decodeFrames chooses, keyframes or not', () => {
    const video = { width: 320, height: 240, frameCount: 15_000 };
    const keyframes = every(250, 15_000);
    const clips = [0, 4, 8, 5000, 5004, 10_000, 10_004, 14_996];
    for (const indices of [clips, [100, 104, 108], Array.from({ length: 40 }, (_, i) => i * 350)]) {
      // decodeFrames: plans without keyframes, probes them only when the plan needs them.
      const blind = planDecode(video, indices);
      const chosen = blind.needsKeyframes ? planDecode({ ...video, keyframes }, indices) : blind;
      const counted = estimateDecode(video, [{ kind: 'frames', indices }], keyframes);
      expect(counted.runs).toBe(chosen.runs.length);
      expect(counted.outputFrames).toBe(indices.length);
    }
  });
});
