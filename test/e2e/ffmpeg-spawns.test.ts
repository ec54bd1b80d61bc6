/**
 * Every ffmpeg and ffprobe process the service starts, counted through FFMPEG_PATH / FFPROBE_PATH
 * wrappers that log their arguments (fluent-ffmpeg honours the same variables): two probes and
 * decodes in one process start exactly one ffprobe and one ffmpeg each, and neither they nor a
 * whole `videomae predict` runs a capability probe (`-formats`, `-encoders`, ...). fluent-ffmpeg
 * used to run those in every process; only its types are used now (src/video/ffmpeg.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decode.js';
import { probeVideo } from '../../src/video/probe.js';
import { copyBundledModels } from '../helpers/models.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'videomae-spawns-'));
const log = join(dir, 'spawns.log');

/** Options that only ask ffmpeg what it can do. */
const CAPABILITY_FLAGS = ['-formats', '-encoders', '-decoders', '-codecs', '-filters', '-pix_fmts', '-hwaccels', '-version', '-buildconf'];

/** A wrapper named `name` that logs "name args..." and execs the real program. */
function wrapper(name: string): string {
  const real = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

const env = { FFMPEG_PATH: wrapper('ffmpeg'), FFPROBE_PATH: wrapper('ffprobe') };
const saved = { FFMPEG_PATH: process.env.FFMPEG_PATH, FFPROBE_PATH: process.env.FFPROBE_PATH };

/** The programs started since the log was last read, in order, and their arguments. */
function spawned(): Array<{ program: string; args: string[] }> {
  if (!existsSync(log)) return [];
  const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  rmSync(log);
  return lines.map((line) => {
    const [program, ...args] = line.split(' ');
    return { program: program!, args };
  });
}

beforeAll(() => Object.assign(process.env, env));
afterAll(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(VTEST))('ffmpeg processes', () => {
  it('two probes and decodes start one ffprobe and one ffmpeg each, and no capability probe', async () => {
    spawned();
    for (let round = 0; round < 2; round++) {
      const info = await probeVideo(VTEST);
      // One clip's frames: one run whichever the plan, so no keyframe probe either.
      const indices = Array.from({ length: 16 }, (_, i) => 100 + 4 * i);
      let frames = 0;
      for await (const frame of decodeFrames({ file: VTEST, fps: info.fps, indices, source: info, size: { width: 32, height: 24 } }))
        frames += frame.rgb.length > 0 ? 1 : 0;
      expect(frames).toBe(indices.length);
    }
    const runs = spawned();
    expect(runs.map((r) => r.program)).toEqual(['ffprobe', 'ffmpeg', 'ffprobe', 'ffmpeg']);
    expect(runs.flatMap((r) => r.args).filter((a) => CAPABILITY_FLAGS.includes(a))).toEqual([]);
  });

  it('videomae predict runs one ffprobe and its decodes, no capability probe', async () => {
    const models = join(dir, 'models');
    await copyBundledModels(models, ['default']);
    spawned();
    const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
    const result = spawnSync(process.execPath, [...cli, 'predict', VTEST, '--models', models, '--device', 'cpu'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, ...env },
    });
    expect(result.status, result.stderr).toBe(0);
    const runs = spawned();
    expect(runs.filter((r) => r.program === 'ffprobe')).toHaveLength(1);
    // The bundled model samples 16 frames of vtest.avi close together: one decode run.
    expect(runs.filter((r) => r.program === 'ffmpeg')).toHaveLength(1);
    expect(runs.flatMap((r) => r.args).filter((a) => CAPABILITY_FLAGS.includes(a))).toEqual([]);
  });
});
