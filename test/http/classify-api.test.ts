/**
 * The HTTP API the way a client uses it: real uploads of real videos (made with ffmpeg here),
 * the real default model on ONNX Runtime, and every response checked against the OpenAPI spec.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeValue } from '../../src/errors.js';
import { createApp } from '../../src/http/app.js';
import { ServiceState } from '../../src/http/service-state.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { childProcesses, waitFor } from '../helpers/processes.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';

const MAX_UPLOAD = 2 * 1024 * 1024;

const videos = new VideoFactory();
const uploadRoot = mkdtempSync(join(tmpdir(), 'videomae-uploads-'));
let models: TestModels;
let state: ServiceState;
let server: Server;

beforeAll(async () => {
  models = await prepareTestModels();
  state = new ServiceState({
    device: 'cpu',
    limits: { ...DEFAULT_LIMITS, maxBytes: MAX_UPLOAD },
    maxBatch: 4,
    tempDir: uploadRoot,
  });
  server = createApp(state).listen(0);
});

afterAll(async () => {
  server?.close();
  await state?.registryIfLoaded?.close();
  models?.cleanup();
  videos.cleanup();
  rmSync(uploadRoot, { recursive: true, force: true });
});

const api = () => request(server);

describe('before the models are loaded', () => {
  it('is alive but not ready', async () => {
    const health = await api().get('/healthz');
    expect(health.status).toBe(200);
    expectMatchesSpec(health, 'GET', '/healthz');
    expect(health.body).toMatchObject({ status: 'ok', ready: false, device: { requested: 'cpu', providers: [] } });

    expectError(await api().get('/readyz'), 'GET', '/readyz', 503, 'not_ready');
    expectError(await api().get('/models'), 'GET', '/models', 503, 'not_ready');
    const file = videos.pattern('early.mp4', 1);
    expectError(await api().post('/classify').attach('video', file), 'POST', '/classify', 503, 'not_ready');
  });

  it('loads every model folder and turns ready', async () => {
    state.setRegistry(await loadModels(models.dir, { device: 'cpu' }, 'default'));
    const ready = await api().get('/readyz');
    expect(ready.status).toBe(200);
    expectMatchesSpec(ready, 'GET', '/readyz');
    expect(ready.body.models).toEqual(['default', 'mini-k400', 'tiny-ucf']);
  });
});

describe('GET /models, /healthz, /openapi.json', () => {
  it('lists the models with where their weights came from and their measured metrics', async () => {
    const res = await api().get('/models');
    expect(res.status).toBe(200);
    expectMatchesSpec(res, 'GET', '/models');
    expect(res.body.defaultModel).toBe('default');
    const byName = Object.fromEntries(res.body.models.map((m: { name: string }) => [m.name, m]));
    expect(byName.default).toMatchObject({
      default: true,
      task: 'classification',
      labels: { count: 11, set: 'synthetic-motion' },
      input: { name: 'video', shape: ['batch', 3, 8, 64, 64] },
      provenance: { source: 'training', trained: true, recipe: { name: 'synthetic-motion', stageIndex: 0 } },
      defaultProtocol: 'ssv2',
    });
    expect(Object.keys(byName.default.provenance.metrics).sort()).toEqual(['top1', 'top5', 'train_loss']);
    expect(byName['tiny-ucf']).toMatchObject({ provenance: { source: 'random-init', trained: false } });
    expect(byName['tiny-ucf']).toMatchObject({ default: false, labels: { count: 101, set: 'ucf101' } });
  });

  it('reports the execution provider once loaded', async () => {
    const res = await api().get('/healthz');
    expectMatchesSpec(res, 'GET', '/healthz');
    expect(res.body).toMatchObject({ ready: true, device: { requested: 'cpu', providers: ['cpu'] } });
  });

  it('serves the contract', async () => {
    const res = await api().get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toContain('/classify');
  });
});

describe('POST /classify', () => {
  const containers: Array<[string, string[]]> = [
    ['clip.mp4', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']],
    ['clip.webm', ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '500k']],
    ['clip.avi', ['-c:v', 'mjpeg', '-q:v', '3']],
    ['clip.mkv', ['-c:v', 'mpeg4', '-q:v', '3']],
    ['clip.mov', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-bf', '2']],
  ];

  it.each(containers)('ranks labels for %s (fast protocol)', async (name, codecArgs) => {
    const file = videos.pattern(name, 2, '320x240', 25, codecArgs);
    const res = await api().post('/classify').query({ protocol: 'fast', topK: 3 }).attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/classify');
    expect(res.body.model).toBe('default');
    expect(res.body.untrained).toBe(false);
    expect(res.body.labels).toHaveLength(3);
    const scores = res.body.labels.map((l: { score: number }) => l.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(res.body.protocol).toMatchObject({ name: 'fast', numClips: 1, numCrops: 1, views: 1 });
    expect(res.body.video).toMatchObject({ width: 320, height: 240, fps: 25, frameCount: 50 });
    expect(res.body.video.durationSec).toBeCloseTo(2, 1);
    expect(res.body.inference).toMatchObject({ provider: 'cpu', batches: 1 });
  });

  it('runs the model default protocol (ssv2: 2 clips x 3 crops) in batches', async () => {
    const file = videos.pattern('default.mp4', 4, '320x240');
    const res = await api().post('/classify').attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/classify');
    expect(res.body.protocol).toMatchObject({
      name: 'ssv2',
      numClips: 2,
      numCrops: 3,
      numFrames: 8,
      shortSide: 64,
      cropSize: 64,
      views: 6,
    });
    expect(res.body.inference).toMatchObject({ batches: 2, maxBatch: 4 });
    expect(res.body.labels).toHaveLength(5);
  });

  it('runs the k400 protocol (5 clips x 3 crops) with the model clip length', async () => {
    const file = videos.pattern('k400.mp4', 4, '320x240');
    const res = await api().post('/classify').query({ protocol: 'k400' }).attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/classify');
    expect(res.body.protocol).toMatchObject({
      name: 'k400',
      numClips: 5,
      numCrops: 3,
      numFrames: 8,
      samplingRate: 4,
      shortSide: 64,
      cropSize: 64,
      views: 15,
    });
    expect(res.body.inference).toMatchObject({ batches: 4, maxBatch: 4 });
    expect(res.body.labels).toHaveLength(5);
    const t = res.body.timings;
    expect(t.decodeMs).toBeGreaterThan(0);
    expect(t.inferenceMs).toBeGreaterThan(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.probeMs);
  });

  it("answers each clip's span and scores for the ranked labels with clipScores=true", async () => {
    const file = videos.pattern('clips.mp4', 4, '320x240');
    const plain = await api().post('/classify').query({ protocol: 'k400', topK: 3 }).attach('video', file);
    expect(plain.body.clips).toBeUndefined();
    const res = await api().post('/classify').query({ protocol: 'k400', topK: 3 }).field('clipScores', 'true').attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/classify');
    expect(res.body.labels).toEqual(plain.body.labels);
    const clips = res.body.clips as Array<{ index: number; start: number; end: number; scores: number[] }>;
    expect(clips.map((c) => c.index)).toEqual([0, 1, 2, 3, 4]);
    for (const c of clips) {
      expect(c.scores).toHaveLength(3);
      expect(c.end).toBeGreaterThan(c.start);
      expect(c.end).toBeLessThanOrEqual(4);
    }
    // k400 clips slide over the video: later clips start later.
    expect(clips.map((c) => c.start)).toEqual([...clips.map((c) => c.start)].sort((a, b) => a - b));
    expect(clips[4]!.start).toBeGreaterThan(clips[0]!.start);
    // The mean over clips of each label's clip scores is its score for the whole video.
    res.body.labels.forEach((label: { score: number }, i: number) => {
      const mean = clips.reduce((sum, c) => sum + c.scores[i]!, 0) / clips.length;
      expect(mean).toBeCloseTo(label.score, 5);
    });
  });

  it('gives the same scores as a second identical request (deterministic)', async () => {
    const file = videos.pattern('repeat.mp4', 1);
    const first = await api().post('/classify').query({ protocol: 'fast' }).attach('video', file);
    const second = await api().post('/classify').field('protocol', 'fast').attach('video', file);
    expect(second.body.labels).toEqual(first.body.labels);
  });

  it('takes options from form fields and query parameters (form wins)', async () => {
    const file = videos.pattern('options.mp4', 2);
    const res = await api()
      .post('/classify')
      .query({ protocol: 'fast', numClips: 2, topK: 9 })
      .field('numCrops', '3')
      .field('topK', '2')
      .attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.labels).toHaveLength(2);
    expect(res.body.protocol).toMatchObject({ name: 'fast', numClips: 2, numCrops: 3, views: 6 });
  });

  it('samples by segments with the ssv2 protocol (2 clips x 3 crops)', async () => {
    const res = await api().post('/classify').field('protocol', 'ssv2').attach('video', videos.pattern('ssv2.mp4', 2));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.protocol).toMatchObject({ name: 'ssv2', temporal: 'segments', numClips: 2, numCrops: 3, views: 6 });
  });

  it('refuses videos over the configured limits before decoding (413)', async () => {
    const strict = new ServiceState({ ...state.config, limits: { ...state.config.limits, maxDurationSec: 1, maxWidth: 200 } });
    strict.setRegistry(state.registry);
    const strictServer = createApp(strict).listen(0);
    try {
      const long = await request(strictServer)
        .post('/classify')
        .attach('video', videos.pattern('long.mp4', 2, '160x120'));
      expectError(long, 'POST', '/classify', 413, 'video_too_long');
      const wide = await request(strictServer)
        .post('/classify')
        .attach('video', videos.pattern('wide.mp4', 0.5, '320x240'));
      expectError(wide, 'POST', '/classify', 413, 'video_too_large');
      expect(wide.body.error.message).toContain('320x240');
    } finally {
      strictServer.close();
    }
  });

  it('serves a named model with its own labels and input size', async () => {
    const file = videos.pattern('tiny.mp4', 1, '160x120');
    const res = await api().post('/classify').field('model', 'tiny-ucf').field('topK', '1').attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/classify');
    expect(res.body.model).toBe('tiny-ucf');
    expect(res.body.protocol).toMatchObject({ numFrames: 4, shortSide: 32, cropSize: 32 });
    const ucf = (await import('../../src/config/labels.js')).readLabels(join(models.dir, 'tiny-ucf', 'labels.txt'));
    expect(ucf).toContain(res.body.labels[0].label);
  });

  it('handles a video shorter than one clip (2 frames) as the official code does', async () => {
    const file = videos.pattern('two-frames.mp4', 0.08, '320x240', 25);
    const res = await api().post('/classify').query({ protocol: 'k400' }).attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.video.frameCount).toBe(2);
    expect(res.body.protocol.views).toBe(15);
  });

  it('refuses a file that is not a video (415)', async () => {
    const file = videos.text('readme.txt', 'just some text, no video here\n'.repeat(50));
    const res = await api().post('/classify').attach('video', file);
    expect(res.status).toBe(415);
    expectMatchesSpec(res, 'POST', '/classify');
    // ffprobe either fails on it or reads it as ANSI art (its tty demuxer), which the allowlist refuses.
    expect(['undecodable_media', 'unsupported_container']).toContain(res.body.error.code);
    expect(res.body.error.parameter).toBe('video');
  });

  it('refuses random bytes (415)', async () => {
    const bytes = Buffer.alloc(20_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 3)) & 255;
    const res = await api().post('/classify').attach('video', videos.text('noise.mp4', bytes));
    expect(res.status).toBe(415);
    expectMatchesSpec(res, 'POST', '/classify');
  });

  it('refuses an upload over the size limit (413)', async () => {
    const big = videos.text('big.mp4', Buffer.alloc(MAX_UPLOAD + 1024, 1));
    const res = await api().post('/classify').attach('video', big);
    expectError(res, 'POST', '/classify', 413, 'upload_too_large');
    expect(res.body.error.message).toContain(String(MAX_UPLOAD));
  });

  it('answers 404 for an unknown model, naming it', async () => {
    const res = await api().post('/classify').query({ model: 'nope' }).attach('video', videos.pattern('m.mp4', 1));
    expectError(res, 'POST', '/classify', 404, 'model_not_found');
    expect(res.body.error).toMatchObject({ parameter: 'model', value: 'nope' });
    expect(res.body.error.message).toContain("'nope'");
  });

  it.each([
    [{ topK: 0 }, 'topK'],
    [{ topK: 'many' }, 'topK'],
    [{ protocol: 'imagenet' }, 'protocol'],
    [{ numClips: 1000 }, 'numClips'],
    [{ model: '../etc/passwd' }, 'model'],
  ])('answers 400 for an invalid query parameter %j', async (query, parameter) => {
    const res = await api().post('/classify').query(query).attach('video', videos.pattern('p.mp4', 1));
    expectError(res, 'POST', '/classify', 400, 'invalid_parameter');
    expect(res.body.error.parameter).toBe(parameter);
    expect(res.body.error.message).toContain(parameter);
    // The value as received (numbers already coerced by the validator).
    expect(res.body.error.message).toContain(`(got ${describeValue(Object.values(query)[0])})`);
  });

  it('answers 400 for an invalid form field', async () => {
    const res = await api().post('/classify').field('numCrops', '-1').attach('video', videos.pattern('f.mp4', 1));
    expectError(res, 'POST', '/classify', 400, 'invalid_parameter');
    expect(res.body.error).toMatchObject({ parameter: 'numCrops', value: -1 });
  });

  it('answers 400 for a clip length the model was not exported for', async () => {
    const res = await api().post('/classify').query({ numFrames: 16 }).attach('video', videos.pattern('n.mp4', 1));
    expectError(res, 'POST', '/classify', 400, 'invalid_parameter');
    expect(res.body.error.message).toMatch(/numFrames.*must be 8/);
  });

  it('answers 400 for an unknown parameter', async () => {
    const res = await api().post('/classify').query({ topk: 3 }).attach('video', videos.pattern('u.mp4', 1));
    expectError(res, 'POST', '/classify', 400, 'unknown_parameter');
    expect(res.body.error.parameter).toBe('topk');
  });

  it('answers 400 when the video is missing or in the wrong field', async () => {
    expectError(await api().post('/classify').field('topK', '3'), 'POST', '/classify', 400, 'missing_parameter');
    const wrongField = await api().post('/classify').attach('file', videos.pattern('w.mp4', 1));
    expectError(wrongField, 'POST', '/classify', 400, 'unexpected_file');
    expect(wrongField.body.error.parameter).toBe('file');
  });

  it('answers 415 for a body that is not multipart', async () => {
    const res = await api().post('/classify').send({ video: 'x' });
    expectError(res, 'POST', '/classify', 415, 'unsupported_content_type');
  });

  it('answers 404 for an unknown path with the same error shape', async () => {
    const res = await api().get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('answers /healthz while a classification is computing (inference is off the event loop)', async () => {
    const file = videos.pattern('busy.mp4', 6, '640x480');
    let finished = false;
    const busy = api()
      .post('/classify')
      .query({ model: 'mini-k400', protocol: 'k400' })
      .attach('video', file)
      .then((r) => {
        finished = true;
        return r;
      });
    const registry = state.registry;
    // Wait until an inference run is actually queued or executing.
    const deadline = Date.now() + 20_000;
    while (registry.list().every((m) => m.runner.pending === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(registry.resolve('mini-k400').runner.pending).toBeGreaterThan(0);
    // Not a latency bound (that is the load bench's job): the answer comes while the runs go on.
    const health = await api().get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.inflight).toBeGreaterThanOrEqual(0);
    expect(finished).toBe(false);
    expect((await busy).status).toBe(200);
  });

  it('stops the work when the client hangs up: ffmpeg killed, upload removed, server still serving', async () => {
    const file = videos.pattern('hangup.mp4', 30, '320x240', 25, ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '30']);
    const call = api().post('/classify').query({ model: 'mini-k400', protocol: 'k400', numClips: 12 }).attach('video', file);
    const settled = call.then(
      () => 'answered',
      () => 'aborted',
    );
    expect(await waitFor(() => childProcesses('ffmpeg').length > 0, 20_000)).toBe(true);
    call.abort();
    expect(await settled).toBe('aborted');
    expect(await waitFor(() => childProcesses('ffmpeg').length === 0 && readdirSync(uploadRoot).length === 0, 5_000)).toBe(true);
    const health = await api().get('/healthz');
    expect(health.status).toBe(200);
    expect(await waitFor(() => state.registry.resolve('mini-k400').runner.pending === 0, 10_000)).toBe(true);
  });

  it('leaves no upload behind', () => {
    expect(readdirSync(uploadRoot)).toEqual([]);
  });
});
