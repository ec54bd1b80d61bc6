/**
 * Lifecycle and visibility, played out: a graceful shutdown with a request in flight, a model
 * folder that fails to load (readiness false and why, the others serving), Prometheus metrics,
 * JSON logs that carry the request id, and optional API keys.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logging.js';
import { startServer } from '../../src/http/server.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { waitFor } from '../helpers/processes.js';
import { heldUpload, send } from '../helpers/uploads.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';

const videos = new VideoFactory();
const root = mkdtempSync(join(tmpdir(), 'videomae-lifecycle-'));
let models: TestModels;

beforeAll(async () => {
  models = await prepareTestModels();
});
afterAll(() => {
  models?.cleanup();
  videos.cleanup();
  rmSync(root, { recursive: true, force: true });
});

describe('graceful shutdown', () => {
  it('turns unready, answers new requests on kept-alive and fresh connections with 503, lets the request in flight finish, then closes', async () => {
    const running = await startServer({
      host: '127.0.0.1',
      port: 0,
      modelsDir: models.dir,
      device: 'cpu',
      limits: DEFAULT_LIMITS,
      maxBatch: 4,
      tempDir: join(root, 'tmp1'),
      stateDir: join(root, 'state1'),
      logger: createLogger(undefined, 'silent'),
    });
    await running.loaded;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(running.url, 'GET', '/readyz', keepAlive)).status).toBe(200);
      // The request in flight: an upload held open after its first bytes (admitted, unfinished).
      const inflight = heldUpload(running.url, videos.pattern('inflight.mp4', 1), '/classify?model=mini-k400&protocol=fast');
      expect(await waitFor(() => running.state.admission.load.waiting === 1, 10_000)).toBe(true);
      const stopped = running.shutdown(60_000);
      expectError(await request(running.url).get('/readyz'), 'GET', '/readyz', 503, 'shutting_down');
      // A new upload on the connection kept alive from before the drain, and one on a fresh one:
      // each gets its 503 answer, not a reset.
      const late = readFileSync(videos.pattern('late.mp4', 1));
      const boundary = 'late-boundary';
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="video"; filename="late.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
        ),
        late,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const onKeptAlive = await send(running.url, 'POST', '/classify', keepAlive, body, {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
      });
      expect(onKeptAlive.status).toBe(503);
      expect(JSON.parse(onKeptAlive.body).error.code).toBe('shutting_down');
      expect(onKeptAlive.headers['retry-after']).toBe('5');
      // On a fresh connection, answered while its body is still coming: the drain waits for the
      // rest of that body (bounded by the grace period) instead of resetting the connection.
      const refused = heldUpload(running.url, videos.pattern('late.mp4', 1));
      const refusal = await refused.response;
      expect(refusal.status).toBe(503);
      expect(JSON.parse(refusal.body).error.code).toBe('shutting_down');
      inflight.finish();
      const finished = await inflight.response;
      expect(finished.status).toBe(200);
      expect(running.state.openRequests).toBe(1);
      const sent = new Promise<void>((resolve, reject) => {
        refused.request.once('finish', resolve);
        refused.request.once('error', reject);
      });
      refused.finish();
      await sent;
      expect(await stopped).toEqual({ unfinished: 0 });
      await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    } finally {
      keepAlive.destroy();
    }
  });

  it('cuts what is still running when the grace period ends', async () => {
    const running = await startServer({
      host: '127.0.0.1',
      port: 0,
      modelsDir: models.dir,
      device: 'cpu',
      limits: DEFAULT_LIMITS,
      maxBatch: 4,
      tempDir: join(root, 'tmp2'),
      stateDir: join(root, 'state2'),
      logger: createLogger(undefined, 'silent'),
    });
    await running.loaded;
    const file = videos.pattern('long.mp4', 30, '320x240', 25, ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '30']);
    const inflight = request(running.url)
      .post('/classify')
      .query({ model: 'mini-k400', protocol: 'k400', numClips: 12 })
      .attach('video', file)
      .then(
        () => 'answered',
        () => 'cut',
      );
    while (running.state.admission.load.running === 0) await new Promise((r) => setTimeout(r, 10));
    expect(await running.shutdown(300)).toEqual({ unfinished: 1 });
    expect(await inflight).toBe('cut');
  });
});

describe('jobs across a shutdown', () => {
  it('stops a running job on shutdown and runs it again at the next start', async () => {
    const dir = join(root, 'models-jobs');
    cpSync(join(models.dir, 'tiny-ucf'), join(dir, 'tiny-ucf'), { recursive: true }); // the temporal test model's backbone
    await addTemporalTestModel(dir);
    const options = {
      host: '127.0.0.1',
      port: 0,
      modelsDir: dir,
      device: 'cpu' as const,
      limits: DEFAULT_LIMITS,
      maxBatch: 4,
      tempDir: join(root, 'tmp3'),
      stateDir: join(root, 'state3'),
      logger: createLogger(undefined, 'silent'),
    };
    const first = await startServer(options);
    await first.loaded;
    const submitted = await request(first.url)
      .post('/detect-temporal')
      .attach('video', videos.pattern('job.mp4', 30, '160x120'));
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    while ((await request(first.url).get(`/jobs/${id}`)).body.status !== 'running') await new Promise((r) => setTimeout(r, 20));
    expect(await first.shutdown(1_000)).toEqual({ unfinished: 0 });

    const second = await startServer(options);
    try {
      await second.loaded;
      let job = (await request(second.url).get(`/jobs/${id}`)).body;
      const until = Date.now() + 60_000;
      while (job.status !== 'succeeded' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        job = (await request(second.url).get(`/jobs/${id}`)).body;
      }
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    } finally {
      await second.shutdown(1_000);
    }
  });
});

describe('a model that fails to load', () => {
  /** A copy of `from` named `name` whose graph is not an ONNX file. */
  function brokenCopy(dir: string, from: string, name: string): void {
    cpSync(from, join(dir, name), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, name, 'model.json'), 'utf8'));
    writeFileSync(join(dir, name, 'model.json'), JSON.stringify({ ...manifest, name }));
    writeFileSync(join(dir, name, 'model.onnx'), 'not an onnx graph');
  }

  it("stays ready while each task's default serves, names the failed folder without paths, behind the key when keys are on", async () => {
    const dir = join(root, 'models-broken');
    cpSync(join(models.dir, 'default'), join(dir, 'default'), { recursive: true });
    brokenCopy(dir, join(models.dir, 'default'), 'broken');
    const registry = await loadModels(dir, { device: 'cpu' });
    const key = 'ready-key-0123456789abcdef';
    const open = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root });
    const keyed = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, apiKeys: [key] });
    open.setRegistry(registry);
    keyed.setRegistry(registry);
    const server = createApp(open).listen(0);
    const keyedServer = createApp(keyed).listen(0);
    try {
      const ready = await request(server).get('/readyz');
      expectMatchesSpec(ready, 'GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.failed).toEqual([expect.objectContaining({ name: 'broken', task: 'classification', code: 'model_load_failed' })]);
      expect(JSON.stringify(ready.body)).not.toContain(dir);
      expect(JSON.stringify(ready.body)).not.toMatch(/\/tmp\//);
      expect((await request(server).get('/healthz')).body.ready).toBe(true);
      const ok = await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', videos.pattern('ok.mp4', 1));
      expect(ok.status).toBe(200);
      const named = await request(server).post('/classify').query({ model: 'broken' }).attach('video', videos.pattern('ok2.mp4', 1));
      expectError(named, 'POST', '/classify', 503, 'model_failed');
      expect(named.body.error.message).toMatch(/'broken' failed to load/);
      expect(named.body.error.message).not.toContain(dir);

      const anonymous = await request(keyedServer).get('/readyz');
      expectMatchesSpec(anonymous, 'GET', '/readyz');
      expect(anonymous.body).toMatchObject({ ready: true, failedCount: 1 });
      expect(anonymous.body.failed).toBeUndefined();
      const withKey = await request(keyedServer).get('/readyz').set('Authorization', `Bearer ${key}`);
      expect(withKey.body.failed).toEqual([expect.objectContaining({ name: 'broken' })]);
    } finally {
      server.close();
      keyedServer.close();
      await registry.close();
    }
  });

  it("is not ready while a task's only model failed, and says which model instead of an empty name", async () => {
    const dir = join(root, 'models-broken-temporal');
    cpSync(join(models.dir, 'default'), join(dir, 'default'), { recursive: true });
    cpSync(join(models.dir, 'tiny-ucf'), join(dir, 'tiny-ucf'), { recursive: true });
    const temporal = await addTemporalTestModel(join(root, 'temporal-source'));
    brokenCopy(dir, temporal, 'temporal-tiny');
    const registry = await loadModels(dir, { device: 'cpu' });
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root });
    state.setRegistry(registry);
    const server = createApp(state).listen(0);
    try {
      const ready = await request(server).get('/readyz');
      expectError(ready, 'GET', '/readyz', 503, 'model_failed');
      expect(ready.body.error.message).toMatch(/temporal-detection: 'temporal-tiny'/);
      expect(ready.body.error.message).not.toContain(dir);
      const detect = await request(server).post('/detect-temporal').attach('video', videos.pattern('t.mp4', 1));
      expectError(detect, 'POST', '/detect-temporal', 503, 'model_failed');
      expect(detect.body.error.message).toMatch(/no temporal detection model is loaded: model 'temporal-tiny' failed to load/);
      expect((await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', videos.pattern('c.mp4', 1))).status).toBe(
        200,
      );
    } finally {
      server.close();
      await registry.close();
    }
  });
});

describe('metrics, logs, API keys', () => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    registry = await loadModels(models.dir, { device: 'cpu' });
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('exposes Prometheus metrics: requests, stage latencies, queue depth, batch sizes, refusals', async () => {
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root });
    state.setRegistry(registry);
    const server = createApp(state).listen(0);
    try {
      expect((await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', videos.pattern('m.mp4', 1))).status).toBe(
        200,
      );
      expect((await request(server).post('/classify').attach('video', videos.text('m.txt', 'text'))).status).toBe(415);
      const res = await request(server).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      const text = res.text;
      expect(text).toMatch(/videomae_http_requests_total\{route="\/classify",method="POST",status="200"\} 1/);
      expect(text).toMatch(/videomae_http_requests_total\{route="\/classify",method="POST",status="415"\} 1/);
      for (const stage of ['probe', 'decode', 'preprocess', 'inference'])
        expect(text).toMatch(new RegExp(`videomae_stage_duration_seconds_count\\{task="classify",stage="${stage}"\\} 1`));
      expect(text).toMatch(/videomae_queue_depth\{queue="classify",state="running"\} 0/);
      expect(text).toMatch(/videomae_inference_batch_size_count [1-9]/);
      expect(text).toMatch(/videomae_media_refusals_total\{code="undecodable_media"\} 1/);
      expect(text).toMatch(/videomae_ffmpeg_failures_total \d+/);
      expect(text).toMatch(/videomae_process_resident_memory_bytes \d+/);
    } finally {
      server.close();
    }
  });

  it('logs JSON lines that carry the request id the client got back, and no stack in responses', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      {
        write: (line: string) => {
          lines.push(line);
        },
      },
      'info',
    );
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, logger });
    state.setRegistry(registry);
    const server = createApp(state).listen(0);
    try {
      const res = await request(server)
        .post('/classify')
        .set('X-Request-Id', 'req-log-1')
        .query({ protocol: 'fast' })
        .attach('video', videos.pattern('l.mp4', 1));
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe('req-log-1');
      const bad = await request(server).post('/classify').attach('video', videos.text('l.txt', 'text'));
      await new Promise((r) => setTimeout(r, 50));
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const mine = parsed.filter((l) => l.reqId === 'req-log-1');
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.at(-1)).toMatchObject({ level: 30, msg: 'request done', route: '/classify', status: 200, service: 'videomae' });
      expect(parsed.find((l) => l.reqId === bad.headers['x-request-id'])).toMatchObject({ status: 415 });
      expect(JSON.stringify(bad.body)).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  });

  it('needs a bearer key on everything but health and readiness when keys are configured', async () => {
    const key = 'test-key-0123456789abcdef';
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, apiKeys: [key] });
    state.setRegistry(registry);
    const server = createApp(state).listen(0);
    try {
      expect((await request(server).get('/healthz')).status).toBe(200);
      expect((await request(server).get('/readyz')).status).toBe(200);
      const none = await request(server).get('/models');
      expectError(none, 'GET', '/models', 401, 'unauthorized');
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expectError(
        await request(server).get('/models').set('Authorization', 'Bearer wrong-key-0123456789'),
        'GET',
        '/models',
        401,
        'unauthorized',
      );
      expectError(
        await request(server).post('/classify').attach('video', videos.pattern('k.mp4', 1)),
        'POST',
        '/classify',
        401,
        'unauthorized',
      );
      expect((await request(server).get('/metrics')).status).toBe(401);
      const ok = await request(server).get('/models').set('Authorization', `Bearer ${key}`);
      expect(ok.status).toBe(200);
      expectMatchesSpec(ok, 'GET', '/models');
    } finally {
      server.close();
    }
  });
});
