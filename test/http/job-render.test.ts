/**
 * render=true on the job endpoints, in process with the bundled models: GET /jobs/{id}/render.mp4
 * has every frame of the upload (ffprobe) with the people's boxes in its decoded frames, serves
 * Range requests, goes with its job; a temporal job's events show the render stage; bad render
 * values and render.mp4 of the wrong job are refused with stable codes; a job cancelled while it
 * renders leaves no file and no ffmpeg.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { DEFAULT_JOB_OPTIONS } from '../../src/http/jobs/job-manager.js';
import { createJobManager } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { loadModels } from '../../src/kinds/load-models.js';
import { PALETTE } from '../../src/render/overlays.js';
import type { ModelRegistry } from '../../src/runtime/model-registry.js';
import { writeNpy } from '../../src/weights/npy.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { decodeFrame, probeFrames } from '../helpers/media.js';
import { copyBundledModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { childProcesses, waitFor } from '../helpers/processes.js';
import { openEvents } from '../helpers/sse.js';
import { VideoFactory } from '../helpers/videos.js';
import { localJobs } from '../helpers/jobs.js';

const videos = new VideoFactory();
const dir = mkdtempSync(join(tmpdir(), 'videomae-job-render-'));
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;
let base: string;

beforeAll(async () => {
  const models = join(dir, 'models');
  await copyBundledModels(models, ['default', 'temporal', 'ava-backbone', 'ava']);
  registry = await loadModels(models, { device: 'cpu', threads: 1 });
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: dir, jobWaitMs: 60_000 });
  state.setRegistry(registry);
  mkdirSync(join(dir, 'state'));
  state.jobs = createJobManager(state, join(dir, 'state'), DEFAULT_JOB_OPTIONS).manager;
  state.jobs.start();
  server = createApp(state).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 240_000);

afterAll(async () => {
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const api = () => request(server);
const getVideo = (path: string) => api().get(path).buffer(true).responseType('blob');

/** One person given at 1 s, drawn (nearest keyframe) on every frame. */
const BOXES = JSON.stringify([{ timestamp: 1, boxes: [[0.25, 0.3, 0.75, 0.9]] }]);

const distance = (a: readonly number[], b: readonly number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!));

function rowMean(rgb: Buffer, width: number, y: number, x0: number, x1: number): number[] {
  const sum = [0, 0, 0];
  for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) sum[c]! += rgb[(y * width + x) * 3 + c]!;
  return sum.map((v) => v / (x1 - x0));
}

describe('render=true', () => {
  it('spatiotemporal: render.mp4 has every frame with the person boxed, serves ranges, and goes with its job', async () => {
    const source = videos.pattern('people.mp4', 2, '160x120');
    const res = await api()
      .post('/detect-spatiotemporal?wait=true&render=true&scoreThreshold=0')
      .field('boxes', BOXES)
      .attach('video', source);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-spatiotemporal');
    const id = res.body.id as string;
    expect(res.body.render).toBe(`/jobs/${id}/render.mp4`);
    expect(res.body.result.timings.renderMs).toBeGreaterThan(0);
    expect(readdirSync(localJobs(state).filesDir(id))).toEqual(['render.mp4']);

    const got = await getVideo(res.body.render);
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('video/mp4');
    expect(got.headers['accept-ranges']).toBe('bytes');
    const file = join(dir, 'people-render.mp4');
    writeFileSync(file, got.body as Buffer);
    expect(probeFrames(file)).toEqual({ frames: probeFrames(source).frames, codec: 'h264', pixFmt: 'yuv420p', width: 160, height: 120 });
    // The box [40, 36, 120, 108]: a 3 px outline inside it; its bottom edge rows 105..107.
    for (const n of [0, 25, 49]) {
      const edge = rowMean(decodeFrame(file, n), 160, 106, 44, 116);
      expect(distance(edge, PALETTE[0]!), `frame ${n}: ${edge}`).toBeLessThan(40);
      expect(distance(rowMean(decodeFrame(source, n), 160, 106, 44, 116), PALETTE[0]!)).toBeGreaterThan(100);
    }

    const part = await getVideo(res.body.render).set('Range', 'bytes=0-99');
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toMatch(/^bytes 0-99\//);
    expect((part.body as Buffer).length).toBe(100);

    expect((await api().delete(`/jobs/${id}`)).status).toBe(204);
    expect(existsSync(localJobs(state).filesDir(id))).toBe(false);
    expectError(await api().get(`/jobs/${id}/render.mp4`), 'GET', '/jobs/{id}/render.mp4', 404, 'job_not_found');
  });

  it('temporal: the events show the render stage last, and render.mp4 has the frames of the upload', async () => {
    const source = videos.pattern('segments.mp4', 3, '160x120');
    const res = await api().post('/detect-temporal').field('render', 'true').field('scoreThreshold', '0').attach('video', source);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const stream = await openEvents(base, `/jobs/${res.body.id}/events`);
    const events = await stream.rest();
    const last = events[events.length - 1]!;
    expect(last.event, JSON.stringify(last.data).slice(0, 300)).toBe('result');
    const stages = events.filter((e) => e.event === 'stage').map((e) => (e.data as { stage: string }).stage);
    expect(stages[stages.length - 1]).toBe('render');
    expect(stages).toContain('features');
    const job = last.data as { render: string; result: { segments: unknown[]; timings: { renderMs: number } } };
    expect(job.result.timings.renderMs).toBeGreaterThan(0);
    const got = await getVideo(job.render);
    expect(got.status).toBe(200);
    const file = join(dir, 'segments-render.mp4');
    writeFileSync(file, got.body as Buffer);
    expect(probeFrames(file).frames).toBe(probeFrames(source).frames);
  });

  it('refuses bad render values with invalid_parameter naming render, before any job exists', async () => {
    const before = localJobs(state).active;
    const clip = videos.pattern('bad.mp4', 1, '64x48');
    for (const [path, res] of [
      ['/detect-temporal', await api().post('/detect-temporal?render=maybe').attach('video', clip)],
      ['/detect-temporal', await api().post('/detect-temporal').field('render', 'yes').attach('video', clip)],
      ['/detect-spatiotemporal', await api().post('/detect-spatiotemporal?render=1x').field('boxes', BOXES).attach('video', clip)],
      [
        '/detect-spatiotemporal',
        await api().post('/detect-spatiotemporal').field('render', '').field('boxes', BOXES).attach('video', clip),
      ],
    ] as const) {
      expectError(res, 'POST', path, 400, 'invalid_parameter');
      expect(res.body.error.parameter).toBe('render');
      expect(res.body.error.message).toContain("'render'");
    }
    const features = join(dir, 'features.npy');
    writeNpy(features, new Float32Array(40 * 96), [40, 96]);
    const onFeatures = await api()
      .post('/detect-temporal')
      .field('render', 'true')
      .field('fps', '8')
      .field('duration', '5')
      .attach('features', features);
    expectError(onFeatures, 'POST', '/detect-temporal', 400, 'invalid_parameter');
    expect(onFeatures.body.error).toMatchObject({ parameter: 'render' });
    expect(localJobs(state).active).toBe(before);
  });

  it('counts the render in the decode budget: a request that fits without it is 413 with it', async () => {
    // One 8-frame clip of 2 s of 160x120 costs one ffmpeg run (120 M decoded pixels) and a little;
    // the render decodes all 50 frames in a run of its own: together over 200 M, alone under.
    const tight = new ServiceState({ device: 'cpu', limits: { ...DEFAULT_LIMITS, maxDecodePixels: 200e6 }, maxBatch: 4, tempDir: dir });
    tight.setRegistry(registry);
    tight.jobs = state.jobs;
    const app = createApp(tight);
    const clip = videos.pattern('budget.mp4', 2, '160x120');
    const refused = await request(app).post('/detect-spatiotemporal?render=true').field('boxes', BOXES).attach('video', clip);
    expectError(refused, 'POST', '/detect-spatiotemporal', 413, 'decode_budget_exceeded');
    const accepted = await request(app).post('/detect-spatiotemporal?wait=true').field('boxes', BOXES).attach('video', clip);
    expect(accepted.status).toBe(200);
  });

  it('answers render.mp4 of a job without render, or of an unknown job, with stable 404s', async () => {
    const plain = await api()
      .post('/detect-spatiotemporal?wait=true')
      .field('boxes', BOXES)
      .attach('video', videos.pattern('plain.mp4', 2, '64x48'));
    expect(plain.status).toBe(200);
    expect(plain.body.render).toBeUndefined();
    expectError(await api().get(`/jobs/${plain.body.id}/render.mp4`), 'GET', '/jobs/{id}/render.mp4', 404, 'render_not_requested');
    expectError(await api().get('/jobs/nope/render.mp4'), 'GET', '/jobs/{id}/render.mp4', 404, 'job_not_found');
  });

  it('a job cancelled while it renders leaves no file and no ffmpeg; its render.mp4 is 409 render_not_ready', async () => {
    const res = await api()
      .post('/detect-spatiotemporal?render=true')
      .field('boxes', BOXES)
      .attach('video', videos.pattern('long.mp4', 40, '320x240'));
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    const stream = await openEvents(base, `/jobs/${id}/events`);
    // Until the render stage begins (the task itself is one clip: quick).
    for (let e = await stream.next(); e; e = await stream.next())
      if (e.event === 'stage' && (e.data as { stage: string }).stage === 'render') break;
    const cancelled = await api().delete(`/jobs/${id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', error: { code: 'job_cancelled' } });
    // The render's progress up to the cancel, then the failure.
    const rest = (await stream.rest()).map((e) => e.event);
    expect(rest[rest.length - 1]).toBe('failure');
    expect(new Set(rest.slice(0, -1))).toEqual(new Set(rest.length > 1 ? ['progress'] : []));
    expect(await waitFor(() => childProcesses('ffmpeg').length === 0, 10_000)).toBe(true);
    expect(await waitFor(() => !existsSync(localJobs(state).filesDir(id)), 10_000)).toBe(true);
    expectError(await api().get(`/jobs/${id}/render.mp4`), 'GET', '/jobs/{id}/render.mp4', 409, 'render_not_ready');
  });
});
