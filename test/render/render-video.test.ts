/**
 * renderAnnotatedVideo with real ffmpeg: the MP4 has every frame of the source (ffprobe counts
 * them), is H.264 yuv420p with its index first, shows the drawn boxes in its decoded frames where
 * the source has none, pads odd sizes, and a cancelled render leaves no file and no ffmpeg.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PALETTE, type Annotation } from '../../src/render/overlays.js';
import { renderAnnotatedVideo } from '../../src/render/render-video.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { decodeFrame, probeFrames } from '../helpers/media.js';
import { childProcesses, waitFor } from '../helpers/processes.js';
import { VideoFactory } from '../helpers/videos.js';

const videos = new VideoFactory();
const out = mkdtempSync(join(tmpdir(), 'videomae-render-'));
afterAll(() => {
  videos.cleanup();
  rmSync(out, { recursive: true, force: true });
});

/** Mean RGB of the pixels of row `y` from x0 to x1 (exclusive). */
function rowMean(rgb: Buffer, width: number, y: number, x0: number, x1: number): number[] {
  const sum = [0, 0, 0];
  for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) sum[c]! += rgb[(y * width + x) * 3 + c]!;
  return sum.map((v) => v / (x1 - x0));
}

const distance = (a: readonly number[], b: readonly number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!));

/** One person box at [0.25, 0.3, 0.75, 0.9] on a keyframe at 1 s: drawn on every frame. */
const boxed: Annotation = {
  task: 'spatiotemporal-detection',
  result: {
    keyframes: [
      {
        time: 1,
        frame: 25,
        people: [
          { box: [0.25, 0.3, 0.75, 0.9], boxPixels: [40, 36, 120, 108], score: 0.9, actions: [{ id: 1, label: 'stand', score: 0.7 }] },
        ],
      },
    ],
  },
};

describe('renderAnnotatedVideo', () => {
  it('keeps every frame, writes browser-playable H.264 with its index first, and the box shows in the decoded frames', async () => {
    const source = videos.pattern('boxed.mp4', 2, '160x120');
    const file = join(out, 'boxed.mp4');
    const fractions: number[] = [];
    const report = await renderAnnotatedVideo({
      file: source,
      displayName: 'boxed.mp4',
      out: file,
      annotation: boxed,
      limits: DEFAULT_LIMITS,
      onProgress: (f) => fractions.push(f),
    });
    const probed = probeFrames(file);
    expect(probed).toEqual({ frames: probeFrames(source).frames, codec: 'h264', pixFmt: 'yuv420p', width: 160, height: 120 });
    expect(report.frames).toBe(probed.frames);
    expect(fractions[fractions.length - 1]).toBe(1);
    const bytes = readFileSync(file);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat')); // +faststart
    expect(readdirSync(out)).toEqual(['boxed.mp4']); // no .part left

    // The box [40, 36, 120, 108] has a 3 px outline inside it: its bottom edge is rows 105..107.
    for (const n of [0, 30, 49]) {
      const drawn = decodeFrame(file, n);
      const plain = decodeFrame(source, n);
      const edge = rowMean(drawn, 160, 106, 44, 116);
      expect(distance(edge, PALETTE[0]!), `frame ${n} edge ${edge}`).toBeLessThan(40);
      expect(distance(rowMean(plain, 160, 106, 44, 116), PALETTE[0]!)).toBeGreaterThan(100);
      // Right edge, columns 117..119, down its middle.
      const right = [0, 0, 0];
      for (let y = 50; y < 100; y++) for (let c = 0; c < 3; c++) right[c]! += drawn[(y * 160 + 118) * 3 + c]! / 50;
      expect(distance(right, PALETTE[0]!)).toBeLessThan(40);
      // Away from the box and its label, the frame is the source's (up to compression).
      expect(distance(rowMean(drawn, 160, 70, 60, 100), rowMean(plain, 160, 70, 60, 100))).toBeLessThan(25);
    }
  });

  it('pads an odd-sized video to even sides and keeps its frame count (captions of each task)', async () => {
    // Plain grey cropped to odd sides in RGB (lavfi's sources and 4:2:0 crops round to even ones), encoded 4:4:4.
    const source = join(videos.dir, 'odd.mp4');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=0x808080:size=76x52:rate=25:duration=1,format=rgb24,crop=75:51:0:0',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv444p',
      source,
    ]);
    const annotations: Annotation[] = [
      { task: 'classification', result: { labels: [{ index: 0, label: 'wave', score: 0.6 }] } },
      { task: 'temporal-detection', result: { segments: [{ label: 'jump', labelIndex: 0, start: 0.2, end: 0.6, score: 0.5 }] } },
    ];
    for (const [i, annotation] of annotations.entries()) {
      const file = join(out, `odd-${i}.mp4`);
      await renderAnnotatedVideo({ file: source, displayName: 'odd.mp4', out: file, annotation, limits: DEFAULT_LIMITS });
      expect(probeFrames(file)).toMatchObject({ frames: 25, width: 76, height: 52, pixFmt: 'yuv420p' });
    }
    // The temporal caption is on the frames of its segment only: 0.2 s to 0.6 s (frames 5 to 14).
    const file = join(out, 'odd-1.mp4');
    const bottomLeft = (n: number) => rowMean(decodeFrame(file, n), 76, 49, 0, 4);
    expect(distance(bottomLeft(10), [0, 0, 0])).toBeLessThan(30);
    expect(distance(rowMean(decodeFrame(source, 10), 75, 49, 0, 4), [0, 0, 0])).toBeGreaterThan(60);
    expect(distance(bottomLeft(20), [0, 0, 0])).toBeGreaterThan(60);
  });

  it('stops at once when aborted: no file, no partial file, no ffmpeg left', async () => {
    const source = videos.pattern('long.mp4', 20, '320x240');
    const file = join(out, 'aborted.mp4');
    const controller = new AbortController();
    const run = renderAnnotatedVideo({
      file: source,
      displayName: 'long.mp4',
      out: file,
      annotation: boxed,
      limits: DEFAULT_LIMITS,
      signal: controller.signal,
      onProgress: (f) => {
        if (f > 0.05) controller.abort(new Error('cancelled by the test'));
      },
    });
    await expect(run).rejects.toThrow(/cancelled by the test/);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.part`)).toBe(false);
    expect(await waitFor(() => childProcesses('ffmpeg').length === 0, 5000)).toBe(true);
  });
});
