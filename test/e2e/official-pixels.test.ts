/**
 * The official loaders' pixels: frames decoded by cv2.VideoCapture (BGR -> RGB) and resized by
 * cv2.resize INTER_LINEAR, recorded by tools/make_resize_golden.py, against decodeFrames and
 * streamFrames on the same files (vtest.avi, a real encoder's file, and small H.264 videos in
 * test/fixtures/official-pixels/: 4:2:0 and an odd-sized 4:4:4, shrunk and enlarged by
 * non-integer ratios, and by exactly one half).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeFrames, streamFrames } from '../../src/video/decode.js';
import type { Size } from '../../src/video/geometry.js';
import { probeVideo } from '../../src/video/probe.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

interface Resized {
  width: number;
  height: number;
  sha256: string;
  rows: number[];
  values: string;
}
interface GoldenVideo {
  name: string;
  fps: number;
  width: number;
  height: number;
  indices: number[];
  fileSha256?: string;
  frames: Array<{ index: number; nativeSha256: string; resized: Resized[] }>;
}
const golden = JSON.parse(readFileSync(join(FIXTURES, 'official-pixels.json'), 'utf8')) as { opencv: string; videos: GoldenVideo[] };

const fileOf = (v: GoldenVideo): string => (v.name === 'vtest.avi' ? VTEST : join(FIXTURES, 'official-pixels', v.name));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function decode(v: GoldenVideo, size: Size): Promise<Map<number, Uint8Array>> {
  const frames = new Map<number, Uint8Array>();
  for await (const f of decodeFrames({ file: fileOf(v), fps: v.fps, indices: v.indices, source: v, size })) frames.set(f.index, f.rgb);
  return frames;
}

/** Value-by-value comparison of the golden rows: how many equal, how many within one level. */
function compareRows(rgb: Uint8Array, r: Resized): { values: number; exact: number; withinOne: number; maxDiff: number } {
  const expected = inflateSync(Buffer.from(r.values, 'base64'));
  const rowBytes = r.width * 3;
  expect(expected.length).toBe(r.rows.length * rowBytes);
  let exact = 0;
  let withinOne = 0;
  let maxDiff = 0;
  r.rows.forEach((row, k) => {
    for (let x = 0; x < rowBytes; x++) {
      const d = Math.abs(rgb[row * rowBytes + x]! - expected[k * rowBytes + x]!);
      if (d === 0) exact++;
      if (d <= 1) withinOne++;
      maxDiff = Math.max(maxDiff, d);
    }
  });
  return { values: expected.length, exact, withinOne, maxDiff };
}

describe.each(golden.videos)(`OpenCV ${golden.opencv} pixels of $name`, (v) => {
  it('the committed file is the one the golden was made from', () => {
    if (v.fileSha256) expect(sha256(readFileSync(fileOf(v)))).toBe(v.fileSha256);
  });

  it(`probes ${v.width}x${v.height}, and decodes to RGB bit-identical to cv2.VideoCapture's`, async () => {
    const info = await probeVideo(fileOf(v));
    expect({ width: info.width, height: info.height }).toEqual({ width: v.width, height: v.height });
    const frames = await decode(v, info);
    expect([...frames.keys()]).toEqual(v.indices);
    for (const f of v.frames) expect(sha256(frames.get(f.index)!), `frame ${f.index}`).toBe(f.nativeSha256);
  });

  const sizes = v.frames[0]!.resized.map((r) => ({ width: r.width, height: r.height }));
  it.each(sizes)('resizes to $width x $height as cv2.resize INTER_LINEAR does', async (size) => {
    const frames = await decode(v, size);
    let values = 0,
      exact = 0,
      withinOne = 0,
      maxDiff = 0,
      identical = 0;
    for (const f of v.frames) {
      const r = f.resized.find((x) => x.width === size.width && x.height === size.height)!;
      const rgb = frames.get(f.index)!;
      expect(rgb.length).toBe(size.width * size.height * 3);
      if (sha256(rgb) === r.sha256) identical++;
      const c = compareRows(rgb, r);
      values += c.values;
      exact += c.exact;
      withinOne += c.withinOne;
      maxDiff = Math.max(maxDiff, c.maxDiff);
    }
    console.info(
      `${v.name} -> ${size.width}x${size.height}: ${identical}/${v.frames.length} frames identical (sha256); ` +
        `compared values ${((100 * exact) / values).toFixed(3)} % exact, ${((100 * withinOne) / values).toFixed(3)} % within 1, max diff ${maxDiff}`,
    );
    expect(withinOne / values).toBeGreaterThanOrEqual(0.999);
    expect(maxDiff).toBeLessThanOrEqual(1);
    // What this implementation achieves: OpenCV's own bytes.
    expect(identical).toBe(v.frames.length);
  });
});

describe('streamFrames', () => {
  const v = golden.videos.find((x) => x.name.startsWith('testsrc2-333x187'))!;
  it(`gives the same official pixels when it decodes ${v.name} end to end`, async () => {
    const r0 = v.frames[0]!.resized[0]!;
    const seen = new Map<number, string>();
    let n = 0;
    for await (const rgb of streamFrames({ file: fileOf(v), source: v, size: { width: r0.width, height: r0.height } })) {
      if (v.indices.includes(n)) seen.set(n, sha256(rgb));
      n++;
    }
    expect(n).toBe(v.indices.at(-1)! + 1);
    for (const f of v.frames) expect(seen.get(f.index), `frame ${f.index}`).toBe(f.resized[0]!.sha256);
  });
});
