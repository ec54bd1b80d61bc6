/**
 * `videomae predict VIDEO --render out.mp4` as a user runs it (a child process), for each task
 * with the bundled models: the MP4 has the source's frame count (ffprobe), the result is still
 * the JSON on stdout, the people CenterNet found are boxed in the decoded frames, and a bad
 * --render is refused before any inference.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearestKeyframe, PALETTE } from '../../src/render/overlays.js';
import { copyBundledModels } from '../helpers/models.js';
import { decodeFrame, probeFrames } from '../helpers/media.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const dir = mkdtempSync(join(tmpdir(), 'videomae-render-cli-'));
const models = join(dir, 'models');
/** The first 4 s of the pedestrian video (40 frames at 10 fps): people for CenterNet, quick to render. */
const clip = join(dir, 'vtest-4s.mp4');

function videomae(args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 240_000 });
}

beforeAll(async () => {
  await copyBundledModels(models, ['default', 'temporal', 'ava-backbone', 'ava']);
  execFileSync('ffmpeg', ['-v', 'error', '-i', VTEST, '-t', '4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip]);
}, 240_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('videomae predict --render', () => {
  const frames = () => probeFrames(clip).frames;

  it('classification: the top labels drawn on every frame of the video', () => {
    const out = join(dir, 'classified.mp4');
    const run = videomae(['predict', clip, '--models', models, '--device', 'cpu', '--render', out]);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.labels.length).toBeGreaterThan(0);
    expect(run.stderr).toContain(`wrote ${out}: 40 frames, 768x576`);
    expect(probeFrames(out)).toMatchObject({ frames: frames(), codec: 'h264', pixFmt: 'yuv420p', width: 768, height: 576 });
    // The caption's black background, top left, where the pedestrian video is not black.
    const drawn = decodeFrame(out, 20);
    const plain = decodeFrame(clip, 20);
    const at = (rgb: Buffer, x: number, y: number) => Array.from(rgb.subarray((y * 768 + x) * 3, (y * 768 + x) * 3 + 3));
    expect(Math.max(...at(drawn, 1, 1))).toBeLessThan(30);
    expect(Math.max(...at(plain, 1, 1))).toBeGreaterThan(60);
  });

  it('temporal detection: an MP4 of the same frames beside the segments on stdout', () => {
    const out = join(dir, 'temporal.mp4');
    const run = videomae(['predict', clip, '--temporal', '--models', models, '--device', 'cpu', '--score-threshold', '0', '--render', out]);
    expect(run.status, run.stderr).toBe(0);
    const segments = JSON.parse(run.stdout).segments as Array<{ start: number; end: number; labelIndex: number }>;
    expect(probeFrames(out)).toMatchObject({ frames: frames(), codec: 'h264', pixFmt: 'yuv420p' });
    // With every segment kept, some are under way at 2 s: captioned at the bottom left in their class colours.
    const under = segments.filter((s) => s.start <= 2 && 2 < s.end);
    expect(under.length).toBeGreaterThan(0);
    const colours = under.map((s) => PALETTE[s.labelIndex % PALETTE.length]!);
    const captionPixels = (rgb: Buffer) => {
      let count = 0;
      for (let y = 576 - 20; y < 576; y++)
        for (let x = 0; x < 200; x++)
          if (colours.some((c) => Math.hypot(...[0, 1, 2].map((k) => rgb[(y * 768 + x) * 3 + k]! - c[k]!)) < 60)) count++;
      return count;
    };
    expect(captionPixels(decodeFrame(out, 20))).toBeGreaterThan(50);
    expect(captionPixels(decodeFrame(clip, 20))).toBeLessThan(5);
  });

  it('spatiotemporal detection: every person CenterNet found is boxed in the decoded frames', () => {
    const out = join(dir, 'people.mp4');
    const run = videomae([
      'predict',
      clip,
      '--spatiotemporal',
      '--models',
      models,
      '--device',
      'cpu',
      '--person-threshold',
      '0.4',
      '--render',
      out,
    ]);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { keyframes: Array<{ time: number; people: Array<{ box: number[] }> }> };
    expect(probeFrames(out)).toMatchObject({ frames: frames(), width: 768, height: 576 });
    const n = 20; // 2 s: the keyframe at 2 s
    const keyframe = nearestKeyframe(result.keyframes, n / 10)!;
    expect(keyframe.people.length).toBeGreaterThan(0);
    const drawn = decodeFrame(out, n);
    const plain = decodeFrame(clip, n);
    keyframe.people.forEach((p, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      // The bottom edge, 4 px thick (2 + the font scale 2) inside the box: its second row.
      const [x1, , x2, y2] = [p.box[0]! * 768, p.box[1]! * 576, p.box[2]! * 768, p.box[3]! * 576].map(Math.round) as number[];
      const y = y2! - 2;
      let near = 0;
      let nearBefore = 0;
      for (let x = x1! + 4; x < x2! - 4; x++) {
        const d = (rgb: Buffer) => Math.hypot(...[0, 1, 2].map((c) => rgb[(y * 768 + x) * 3 + c]! - color[c]!));
        if (d(drawn) < 60) near++;
        if (d(plain) < 60) nearBefore++;
      }
      const width = x2! - 4 - (x1! + 4);
      // Other people's boxes and labels may cross it; most of it is the box's colour all the same.
      expect(near / width, `person ${i} ${p.box}`).toBeGreaterThan(0.5);
      expect(nearBefore / width).toBeLessThan(0.2);
    });
  });

  it('refuses a bad --render before any inference, naming it', () => {
    for (const [out, reason] of [
      [join(dir, 'x.avi'), /must name an \.mp4 file/],
      [join(dir, 'missing', 'x.mp4'), /folder that does not exist/],
    ] as const) {
      const run = videomae(['predict', clip, '--models', models, '--device', 'cpu', '--render', out]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(reason);
      expect(run.stderr).toContain('--render');
      expect(run.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    }
  });
});
