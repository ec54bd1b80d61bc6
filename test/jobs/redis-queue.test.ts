/**
 * The Redis job queue (BullMQ) in one process, against a real redis-server: an API-side queue and
 * a worker sharing a store folder, with runners that do what each test needs (deterministic
 * gates, no sleeps). The multi-process test (test/e2e/redis-replicas.test.ts) drives the real
 * `serve` and `worker` commands.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidParameterError } from '../../src/errors.js';
import type { JobEvent, JobRunner } from '../../src/http/jobs/job-manager.js';
import { RedisJobQueue } from '../../src/http/jobs/redis-job-queue.js';
import { RedisJobWorker } from '../../src/http/jobs/redis-job-worker.js';
import { SharedStore } from '../../src/http/jobs/shared-store.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { gate, type Gate } from '../helpers/gate.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const root = mkdtempSync(join(tmpdir(), 'videomae-redis-queue-'));
const store = new SharedStore(join(root, 'store'));
let redis: TestRedis;
let queue: RedisJobQueue;
let worker: RedisJobWorker;

/** What the runner did, by job id: how often it started, and the gate a 'held' job waits on. */
const starts = new Map<string, number>();
const held = new Map<string, Gate>();
const running = new Map<string, Gate>();
const gateOf = (map: Map<string, Gate>, id: string): Gate => {
  if (!map.has(id)) map.set(id, gate());
  return map.get(id)!;
};

const runner: JobRunner = async (job, signal, onProgress, filesDir) => {
  const count = (starts.get(job.id) ?? 0) + 1;
  starts.set(job.id, count);
  const mode = String(job.request.mode);
  mkdirSync(filesDir, { recursive: true });
  writeFileSync(join(filesDir, 'out.txt'), `attempt ${count}`);
  onProgress({ stage: 'work', fraction: 0.5 });
  if (mode === 'flaky' && count === 1) throw new Error('a failure of the service itself');
  if (mode === 'bad') throw new InvalidParameterError('video', 'x.mp4', 'is not a video');
  if (mode === 'held') {
    gateOf(running, job.id).open();
    await Promise.race([
      gateOf(held, job.id).opened,
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    ]);
  }
  return { mode, attempt: count };
};

let n = 0;
function input(): string {
  const file = join(root, `input-${n++}.mp4`);
  writeFileSync(file, 'not decoded by these runners');
  return file;
}

const queueName = `test-${process.pid}`;

beforeAll(async () => {
  redis = await startRedis();
  queue = await RedisJobQueue.connect({
    url: redis.url,
    store,
    maxQueued: 4,
    retentionMs: 3600_000,
    maxAttempts: 3,
    backoffMs: 20,
    queueName,
  });
  queue.start();
  worker = await RedisJobWorker.start(runner, { url: redis.url, store, concurrency: 1, queueName, lockDurationMs: 10_000 });
}, 30_000);

afterAll(async () => {
  await worker?.close(1000);
  await queue?.close();
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function finished(id: string) {
  return queue.waitFor(id, 30_000);
}

describe('the Redis job queue', () => {
  it('runs a job on a worker: its result and files in the store, one attempt kept, the input gone', async () => {
    const job = await queue.submit({ mode: 'ok', fileName: 'a.mp4' }, input());
    expect(job).toMatchObject({ status: 'queued', attempts: 0 });
    expect(existsSync(join(store.jobDir(job.id), 'input.mp4'))).toBe(true);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, result: { mode: 'ok', attempt: 1 }, attempts: 1, error: null });
    expect(readdirSync(queue.filesDirOf(done))).toEqual(['out.txt', 'result.json']);
    expect(store.attempts(job.id)).toHaveLength(1);
    expect(existsSync(join(store.jobDir(job.id), 'input.mp4'))).toBe(false);
  });

  it('retries a failure of its own with backoff, and keeps only the run that succeeded', async () => {
    const job = await queue.submit({ mode: 'flaky', fileName: 'a.mp4' }, input());
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { attempt: 2 } });
    expect(store.attempts(job.id)).toHaveLength(1);
  });

  it('fails bad input at once (no retry), with its code, and keeps nothing', async () => {
    const job = await queue.submit({ mode: 'bad', fileName: 'a.mp4' }, input());
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { status: 400, code: 'invalid_parameter' } });
    expect(starts.get(job.id)).toBe(1);
    expect(existsSync(store.jobDir(job.id))).toBe(false);
  });

  it('tells a watcher the stage, the progress and the end', async () => {
    const job = await queue.submit({ mode: 'held', fileName: 'a.mp4' }, input());
    const events: JobEvent[] = [];
    const ended = gate();
    queue.watch(job.id, (event) => {
      events.push(event);
      if (event.type === 'finished') ended.open();
    });
    await gateOf(running, job.id).opened;
    // the progress write reaches Redis before the runner waits; its event may trail: wait for it
    while (!events.some((e) => e.type === 'progress' && e.job.stage === 'work')) await new Promise((r) => setTimeout(r, 20));
    gateOf(held, job.id).open();
    await ended.opened;
    expect(events.some((e) => e.type === 'stage' && e.job.stage === 'work')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'finished', job: { status: 'succeeded' } });
  });

  it('cancels a queued job (it never runs) and a running one (its run is aborted), then deletes them', async () => {
    const first = await queue.submit({ mode: 'held', fileName: 'a.mp4' }, input());
    const second = await queue.submit({ mode: 'ok', fileName: 'b.mp4' }, input());
    await gateOf(running, first.id).opened;
    expect((await queue.get(first.id)).status).toBe('running');

    const queued = await queue.cancel(second.id);
    expect(queued).toMatchObject({ deleted: false, job: { status: 'cancelled', error: { code: 'job_cancelled' } } });
    expect((await queue.get(second.id)).status).toBe('cancelled');

    const cancelled = await queue.cancel(first.id);
    expect(cancelled).toMatchObject({ deleted: false, job: { status: 'cancelled' } });
    expect((await queue.get(first.id)).status).toBe('cancelled');
    // the worker moves on: a new job runs (so the cancelled one has unwound)
    const after = await queue.submit({ mode: 'ok', fileName: 'c.mp4' }, input());
    expect((await finished(after.id)).status).toBe('succeeded');
    expect(starts.get(second.id)).toBeUndefined();
    expect(store.attempts(first.id)).toEqual([]);

    for (const id of [first.id, second.id]) {
      expect((await queue.cancel(id)).deleted).toBe(true);
      await expect(queue.get(id)).rejects.toMatchObject({ status: 404, code: 'job_not_found' });
      expect(existsSync(store.jobDir(id))).toBe(false);
    }
  });

  it('refuses a job beyond maxQueued with 503 queue_full, and keeps nothing of it', async () => {
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await queue.submit({ mode: 'held', fileName: 'a.mp4' }, input()));
    const before = store.jobIds().length;
    await expect(queue.submit({ mode: 'ok', fileName: 'a.mp4' }, input())).rejects.toMatchObject({ status: 503, code: 'queue_full' });
    expect(store.jobIds().length).toBe(before);
    for (const job of jobs) gateOf(held, job.id).open();
    for (const job of jobs) expect((await finished(job.id)).status).toBe('succeeded');
  });

  it('answers 503 queue_unavailable when Redis is gone, and the replica is not ready', async () => {
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 1, tempDir: root });
    state.setRegistry(new ModelRegistry());
    state.jobs = queue;
    expect(state.notReadyReason()).toBeUndefined();
    await redis.stop();
    while (queue.unavailable() === undefined) await new Promise((r) => setTimeout(r, 20));
    expect(state.ready).toBe(false);
    expect(state.notReadyReason()).toMatchObject({ status: 503, code: 'queue_unavailable' });
    expect(state.notReadyReason()!.message).toContain(`127.0.0.1:${redis.port}`);
    await expect(queue.submit({ mode: 'ok', fileName: 'a.mp4' }, input())).rejects.toMatchObject({
      status: 503,
      code: 'queue_unavailable',
    });
    await expect(queue.get('whatever')).rejects.toMatchObject({ status: 503, code: 'queue_unavailable' });
  });
});
