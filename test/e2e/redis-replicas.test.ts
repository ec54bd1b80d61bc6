/**
 * Past one machine, as an operator runs it: a real redis-server, two API replicas
 * (`serve --queue --store`) and two workers (`videomae worker`) as separate processes sharing a
 * store folder. 20 jobs go in through both replicas; the worker running the long one is killed
 * with SIGKILL mid-job, the other worker finishes it (BullMQ's stalled check) and every job ends
 * with exactly one result; a cancel sent to one replica stops a job running on a worker; one
 * replica is killed and the other answers for every job; a batch posted to one replica runs as
 * jobs on the worker, its results read from the other.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedStore } from '../../src/http/jobs/shared-store.js';
import { logLines, serveUntilReady, workerUntilReady, type CliServer } from '../helpers/cli-server.js';
import { copyBundledModels } from '../helpers/models.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { VideoFactory } from '../helpers/videos.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-replicas-'));
const storeDir = join(dir, 'store');
const models = join(dir, 'models');
const batchRoot = join(dir, 'dataset');
const videos = new VideoFactory();
const processes: CliServer[] = [];
let redis: TestRedis;
let api: Array<CliServer & { url: string }>;
let workers: CliServer[];

interface WireJob {
  id: string;
  status: string;
  stage?: string;
  attempts: number;
  progress: { fraction: number };
  result?: { segments: unknown[] };
  error?: { code: string };
}

async function submit(url: string, video: string): Promise<WireJob> {
  const form = new FormData();
  form.append('video', new Blob([readFileSync(video)]), 'clip.mp4');
  const res = await fetch(`${url}/detect-temporal`, { method: 'POST', body: form });
  const body = (await res.json()) as WireJob;
  expect(res.status, JSON.stringify(body)).toBe(202);
  return body;
}

async function getJob(url: string, id: string): Promise<WireJob> {
  const res = await fetch(`${url}/jobs/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as WireJob;
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const workerFlags = (name: string): string[] => [
  '--queue',
  redis.url,
  '--store',
  storeDir,
  '--models',
  models,
  '--device',
  'cpu',
  '--threads',
  '1',
  '--name',
  name,
  // a killed worker's job is taken over within seconds, not the default 30
  '--lock-duration',
  '4',
  '--stalled-interval',
  '1',
  '--max-stalled',
  '2',
];

beforeAll(async () => {
  redis = await startRedis();
  await copyBundledModels(models, ['default', 'temporal']);
  mkdirSync(batchRoot, { recursive: true });
  for (const seconds of [3, 4, 5, 6])
    copyFileSync(videos.pattern(`item-${seconds}.mp4`, seconds, '160x120'), join(batchRoot, `item-${seconds}.mp4`));
  const apiFlags = [
    '--queue',
    redis.url,
    '--store',
    storeDir,
    '--models',
    models,
    '--device',
    'cpu',
    '--threads',
    '1',
    '--max-queued-jobs',
    '64',
    '--batch-root',
    batchRoot,
  ];
  const started = await Promise.all([
    serveUntilReady([...apiFlags, '--host', '127.0.0.1', '--port', '0', '--state-dir', join(dir, 'api1')]),
    serveUntilReady([...apiFlags, '--host', '127.0.0.1', '--port', '0', '--state-dir', join(dir, 'api2')]),
    workerUntilReady(workerFlags('w1')),
    workerUntilReady(workerFlags('w2')),
  ]);
  processes.push(...started);
  api = started.slice(0, 2) as Array<CliServer & { url: string }>;
  workers = started.slice(2);
}, 180_000);

afterAll(async () => {
  for (const p of processes) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await redis?.stop();
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('two API replicas and two workers on Redis', () => {
  it('finish 20 jobs with one result each though a worker is killed mid-job, cancel across replicas, run a batch, and survive a replica', async () => {
    const long = videos.pattern('long.mp4', 100, '320x240');
    const short = videos.pattern('short.mp4', 6, '160x120');
    const [a1, a2] = [api[0]!, api[1]!];

    // The long job starts on one of the workers; the 19 short ones follow through both replicas.
    const first = await submit(a1.url, long);
    const running = await until(
      'the long job to run',
      () => getJob(a2.url, first.id),
      (j) => j.status === 'running' && j.progress.fraction > 0,
    );
    expect(running.progress.fraction).toBeLessThan(1);
    const rest = await Promise.all(Array.from({ length: 19 }, (_, i) => submit((i % 2 ? a1 : a2).url, short)));
    const ids = [first.id, ...rest.map((j) => j.id)];

    const victim = workers.find((w) => logLines(w).some((l) => l.msg === 'job started' && l.jobId === first.id))!;
    expect(victim).toBeDefined();
    // still mid-job when it dies
    expect((await getJob(a1.url, first.id)).status).toBe('running');
    victim.process.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const survivor = workers.find((w) => w !== victim)!;

    for (const id of ids) {
      const job = await until(
        `job ${id}`,
        () => getJob(a2.url, id),
        (j) => j.status !== 'queued' && j.status !== 'running',
      );
      expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
      expect(Array.isArray(job.result?.segments)).toBe(true);
    }
    const store = new SharedStore(storeDir);
    for (const id of ids) expect(store.attempts(id), id).toHaveLength(1);
    const recovered = await getJob(a1.url, first.id);
    expect(recovered.attempts).toBe(2);
    expect(store.attempts(first.id)[0]).toMatch(/^2-/);
    expect(logLines(survivor).some((l) => l.msg === 'job started' && l.jobId === first.id)).toBe(true);

    // A cancel sent to the other replica stops the job on the worker that runs it.
    const doomed = await submit(a1.url, long);
    await until(
      'the job to cancel to run',
      () => getJob(a1.url, doomed.id),
      (j) => j.status === 'running' && j.progress.fraction > 0,
    );
    const cancel = await fetch(`${a2.url}/jobs/${doomed.id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as WireJob).status).toBe('cancelled');
    expect((await getJob(a1.url, doomed.id)).status).toBe('cancelled');
    await until(
      'the worker to stop the cancelled job',
      async () => logLines(survivor),
      (lines) => lines.some((l) => l.msg === 'job cancelled while running here' && l.jobId === doomed.id),
    );
    const next = await submit(a2.url, short);
    expect(
      (
        await until(
          'the job after the cancel',
          () => getJob(a1.url, next.id),
          (j) => j.status === 'succeeded',
        )
      ).attempts,
    ).toBe(1);

    // A batch posted to one replica: its items are jobs the worker runs; the other replica has its results.
    const posted = await fetch(`${a2.url}/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'extract-features', videos: ['item-3.mp4', 'item-4.mp4', 'item-5.mp4', 'item-6.mp4'] }),
    });
    expect(posted.status).toBe(202);
    const batch = (await posted.json()) as { id: string; items: Array<{ id: string; job: string }> };
    await until(
      'the batch',
      async () => (await (await fetch(`${a1.url}/batches/${batch.id}`)).json()) as { status: string },
      (b) => b.status !== 'running',
    );
    const lines = (await (await fetch(`${a1.url}/batches/${batch.id}/results.jsonl`)).text()).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { status: string }).status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const npy = await fetch(`${a1.url}/batches/${batch.id}/features/item-4.npy`);
    expect(npy.status).toBe(200);
    const clips = (JSON.parse(lines[1]!) as { result: { clips: number; dim: number } }).result;
    expect((await npy.arrayBuffer()).byteLength).toBeGreaterThan(4 * clips.clips * clips.dim);

    // One replica dies; the other answers for every job, the same way.
    const before = await getJob(a1.url, ids[5]!);
    a1.process.kill('SIGKILL');
    await a1.exited;
    for (const id of [...ids, next.id]) expect((await getJob(a2.url, id)).status).toBe('succeeded');
    expect(await getJob(a2.url, ids[5]!)).toEqual(before);
    expect((await getJob(a2.url, doomed.id)).status).toBe('cancelled');
    expect(((await (await fetch(`${a2.url}/batches/${batch.id}`)).json()) as { status: string }).status).toBe('succeeded');
  }, 400_000);
});
