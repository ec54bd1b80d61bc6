/**
 * POST /batches on a real server (startServer, the embedded queue): one job per video under the
 * batch root, the batch's progress and results (JSONL, per-video .npy equal to a direct
 * extraction); stopped mid-batch and started again, it finishes every item once, and a batch
 * cut short mid-submit gets its missing items; bad manifests refused before any job exists.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchStore, type BatchRecord } from '../../src/http/batches/batch-record.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { defaultFeatureSettings, extractFeatures } from '../../src/tasks/temporal/features.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { probeVideo } from '../../src/video/probe.js';
import { writeNpy } from '../../src/weights/npy.js';
import { copyBundledModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-batches-'));
const models = join(dir, 'models');
const root = join(dir, 'videos');
const stateDir = join(dir, 'state');
const videos = new VideoFactory();
let server: RunningServer | undefined;

async function start(): Promise<RunningServer> {
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    modelsDir: models,
    device: 'cpu',
    threads: 1,
    maxBatch: 4,
    limits: DEFAULT_LIMITS,
    tempDir: join(dir, 'tmp'),
    stateDir,
    batchRoot: root,
    maxBatchItems: 8,
    jobs: { concurrency: 1 },
  });
  await running.loaded;
  return running;
}

interface WireBatch {
  id: string;
  status: string;
  total: number;
  counts: Record<string, number>;
  progress: { fraction: number };
  items: Array<{ id: string; job: string; video: string }>;
}

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${server!.url}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, text, headers: res.headers };
}

const post = (body: unknown) =>
  call('/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  await copyBundledModels(models, ['default']);
  mkdirSync(join(root, 'sub'), { recursive: true });
  // real files under the batch root, as a dataset folder holds them
  copyFileSync(videos.pattern('long.mp4', 60, '320x240'), join(root, 'long.mp4'));
  copyFileSync(videos.pattern('a.mp4', 3, '160x120'), join(root, 'a.mp4'));
  copyFileSync(videos.pattern('b.mp4', 4, '160x120'), join(root, 'b.mp4'));
  copyFileSync(videos.pattern('c.mp4', 5, '160x120'), join(root, 'sub', 'c.mp4'));
  server = await start();
}, 180_000);

afterAll(async () => {
  await server?.close();
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The features a direct extraction writes for `file` (what `videomae extract-features` writes). */
async function directFeatures(file: string): Promise<Buffer> {
  const model = server!.state.registry.resolve('default');
  const info = await probeVideo(file);
  const features = await extractFeatures({ file, source: info, model, settings: defaultFeatureSettings(model), maxBatch: 4 });
  const out = join(dir, `direct-${randomUUID()}.npy`);
  writeNpy(out, features.features, [features.clips, features.dim]);
  return readFileSync(out);
}

describe('POST /batches', () => {
  it('refuses bad manifests before any job exists, naming the item', async () => {
    symlinkSync('/etc/hostname', join(root, 'escape.mp4'));
    const cases: Array<[unknown, number, string]> = [
      [{ task: 'extract-features', videos: ['../state/jobs.sqlite'] }, 400, 'path_not_allowed'],
      [{ task: 'extract-features', videos: ['/etc/hostname'] }, 400, 'path_not_allowed'],
      [{ task: 'extract-features', videos: ['escape.mp4'] }, 400, 'path_not_allowed'],
      [{ task: 'extract-features', videos: ['missing.mp4'] }, 400, 'file_not_found'],
      [{ task: 'extract-features', videos: ['a.mp4', 'sub'] }, 400, 'invalid_parameter'],
      [{ task: 'extract-features', videos: ['a.mp4', './a.mp4'] }, 400, 'invalid_parameter'],
      [{ task: 'extract-features', videos: ['https://example.com/a.mp4'] }, 400, 'url_disabled'],
      [{ task: 'extract-features', videos: Array.from({ length: 9 }, () => 'a.mp4') }, 400, 'invalid_parameter'],
      [{ task: 'dance', videos: ['a.mp4'] }, 400, 'invalid_parameter'],
      [{ task: 'classify', videos: ['a.mp4'], model: 'nope' }, 404, 'model_not_found'],
      [{ task: 'detect-temporal', videos: ['a.mp4'] }, 404, 'model_not_found'],
      [{ task: 'classify', videos: [] }, 400, 'invalid_parameter'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      expect(res.status, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`).toBe(status);
      expect((res.body as { error: { code: string } }).error.code, res.text).toBe(code);
      expectError({ status: res.status, body: res.body, headers: Object.fromEntries(res.headers) }, 'POST', '/batches', status, code);
    }
    expect(readdirSyncSafe(join(stateDir, 'batches'))).toEqual([]);
    expect((await call(`/batches/${randomUUID()}`)).status).toBe(404);
  });

  it('runs one job per video; stopped mid-batch and started again, it finishes each item once', async () => {
    const created = await post({ task: 'extract-features', videos: ['long.mp4', 'a.mp4', 'b.mp4', 'sub/c.mp4'] });
    expect(created.status, created.text).toBe(202);
    expectMatchesSpec({ status: 202, body: created.body, headers: Object.fromEntries(created.headers) }, 'POST', '/batches');
    const batch = created.body as WireBatch;
    expect(created.headers.get('location')).toBe(`/batches/${batch.id}`);
    expect(batch).toMatchObject({ status: 'running', total: 4 });
    expect(batch.items.map((i) => i.id)).toEqual(['long', 'a', 'b', 'c']);
    // the long video's job is running: the server stops, the other items still queued
    await until(
      () => call(`/jobs/${batch.items[0]!.job}`),
      (r) => (r.body as { status: string }).status === 'running',
    );
    await server!.close();

    // A batch cut short mid-submit: its record is there, its items' jobs never were.
    const cut: BatchRecord = {
      id: randomUUID(),
      task: 'classify',
      options: { topK: 2 },
      createdAt: Date.now(),
      items: ['a.mp4', 'b.mp4'].map((video, index) => ({
        index,
        id: video.slice(0, 1),
        video,
        source: join(root, video),
        jobId: randomUUID(),
      })),
    };
    new BatchStore(join(stateDir, 'batches')).save(cut);

    server = await start();
    const done = await until(
      () => call(`/batches/${batch.id}`),
      (r) => (r.body as WireBatch).status !== 'running',
    );
    expectMatchesSpec({ status: 200, body: done.body, headers: Object.fromEntries(done.headers) }, 'GET', '/batches/{id}');
    expect(done.body).toMatchObject({ status: 'succeeded', counts: { succeeded: 4, queued: 0, running: 0 }, progress: { fraction: 1 } });
    const first = (await call(`/jobs/${batch.items[0]!.job}`)).body as { attempts: number; batch: unknown; kind: string };
    expect(first).toMatchObject({ attempts: 2, kind: 'feature-extraction', batch: { id: batch.id, index: 0, video: 'long' } });

    const results = await call(`/batches/${batch.id}/results.jsonl`);
    expect(results.status).toBe(200);
    expect(results.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = results.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; id: string; status: string; result: { clips: number; dim: number } });
    expect(lines.map((l) => [l.index, l.id, l.status])).toEqual([
      [0, 'long', 'succeeded'],
      [1, 'a', 'succeeded'],
      [2, 'b', 'succeeded'],
      [3, 'c', 'succeeded'],
    ]);
    const npy = await fetch(`${server!.url}/batches/${batch.id}/features/b.npy`);
    expect(npy.status).toBe(200);
    expect(Buffer.from(await npy.arrayBuffer()).equals(await directFeatures(join(root, 'b.mp4')))).toBe(true);
    expect((await call(`/batches/${batch.id}/features/zzz.npy`)).status).toBe(404);

    const resumed = await until(
      () => call(`/batches/${cut.id}`),
      (r) => (r.body as WireBatch).status !== 'running',
    );
    expect(resumed.body).toMatchObject({ status: 'succeeded', counts: { succeeded: 2 } });
    const classified = (await call(`/batches/${cut.id}/results.jsonl`)).text.trim().split('\n');
    expect(classified).toHaveLength(2);
    expect((JSON.parse(classified[0]!) as { result: { labels: unknown[] } }).result.labels).toHaveLength(2);
    expect((await call(`/batches/${cut.id}/features/a.npy`)).status).toBe(404);
  }, 400_000);

  it('DELETE cancels the items still queued or running', async () => {
    const created = (await post({ task: 'extract-features', videos: ['long.mp4', 'a.mp4'] })).body as WireBatch;
    await until(
      () => call(`/jobs/${created.items[0]!.job}`),
      (r) => (r.body as { status: string }).status === 'running',
    );
    const cancelled = await call(`/batches/${created.id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'failed', counts: { cancelled: 2, queued: 0, running: 0 } });
    expect(
      (await call(`/batches/${created.id}/results.jsonl`)).text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).status),
    ).toEqual(['cancelled', 'cancelled']);
  }, 120_000);
});

function readdirSyncSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
