/**
 * Real ffmpeg on real files: probing, frame-exact seeking decode in several containers, clamping
 * of short videos, limits, and undecodable input.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.js';
import { decodeFrames, groupIndices } from '../../src/video/decode.js';
import type { DecodePlanChoice } from '../../src/video/decode-plan.js';
import { checkLimits, DEFAULT_LIMITS } from '../../src/video/limits.js';
import { probeVideo } from '../../src/video/probe.js';
import { PROTOCOLS } from '../../src/video/sampling.js';
import { planViews, readViews } from '../../src/video/views.js';
import { CONTAINERS, rampIndex, VideoFactory } from '../helpers/videos.js';

const videos = new VideoFactory();
afterAll(() => videos.cleanup());

const PREPROCESSING = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], shortSide: 32, cropSize: 32 } as const;

/** The ramp videos' default frame size. */
const RAMP_SIZE = { width: 64, height: 48 };

async function collect(file: string, fps: number, indices: number[], plan: DecodePlanChoice = 'auto') {
  const frames: Array<{ index: number; decoded: number }> = [];
  for await (const frame of decodeFrames({ file, fps, indices, source: RAMP_SIZE, size: { width: 32, height: 24 }, plan })) {
    frames.push({ index: frame.index, decoded: rampIndex(frame.rgb) });
  }
  return frames;
}

describe.each(CONTAINERS)('decoding $name', (spec) => {
  const file = videos.ramp(spec);

  it('probes 300 frames at 25 fps, 64x48', async () => {
    const info = await probeVideo(file);
    expect(info).toMatchObject({ fps: 25, frameCount: 300, width: 64, height: 48, streamCount: 1 });
    expect(info.durationSec).toBeCloseTo(12, 1);
  });

  it.each(['seek', 'single-pass'] as const)('returns exactly the requested frames (%s plan)', async (plan) => {
    const indices = [0, 3, 47, 48, 199, 200, 203, 290, 299];
    expect(groupIndices(indices).length).toBeGreaterThan(1); // the seek plan seeks across the long gaps
    const frames = await collect(file, 25, indices, plan);
    expect(frames.map((f) => f.index)).toEqual(indices);
    expect(frames.map((f) => f.decoded)).toEqual(indices.map((i) => i % 100));
  });
});

describe('many frames in one run', () => {
  const file = videos.ramp(CONTAINERS[0]!, 300);

  it('decodes 150 frames at stride 2 and 120 irregular frames exactly', async () => {
    const strided = Array.from({ length: 150 }, (_, i) => 2 * i);
    expect((await collect(file, 25, strided)).map((f) => f.decoded)).toEqual(strided.map((i) => i % 100));
    // Irregular gaps (1..4) defeat run compression: many single terms, several ffmpeg runs.
    const irregular: number[] = [];
    for (let i = 0, k = 0; irregular.length < 120; k++) {
      irregular.push(i);
      i += 1 + ((k * 7) % 4);
    }
    expect(groupIndices(irregular).length).toBeGreaterThan(1);
    expect((await collect(file, 25, irregular)).map((f) => f.index)).toEqual(irregular);
    expect((await collect(file, 25, irregular)).map((f) => f.decoded)).toEqual(irregular.map((i) => i % 100));
  });
});

describe('views', () => {
  it('clamps a 3-frame video to its last frame for every clip of the k400 protocol', async () => {
    const file = videos.ramp(CONTAINERS[0]!, 3, 25, 48, 32);
    const info = await probeVideo(file);
    expect(info.frameCount).toBe(3);
    const protocol = { ...PROTOCOLS.k400, numCrops: 3 };
    const plan = planViews(info, protocol, PREPROCESSING);
    expect(plan.viewCount).toBe(15);
    const timings = { decodeMs: 0, preprocessMs: 0 };
    const views: Array<{ clip: number; crop: number }> = [];
    for await (const view of readViews(file, info, plan, PREPROCESSING, timings)) {
      await view.packInto(new Float32Array(plan.viewLength), 0);
      views.push({ clip: view.clip, crop: view.crop });
    }
    expect(views.map((v) => [v.clip, v.crop])).toEqual(Array.from({ length: 15 }, (_, i) => [Math.floor(i / 3), i % 3]));
    // Frame t of each clip: index 0 (t = 0), then the last sample (frame 0 again: stride 4 > 3 frames).
    expect(plan.clips[0]).toEqual(Array(16).fill(0));
    expect(timings.decodeMs).toBeGreaterThan(0);
    expect(timings.preprocessMs).toBeGreaterThan(0);
  });

  it('clamps indices past the real end to the last decoded frame when the probe over-counts', async () => {
    const file = videos.ramp(CONTAINERS[0]!, 40, 25, 32, 32);
    const info = { ...(await probeVideo(file)), frameCount: 80 };
    const plan = planViews(info, { ...PROTOCOLS.fast, samplingRate: 5 }, PREPROCESSING);
    const packed: Float32Array[] = [];
    for await (const view of readViews(file, info, plan, PREPROCESSING, { decodeMs: 0, preprocessMs: 0 })) {
      const data = new Float32Array(plan.viewLength);
      await view.packInto(data, 0);
      packed.push(data);
    }
    expect(packed).toHaveLength(1);
    // Samples 0, 5, ..., 75; frames 40..75 do not exist, so they repeat frame 35, the last one decoded.
    const size = 32 * 32;
    const lastFrameRed = packed[0]![15 * size]!;
    const red = Math.round((lastFrameRed * 0.229 + 0.485) * 255);
    expect(rampIndex(Uint8Array.of(red))).toBe(35);
  });
});

describe('refusals', () => {
  it('refuses a text file, which ffmpeg would happily play as ANSI art (415)', async () => {
    const file = videos.text('notes.txt', 'this is not a video\n'.repeat(100));
    // Only the accepted demuxers may open a file: the tty demuxer never gets to read it.
    await expect(probeVideo(file)).rejects.toMatchObject({ status: 415, code: 'undecodable_media' });
    // Were it allowed to, the container allowlist would still refuse what it found.
    const info = await probeVideo(file, file, ['tty']);
    expect(info.container).toBe('tty');
    expect(() => checkLimits(info, DEFAULT_LIMITS)).toThrow(expect.objectContaining({ status: 415, code: 'unsupported_container' }));
  });

  it('refuses random bytes as undecodable media (415)', async () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const file = videos.text('random.bin', bytes);
    await expect(probeVideo(file)).rejects.toMatchObject({ status: 415 });
  });

  it('refuses an empty file (415)', async () => {
    const file = videos.text('empty.mp4', '');
    await expect(probeVideo(file)).rejects.toMatchObject({ status: 415, code: 'empty_upload' });
  });

  it('checks limits on probe facts before decoding', async () => {
    const info = await probeVideo(videos.ramp(CONTAINERS[0]!, 30));
    expect(() => checkLimits(info, { ...DEFAULT_LIMITS, maxDurationSec: 1 })).toThrow(/lasts 1.2 s; the limit is 1 s/);
    expect(() => checkLimits(info, { ...DEFAULT_LIMITS, maxWidth: 32 })).toThrow(ServiceError);
    expect(() => checkLimits(info, { ...DEFAULT_LIMITS, maxFrames: 10 })).toThrow(/30 frames/);
    expect(() => checkLimits(info, DEFAULT_LIMITS)).not.toThrow();
  });
});
