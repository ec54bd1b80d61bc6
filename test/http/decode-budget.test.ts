/**
 * The decode budget in process, on all three endpoints: videos that are small to upload but
 * expensive to decode (a 16x16 stream of 400000 frames with one keyframe, four minutes of 1080p in
 * 1.8 MB) are refused with 413 decode_budget_exceeded before any decoding and before any job
 * exists, leaving no child process and no temp file; many clips of a long ordinary video are
 * refused while its defaults pass.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { DEFAULT_JOB_OPTIONS } from '../../src/http/jobs/job-manager.js';
import { createJobManager } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { copyBundledModels } from '../helpers/models.js';
import { expectError } from '../helpers/openapi.js';
import { childProcesses, waitFor } from '../helpers/processes.js';
import { loadModels } from '../../src/kinds/load-models.js';
import { localJobs } from '../helpers/jobs.js';

const root = mkdtempSync(join(tmpdir(), 'videomae-budget-'));
const uploads = join(root, 'uploads');
const stateDir = join(root, 'state');
const media = join(root, 'media');
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `seconds` of black encoded once, then repeated `loops` times by copying packets (no encoding). */
function looped(name: string, size: string, seconds: number, loops: number): string {
  const segment = join(media, `segment-${name}`);
  ffmpeg(['-f', 'lavfi', '-i', `color=c=black:s=${size}:r=25:d=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', segment]);
  ffmpeg(['-stream_loop', String(loops - 1), '-i', segment, '-c:v', 'copy', join(media, name)]);
  return join(media, name);
}

let bomb: string;
let long1080: string;
let long240: string;

beforeAll(async () => {
  mkdirSync(uploads);
  mkdirSync(stateDir);
  mkdirSync(media);
  // 400000 frames of 16x16 with a single keyframe (5 MB): every seek decodes from the start, and
  // one pass through it is 20 G decoded pixels.
  bomb = join(media, 'bomb.mp4');
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'color=c=black:s=16x16:r=1000:d=400',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-x264-params',
    'keyint=infinite',
    bomb,
  ]);
  // 6250 frames of 1080p (1.8 MB): a stream of them is 27 G decoded pixels.
  long1080 = looped('long-1080p.mp4', '1920x1080', 1, 250);
  // 27 minutes of 320x240 with a keyframe every 10 s: ordinary, but long enough that 32 clips are 256 seeks.
  long240 = looped('long-240p.mp4', '320x240', 10, 160);

  const models = join(root, 'models');
  await copyBundledModels(models, ['default', 'temporal', 'ava', 'ava-backbone']);
  registry = await loadModels(models, { device: 'cpu', threads: 1 }, 'default');
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: uploads });
  state.setRegistry(registry);
  state.jobs = createJobManager(state, stateDir, DEFAULT_JOB_OPTIONS).manager;
  state.jobs.start();
  server = createApp(state).listen(0);
});

afterAll(async () => {
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  rmSync(root, { recursive: true, force: true });
});

const jobCount = (): number => Object.values(localJobs(state).countsByStatus()).reduce((a, b) => a + b, 0);

/** Nothing left of a refused request: no ffmpeg or ffprobe child, no upload, no job folder. */
async function leftNothing(): Promise<boolean> {
  return waitFor(
    () =>
      childProcesses('ffmpeg').length === 0 &&
      childProcesses('ffprobe').length === 0 &&
      readdirSync(uploads).length === 0 &&
      readdirSync(join(stateDir, 'jobs')).length === 0,
    3_000,
  );
}

describe('decode budget', () => {
  it('refuses a 16x16 stream of 400000 frames with one keyframe on /classify, quickly, naming what drives it', async () => {
    const started = performance.now();
    const res = await request(server).post('/classify').attach('video', bomb);
    expect(performance.now() - started).toBeLessThan(10_000);
    expectError(res, 'POST', '/classify', 413, 'decode_budget_exceeded');
    expect(res.body.error.parameter).toBe('video');
    // One pass is the cheapest plan here (16 seeks would each decode from the start), and still too much.
    expect(res.body.error.message).toMatch(/frames of 16x16 in one ffmpeg run\)/);
    expect(res.body.error.message).toMatch(/--max-decode-pixels 16000000000\); lower numClips/);
    expect(await leftNothing()).toBe(true);
    const refusals = (await state.metrics.registry.getSingleMetric('videomae_media_refusals_total')!.get()).values;
    expect(refusals.find((v) => v.labels.code === 'decode_budget_exceeded')?.value).toBeGreaterThan(0);
  });

  it('refuses four minutes of 1080p on /detect-temporal before a job exists', async () => {
    const before = jobCount();
    const started = performance.now();
    const res = await request(server).post('/detect-temporal').attach('video', long1080);
    expect(performance.now() - started).toBeLessThan(10_000);
    expectError(res, 'POST', '/detect-temporal', 413, 'decode_budget_exceeded');
    expect(res.body.error.message).toMatch(/6250 frames of 1920x1080 in one ffmpeg run.*send a shorter or smaller video/);
    expect(jobCount()).toBe(before);
    expect(await leftNothing()).toBe(true);
  });

  it('refuses it on /detect-spatiotemporal before a job exists', async () => {
    const before = jobCount();
    const res = await request(server).post('/detect-spatiotemporal').attach('video', long1080);
    expectError(res, 'POST', '/detect-spatiotemporal', 413, 'decode_budget_exceeded');
    expect(res.body.error.message).toMatch(/keyframeInterval/);
    expect(jobCount()).toBe(before);
    expect(await leftNothing()).toBe(true);
  });

  it('refuses 32 clips x 10 crops of a long ordinary video and classifies it with the defaults', async () => {
    // 3 G decoded pixels: one pass through the 27 minutes (4.9 G) is over it; the defaults' 16
    // seeks (2.4 G, counted from the keyframes ffprobe finds) are not; 32 clips are 256 frames,
    // too many to seek to one by one and over the limit in one pass (5.4 G).
    const strict = new ServiceState({ device: 'cpu', limits: { ...DEFAULT_LIMITS, maxDecodePixels: 3e9 }, maxBatch: 4, tempDir: uploads });
    strict.setRegistry(registry);
    const strictServer = createApp(strict).listen(0);
    try {
      const many = await request(strictServer).post('/classify').query({ numClips: 32, numCrops: 10 }).attach('video', long240);
      expectError(many, 'POST', '/classify', 413, 'decode_budget_exceeded');
      expect(many.body.error.message).toMatch(/in 2 ffmpeg runs\)/);
      expect(await leftNothing()).toBe(true);
      const defaults = await request(strictServer).post('/classify').attach('video', long240);
      expect(defaults.status, JSON.stringify(defaults.body)).toBe(200);
    } finally {
      strictServer.close();
    }
  });

  it('follows the configured limit', async () => {
    const strict = new ServiceState({ device: 'cpu', limits: { ...DEFAULT_LIMITS, maxDecodePixels: 1e8 }, maxBatch: 4, tempDir: uploads });
    strict.setRegistry(registry);
    const strictServer = createApp(strict).listen(0);
    try {
      const res = await request(strictServer).post('/classify').query({ protocol: 'fast' }).attach('video', long240);
      expectError(res, 'POST', '/classify', 413, 'decode_budget_exceeded');
      expect(res.body.error.message).toMatch(/the limit of 100 megapixels \(--max-decode-pixels 100000000\)/);
    } finally {
      strictServer.close();
    }
  });
});
