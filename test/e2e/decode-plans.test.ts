/**
 * The two decode plans on real files give byte-identical frames: one pass from the start and the
 * grouped keyframe seeks, forced in turn, on vtest.avi with the classify path's 8-frame clips and
 * on a ten-minute ramp video (each frame's brightness names it) with sparse clips; and the auto
 * plan picks the one pass for the short video, the seeks for the long one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseDecodePlan, decodeFrames, type DecodeRequest } from '../../src/video/decode.js';
import type { DecodePlanChoice } from '../../src/video/decode-plan.js';
import { probeVideo } from '../../src/video/probe.js';
import { resolveProtocol } from '../../src/video/sampling.js';
import { neededFrames, planViews } from '../../src/video/views.js';
import { CONTAINERS, rampIndex, VideoFactory } from '../helpers/videos.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const PREPROCESSING = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], shortSide: 64, cropSize: 64 } as const;
/** The k400 stride protocol with 8-frame clips: 5 clips spread over the video. */
const EIGHT_FRAME_CLIPS = resolveProtocol('k400', { numFrames: 8 });

const videos = new VideoFactory();
afterAll(() => videos.cleanup());

/** The request the classify path makes for `file`: its needed frames, at the video's own size. */
async function classifyRequest(file: string): Promise<DecodeRequest> {
  const info = await probeVideo(file);
  const indices = neededFrames(planViews(info, EIGHT_FRAME_CLIPS, PREPROCESSING));
  return { file, fps: info.fps, indices, source: info, size: info, frameCount: info.frameCount };
}

/** Index -> sha256 of its RGB bytes (and the first pixel, for the ramp), decoded by `plan`. */
async function decodeWith(request: DecodeRequest, plan: DecodePlanChoice) {
  const frames = new Map<number, { hash: string; first: Uint8Array }>();
  for await (const f of decodeFrames({ ...request, plan })) {
    frames.set(f.index, { hash: createHash('sha256').update(f.rgb).digest('hex'), first: f.rgb.slice(0, 3) });
  }
  return frames;
}

describe.skipIf(!existsSync(VTEST))('vtest.avi with 8-frame clips', () => {
  it('gives byte-identical frames in one pass and by seeks, and auto takes the one pass', async () => {
    const request = await classifyRequest(VTEST);
    expect(request.indices).toHaveLength(40);
    expect((await chooseDecodePlan({ ...request, plan: 'seek' })).runs).toHaveLength(5);
    expect(await chooseDecodePlan(request)).toMatchObject({ kind: 'single-pass', needsKeyframes: false });
    const once = await decodeWith(request, 'single-pass');
    const seeks = await decodeWith(request, 'seek');
    expect([...once.keys()]).toEqual(request.indices);
    expect([...seeks.keys()]).toEqual(request.indices);
    for (const index of request.indices) expect(seeks.get(index)!.hash, `frame ${index}`).toBe(once.get(index)!.hash);
  });
});

describe('a ten-minute ramp video with sparse clips', () => {
  // 15000 frames of 64x48 H.264 (lossless, a keyframe every 250 frames).
  const file = videos.ramp(CONTAINERS[0]!, 15_000);

  it('gives byte-identical frames, each the frame asked for, and auto seeks', async () => {
    const request = await classifyRequest(file);
    expect(request.frameCount).toBe(15_000);
    const auto = await chooseDecodePlan(request);
    expect(auto.kind).toBe('seek');
    expect(auto.runs).toHaveLength(5);
    const seeks = await decodeWith(request, 'auto');
    const once = await decodeWith(request, 'single-pass');
    expect([...seeks.keys()]).toEqual(request.indices);
    expect([...once.keys()]).toEqual(request.indices);
    for (const index of request.indices) {
      expect(rampIndex(once.get(index)!.first), `frame ${index}`).toBe(index % 100);
      expect(seeks.get(index)!.hash, `frame ${index}`).toBe(once.get(index)!.hash);
    }
  });
});
