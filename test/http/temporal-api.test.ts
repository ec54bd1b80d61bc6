/**
 * POST /detect-temporal and /jobs/{id} in process: jobs queued, run, polled, waited for,
 * cancelled (ffmpeg stops), bounded (503 queue_full), remembered across a restart of the job manager, and
 * forgotten after the retention time; bad requests refused before any job exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { JobManager, type JobManagerOptions, type JobRunner } from '../../src/http/jobs/job-manager.js';
import { SqliteJobStore } from '../../src/http/jobs/sqlite-job-store.js';
import { temporalJobRunner } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';
import { writeNpy } from '../../src/weights/npy.js';
import { localJobs } from '../helpers/jobs.js';

const videos = new VideoFactory();
const root = mkdtempSync(join(tmpdir(), 'videomae-temporal-api-'));
const stateDir = join(root, 'state');
let models: TestModels;
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;

function managerFor(s: ServiceState, options: Partial<JobManagerOptions> = {}, runner: JobRunner = temporalJobRunner(s)): JobManager {
  return new JobManager(new SqliteJobStore(join(stateDir, 'jobs.sqlite')), runner, {
    dataDir: join(stateDir, 'jobs'),
    maxQueued: 3,
    concurrency: 1,
    retentionMs: 3600_000,
    maxAttempts: 2,
    ...options,
  });
}

beforeAll(async () => {
  models = await prepareTestModels();
  await addTemporalTestModel(models.dir);
  registry = await loadModels(models.dir, { device: 'cpu', threads: 1 }, 'default');
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, jobWaitMs: 30_000 });
  state.setRegistry(registry);
  mkdirSync(stateDir, { recursive: true });
  state.jobs = managerFor(state);
  state.jobs.start();
  server = createApp(state).listen(0);
});

afterAll(async () => {
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  models?.cleanup();
  videos.cleanup();
  rmSync(root, { recursive: true, force: true });
});

const api = () => request(server);

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ffmpegChildren(): number {
  const out = spawnSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.trim() === 'ffmpeg').length;
}

describe('POST /detect-temporal', () => {
  it('with wait=true answers 200 with the finished job and its segments', async () => {
    const file = videos.pattern('short.mp4', 3, '160x120');
    const res = await api().post('/detect-temporal?wait=true&maxSegments=5').attach('video', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-temporal');
    expect(res.headers.location).toBe(`/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({ status: 'succeeded', kind: 'temporal-detection', model: 'temporal-tiny', progress: { fraction: 1 } });
    const result = res.body.result;
    // 75 frames, 4-frame clips every 4 frames: (75 - 4) / 4 + 1 = 18 feature steps.
    expect(result.features).toEqual({ numFrames: 4, featureStride: 4, size: 32, normalization: 'unit', clips: 18, dim: 64 });
    expect(result.backbone).toBe('tiny-ucf');
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments.length).toBeLessThanOrEqual(5);
    for (const s of result.segments) {
      expect(['jump', 'spin', 'wave']).toContain(s.label);
      expect(s.start).toBeGreaterThanOrEqual(0);
      expect(s.end).toBeLessThanOrEqual(3);
      expect(s.end).toBeGreaterThan(s.start);
    }
    const scores = result.segments.map((s: { score: number }) => s.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('without wait answers 202 and a Location; polling shows the job through to its result', async () => {
    const file = videos.pattern('poll.mp4', 4, '160x120');
    const res = await api().post('/detect-temporal').field('scoreThreshold', '0').attach('video', file);
    expect(res.status).toBe(202);
    expectMatchesSpec(res, 'POST', '/detect-temporal');
    expect(['queued', 'running']).toContain(res.body.status);
    let job = res.body;
    await until(async () => {
      job = (await api().get(res.headers.location!)).body;
      return job.status === 'succeeded';
    });
    const got = await api().get(res.headers.location!);
    expectMatchesSpec(got, 'GET', '/jobs/{id}');
    expect(got.body.result.segments.length).toBeGreaterThan(0);
    expect(got.body.finishedAt >= got.body.startedAt).toBe(true);
    expect(existsSync(join(stateDir, 'jobs', job.id, 'input.mp4'))).toBe(false); // the input is gone once done
  });

  it('takes precomputed features (a features .npy with fps and duration) for a model with a backbone too', async () => {
    const inputDim = registry.resolveTemporal('temporal-tiny').detector.folder.manifest.actionformer.inputDim;
    const file = join(root, 'features.npy');
    writeNpy(
      file,
      Float32Array.from({ length: 40 * inputDim }, (_, i) => Math.sin(i)),
      [40, inputDim],
    );
    const res = await api()
      .post('/detect-temporal?wait=true&scoreThreshold=0')
      .field('model', 'temporal-tiny')
      .field('fps', '8')
      .field('duration', '20')
      .attach('features', file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-temporal');
    expect(res.body.result).toMatchObject({
      model: 'temporal-tiny',
      input: 'features',
      features: { clips: 40, dim: inputDim, fps: 8, duration: 20 },
    });
    for (const s of res.body.result.segments as Array<{ start: number; end: number }>) expect(s.end).toBeLessThanOrEqual(20);
    expectError(
      await api().post('/detect-temporal').field('model', 'temporal-tiny').field('fps', '8').attach('features', file),
      'POST',
      '/detect-temporal',
      400,
      'missing_parameter',
    );
    expectError(
      await api()
        .post('/detect-temporal')
        .field('model', 'temporal-tiny')
        .field('fps', '8')
        .field('duration', '20')
        .attach('features', file)
        .attach('video', file),
      'POST',
      '/detect-temporal',
      400,
      'invalid_upload',
    );
  });

  it('refuses bad requests before any job exists', async () => {
    const before = localJobs(state).active;
    expectError(
      await api()
        .post('/detect-temporal')
        .field('model', 'nope')
        .attach('video', videos.pattern('m.mp4', 1, '64x48')),
      'POST',
      '/detect-temporal',
      404,
      'model_not_found',
    );
    expectError(
      await api()
        .post('/detect-temporal?scoreThreshold=2')
        .attach('video', videos.pattern('s.mp4', 1, '64x48')),
      'POST',
      '/detect-temporal',
      400,
      'invalid_parameter',
    );
    expectError(
      await api().post('/detect-temporal').attach('video', videos.text('notes.txt', 'not a video')),
      'POST',
      '/detect-temporal',
      415,
      'undecodable_media',
    );
    expectError(await api().post('/detect-temporal').field('model', 'temporal-tiny'), 'POST', '/detect-temporal', 400, 'missing_parameter');
    expectError(await api().get('/jobs/does-not-exist'), 'GET', '/jobs/{id}', 404, 'job_not_found');
    expect(localJobs(state).active).toBe(before);
  });

  it('DELETE cancels a running job (ffmpeg stops) and a queued one; then deletes finished ones', async () => {
    const long = videos.pattern('long.mp4', 60, '320x240');
    const first = await api().post('/detect-temporal').attach('video', long);
    const second = await api().post('/detect-temporal').attach('video', long);
    expect([first.status, second.status]).toEqual([202, 202]);
    await until(async () => (await api().get(`/jobs/${first.body.id}`)).body.stage === 'features');
    expect(ffmpegChildren()).toBeGreaterThan(0);
    const cancelQueued = await api().delete(`/jobs/${second.body.id}`);
    expect(cancelQueued.status).toBe(200);
    expect(cancelQueued.body).toMatchObject({ status: 'cancelled', error: { code: 'job_cancelled' } });
    const cancelRunning = await api().delete(`/jobs/${first.body.id}`);
    expectMatchesSpec(cancelRunning, 'DELETE', '/jobs/{id}');
    expect(cancelRunning.body.status).toBe('cancelled');
    await until(async () => ffmpegChildren() === 0, 5000);
    expect((await api().delete(`/jobs/${first.body.id}`)).status).toBe(204);
    expect((await api().get(`/jobs/${first.body.id}`)).status).toBe(404);
  });

  it('answers 503 queue_full with Retry-After when the queue is full, and keeps serving', async () => {
    // A runner held at a gate: the accepted jobs stay queued or running however fast the
    // machine is, so exactly the fourth submission meets a full queue.
    await localJobs(state).close();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held: JobRunner = (_job, signal) =>
      new Promise((resolve, reject) => {
        gate.then(() => resolve({ segments: [] }), reject);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    state.jobs = managerFor(state, {}, held);
    state.jobs.start();
    try {
      const clip = videos.pattern('queue.mp4', 1, '64x48');
      const accepted = [];
      for (let i = 0; i < 3; i++) accepted.push(await api().post('/detect-temporal').attach('video', clip));
      expect(accepted.map((r) => r.status)).toEqual([202, 202, 202]);
      const full = await api().post('/detect-temporal').attach('video', clip);
      expectError(full, 'POST', '/detect-temporal', 503, 'queue_full');
      expect(full.headers['retry-after']).toBe('10');
      for (const r of accepted) expect((await api().delete(`/jobs/${r.body.id}`)).status).toBe(200);
      expect((await api().get('/healthz')).status).toBe(200);
      const after = await api().post('/detect-temporal').attach('video', clip);
      expect(after.status).toBe(202);
      expect((await api().delete(`/jobs/${after.body.id}`)).status).toBe(200);
    } finally {
      open();
      await state.jobs.close();
      state.jobs = managerFor(state);
      state.jobs.start();
    }
  });

  it('GET /models lists the temporal model with its backbone', async () => {
    const res = await api().get('/models');
    expectMatchesSpec(res, 'GET', '/models');
    const temporal = res.body.models.find((m: { name: string }) => m.name === 'temporal-tiny');
    expect(temporal).toMatchObject({
      task: 'temporal-detection',
      default: true,
      features: { backbone: 'tiny-ucf', numFrames: 4 },
      architecture: { arch: 'actionformer', levels: 3 },
    });
  });
});

describe('jobs across a restart', () => {
  it('re-runs a job interrupted mid-run, keeps finished results, and fails one whose input is gone', async () => {
    const done = await api()
      .post('/detect-temporal?wait=true')
      .attach('video', videos.pattern('kept.mp4', 2, '160x120'));
    expect(done.status).toBe(200);
    // The job to interrupt runs on a runner that never finishes by itself, so it is surely
    // still running when the process "dies".
    await localJobs(state).close();
    state.jobs = managerFor(
      state,
      {},
      (_job, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    state.jobs.start();
    const interrupted = await api()
      .post('/detect-temporal')
      .attach('video', videos.pattern('again.mp4', 4, '160x120'));
    await until(async () => (await api().get(`/jobs/${interrupted.body.id}`)).body.status === 'running');
    await localJobs(state).close(); // the process "dies" with the job running

    state.jobs = managerFor(state);
    const lostInput = localJobs(state).submit(
      { model: 'temporal-tiny', options: {}, fileName: 'x.mp4' },
      videos.pattern('lost.mp4', 1, '64x48'),
    );
    rmSync(join(stateDir, 'jobs', lostInput.id), { recursive: true, force: true });
    const recovered = localJobs(state).start();
    expect(recovered.requeued).toEqual([interrupted.body.id]);
    expect(recovered.failed).toEqual([lostInput.id]);

    expect((await api().get(`/jobs/${done.body.id}`)).body).toMatchObject({ status: 'succeeded', result: done.body.result });
    expect((await api().get(`/jobs/${lostInput.id}`)).body).toMatchObject({ status: 'failed', error: { code: 'job_interrupted' } });
    await until(async () => (await api().get(`/jobs/${interrupted.body.id}`)).body.status === 'succeeded', 60_000);
    expect((await api().get(`/jobs/${interrupted.body.id}`)).body.attempts).toBe(2);
  });

  it('forgets finished jobs (and their files) after the retention time', async () => {
    await localJobs(state).close();
    state.jobs = managerFor(state, { retentionMs: 100 });
    state.jobs.start();
    const res = await api()
      .post('/detect-temporal?wait=true')
      .attach('video', videos.pattern('brief.mp4', 1, '64x48'));
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    expect(localJobs(state).purgeExpired()).toBeGreaterThan(0);
    expect((await api().get(`/jobs/${res.body.id}`)).status).toBe(404);
    expect(readdirSync(join(stateDir, 'jobs'))).not.toContain(res.body.id);
  });
});
