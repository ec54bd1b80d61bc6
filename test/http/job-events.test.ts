/**
 * GET /jobs/{id}/events in process over a real socket: a real temporal job (real video, real
 * ONNX models) streamed from its first stage to its result, a finished job's final event at once,
 * a cancelled job's failure, a hung-up client leaving no listener, the 404 of GET /jobs/{id}, and
 * API keys. Jobs are held at a gate (a stage of their own) so every test sees them where it wants.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { JobManager, type JobRunner } from '../../src/http/jobs/job-manager.js';
import { SqliteJobStore } from '../../src/http/jobs/sqlite-job-store.js';
import { temporalJobRunner } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { loadModels } from '../../src/kinds/load-models.js';
import type { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSchema, expectMatchesSpec } from '../helpers/openapi.js';
import { waitFor } from '../helpers/processes.js';
import { openEvents, parseFrames, type SseEvent } from '../helpers/sse.js';
import { VideoFactory } from '../helpers/videos.js';
import { gate, type Gate } from '../helpers/gate.js';
import { localJobs } from '../helpers/jobs.js';

const videos = new VideoFactory();
const root = mkdtempSync(join(tmpdir(), 'videomae-job-events-'));
let models: TestModels;
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;
let base: string;

/** The gate the next jobs wait at, in a stage of their own ('held'), before their real work. */
let hold: Gate | undefined;

function heldRunner(real: JobRunner): JobRunner {
  return async (job, signal, onProgress, filesDir) => {
    const g = hold;
    if (g) {
      onProgress({ stage: 'held', fraction: 0 });
      await new Promise<void>((resolve, reject) => {
        void g.opened.then(resolve);
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    return real(job, signal, onProgress, filesDir);
  };
}

beforeAll(async () => {
  models = await prepareTestModels();
  await addTemporalTestModel(models.dir);
  registry = await loadModels(models.dir, { device: 'cpu', threads: 1 }, 'default');
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, jobWaitMs: 30_000 });
  state.setRegistry(registry);
  const stateDir = join(root, 'state');
  mkdirSync(stateDir, { recursive: true });
  state.jobs = new JobManager(new SqliteJobStore(join(stateDir, 'jobs.sqlite')), heldRunner(temporalJobRunner(state)), {
    dataDir: join(stateDir, 'jobs'),
    maxQueued: 8,
    concurrency: 1,
    retentionMs: 3600_000,
    maxAttempts: 2,
  });
  state.jobs.start();
  server = createApp(state).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  hold?.open();
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  models?.cleanup();
  videos.cleanup();
  rmSync(root, { recursive: true, force: true });
});

const api = () => request(server);

async function submit(seconds = 2): Promise<string> {
  const res = await api()
    .post('/detect-temporal')
    .attach('video', videos.pattern(`clip-${seconds}.mp4`, seconds, '160x120'));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** Checks each event's data against the contract. */
function expectEventsMatchSpec(events: readonly SseEvent[]): void {
  for (const e of events) {
    if (e.event === 'progress') expectMatchesSchema(e.data, 'JobProgressEvent');
    else if (e.event === 'stage') expectMatchesSchema(e.data, 'JobStageEvent');
    else if (e.event === 'result' || e.event === 'failure') expectMatchesSchema(e.data, 'Job');
    else throw new Error(`unexpected event '${e.event}'`);
  }
}

describe('GET /jobs/{id}/events', () => {
  it('streams a real job from its first stage through every stage change to its result, then ends', async () => {
    hold = gate();
    const id = await submit(2);
    const stream = await openEvents(base, `/jobs/${id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toMatch(/no-cache/);
    // The first event is the job as it is: held at the gate (or still queued for a moment).
    const first = (await stream.next())!;
    expect(first.event).toBe('progress');
    expect(['queued', 'running']).toContain((first.data as { status: string }).status);
    await waitFor(() => localJobs(state).get(id).stage === 'held', 30_000);
    hold.open();
    const events = [first, ...(await stream.rest())];
    expectEventsMatchSpec(events);
    const last = events[events.length - 1]!;
    expect(last.event).toBe('result');
    expect(events.filter((e) => e.event === 'result' || e.event === 'failure')).toHaveLength(1);

    const stages = events.filter((e) => e.event === 'stage').map((e) => e.data as { stage: string; previous?: string });
    const names = stages.map((s) => s.stage);
    // Every stage of the temporal pipeline, in order, each announced once, each naming the one it left.
    expect(names.slice(names.indexOf('probe'))).toEqual(['probe', 'features', 'detect', 'postprocess']);
    for (let i = 1; i < stages.length; i++) expect(stages[i]!.previous).toBe(stages[i - 1]!.stage);
    // Each stage event is followed by a progress event in that stage.
    events.forEach((e, i) => {
      if (e.event === 'stage') {
        expect(events[i + 1]!.event).toBe('progress');
        expect((events[i + 1]!.data as { stage: string }).stage).toBe((e.data as { stage: string }).stage);
      }
    });
    const fractions = events
      .filter((e) => e.event === 'progress')
      .map((e) => (e.data as { progress: { fraction: number } }).progress.fraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));

    // The result is the finished job, as GET /jobs/{id} shows it.
    const polled = await api().get(`/jobs/${id}`);
    expectMatchesSpec(polled, 'GET', '/jobs/{id}');
    expect(last.data).toEqual(polled.body);
    expect(polled.body.status).toBe('succeeded');
    expect(polled.body.result.segments.length).toBeGreaterThan(0);
    expect(stream.meta.retry).toEqual([2000]);
    expect(localJobs(state).watcherCount()).toBe(0);
    hold = undefined;
  });

  it('sends a finished job its final event at once and ends', async () => {
    const done = await api()
      .post('/detect-temporal?wait=true')
      .attach('video', videos.pattern('done.mp4', 1, '64x48'));
    expect(done.status).toBe(200);
    const stream = await openEvents(base, `/jobs/${done.body.id}/events`);
    expect(stream.status).toBe(200);
    const events = await stream.rest();
    expect(events.map((e) => e.event)).toEqual(['result']);
    expectEventsMatchSpec(events);
    expect(events[0]!.data).toEqual(done.body);
    expect(localJobs(state).watcherCount()).toBe(0);
  });

  it('ends a cancelled job with its failure, the error as GET /jobs/{id} shows it', async () => {
    hold = gate();
    const id = await submit(1);
    await waitFor(() => localJobs(state).get(id).stage === 'held', 30_000);
    const stream = await openEvents(base, `/jobs/${id}/events`);
    const first = (await stream.next())!;
    expect(first).toMatchObject({ event: 'progress', data: { id, status: 'running', stage: 'held' } });
    expect((await api().delete(`/jobs/${id}`)).status).toBe(200);
    const events = await stream.rest();
    expect(events.map((e) => e.event)).toEqual(['failure']);
    expectEventsMatchSpec(events);
    expect(events[0]!.data).toMatchObject({ id, status: 'cancelled', error: { status: 499, code: 'job_cancelled' } });
    expect(events[0]!.data).toEqual((await api().get(`/jobs/${id}`)).body);
    expect(localJobs(state).watcherCount(id)).toBe(0);
    hold = undefined;
  });

  it('drops the listener of a client that hangs up; the job runs on to its result', async () => {
    hold = gate();
    const id = await submit(1);
    await waitFor(() => localJobs(state).get(id).stage === 'held', 30_000);
    const streams = await Promise.all([openEvents(base, `/jobs/${id}/events`), openEvents(base, `/jobs/${id}/events`)]);
    for (const s of streams) expect((await s.next())!.event).toBe('progress');
    expect(localJobs(state).watcherCount(id)).toBe(2);
    streams[0]!.close();
    expect(await waitFor(() => localJobs(state).watcherCount(id) === 1, 10_000)).toBe(true);
    streams[1]!.close();
    expect(await waitFor(() => localJobs(state).watcherCount(id) === 0, 10_000)).toBe(true);
    expect(localJobs(state).get(id).status).toBe('running');
    hold.open();
    hold = undefined;
    const finished = await localJobs(state).waitFor(id, 60_000);
    expect(finished.status).toBe('succeeded');
    expect(localJobs(state).watcherCount()).toBe(0);
  });

  it('answers an unknown job with the 404 of GET /jobs/{id}', async () => {
    const res = await api().get('/jobs/does-not-exist/events');
    expectError(res, 'GET', '/jobs/{id}/events', 404, 'job_not_found');
    expect(res.body).toEqual((await api().get('/jobs/does-not-exist')).body);
  });

  it('needs an API key when the server has keys, like the other /jobs routes', async () => {
    const keyed = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, apiKeys: ['sesame'] });
    keyed.setRegistry(registry);
    keyed.jobs = state.jobs;
    const app = createApp(keyed);
    expectError(await request(app).get('/jobs/nope/events'), 'GET', '/jobs/{id}/events', 401, 'unauthorized');
    expectError(
      await request(app).get('/jobs/nope/events').set('Authorization', 'Bearer sesame'),
      'GET',
      '/jobs/{id}/events',
      404,
      'job_not_found',
    );
  });

  it('ends the streams when the server starts to drain, leaving no listener', async () => {
    hold = gate();
    const id = await submit(1);
    await waitFor(() => localJobs(state).get(id).stage === 'held', 30_000);
    const draining = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root });
    draining.setRegistry(registry);
    draining.jobs = state.jobs;
    const other = createApp(draining).listen(0, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    try {
      const stream = await openEvents(`http://127.0.0.1:${(other.address() as AddressInfo).port}`, `/jobs/${id}/events`);
      expect((await stream.next())!.event).toBe('progress');
      draining.beginDraining();
      expect(await stream.rest()).toEqual([]);
      expect(localJobs(state).watcherCount(id)).toBe(0);
    } finally {
      other.close();
      hold.open();
      hold = undefined;
    }
    expect((await localJobs(state).waitFor(id, 60_000)).status).toBe('succeeded');
  });
});

describe('parseFrames (the test client)', () => {
  it('keeps a partial frame for the next chunk and reads comments and retry apart', () => {
    const meta = { retry: [], comments: [] };
    const { events, rest } = parseFrames('retry: 5\n\n: hi\n\nevent: a\ndata: {"x":1}\n\nevent: b\ndata: {"x"', meta);
    expect(events).toEqual([{ event: 'a', data: { x: 1 } }]);
    expect(rest).toBe('event: b\ndata: {"x"');
    expect(meta).toEqual({ retry: [5], comments: ['hi'] });
  });
});
