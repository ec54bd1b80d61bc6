/**
 * `videomae serve` on a bad day, as a real process: a corrupt job database (a clear error, then
 * --state-repair), a port already taken, SIGKILL mid-job again and again (every job killed once
 * runs again and finishes once), and SIGTERM while an upload is coming in (it is answered, then
 * the process exits 0).
 */
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveUntilReady, spawnServe, type CliServer } from '../helpers/cli-server.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { childPids, waitFor } from '../helpers/processes.js';
import { heldUpload } from '../helpers/uploads.js';
import { VideoFactory } from '../helpers/videos.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-cli-faults-'));
const videos = new VideoFactory();
let models: TestModels;
const started: CliServer[] = [];

beforeAll(async () => {
  models = await prepareTestModels();
  await addTemporalTestModel(models.dir);
});
afterEach(() => {
  for (const server of started.splice(0)) server.process.kill('SIGKILL');
});
afterAll(() => {
  models?.cleanup();
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A signal to a process that may have just exited. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function args(stateDir: string, extra: string[] = [], port = 0): string[] {
  return [
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--models',
    models.dir,
    '--device',
    'cpu',
    '--threads',
    '1',
    '--state-dir',
    stateDir,
    '--temp-dir',
    join(dir, 'tmp'),
    ...extra,
  ];
}

async function serve(stateDir: string, extra: string[] = []): Promise<CliServer & { url: string }> {
  const server = await serveUntilReady(args(stateDir, extra));
  started.push(server);
  return server;
}

async function submit(url: string, file: string): Promise<string> {
  const form = new FormData();
  form.append('video', new Blob([readFileSync(file)]), 'clip.mp4');
  const res = await fetch(`${url}/detect-temporal`, { method: 'POST', body: form });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function job(url: string, id: string): Promise<{ status: string; attempts: number; result?: { segments: unknown[] } }> {
  return (await (await fetch(`${url}/jobs/${id}`)).json()) as { status: string; attempts: number; result?: { segments: unknown[] } };
}

describe('a corrupt job database', () => {
  it('stops the start with state_corrupt naming the file and the way out; --state-repair moves it aside and serves', async () => {
    const stateDir = join(dir, 'corrupt');
    mkdirSync(join(stateDir, 'jobs', 'some-job'), { recursive: true });
    writeFileSync(join(stateDir, 'jobs.sqlite'), Buffer.from('SQLite format 3\0'.padEnd(4096, '\u00ff')));
    const refused = spawnServe(args(stateDir));
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('state_corrupt');
    expect(refused.output()).toContain(join(stateDir, 'jobs.sqlite'));
    expect(refused.output()).toContain('--state-repair');
    expect(refused.output()).not.toMatch(/\n\s+at /); // a message, not a stack

    const repaired = await serve(stateDir, ['--state-repair']);
    expect((await fetch(`${repaired.url}/readyz`)).status).toBe(200);
    expect(repaired.output()).toContain('moved aside');
    const aside = readdirSync(stateDir);
    expect(aside.some((name) => name.startsWith('jobs.sqlite.corrupt-'))).toBe(true);
    expect(aside.some((name) => name.startsWith('jobs.corrupt-'))).toBe(true);
    const id = await submit(repaired.url, videos.pattern('after-repair.mp4', 1, '64x48'));
    let finished = await job(repaired.url, id);
    for (let i = 0; i < 600 && (finished.status === 'queued' || finished.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      finished = await job(repaired.url, id);
    }
    expect(finished.status).toBe('succeeded');
  }, 240_000);
});

describe('a port already taken', () => {
  it('exits 1 saying the port is in use, not with a stack', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      const server = spawnServe(args(join(dir, 'port'), [], port));
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain(`EADDRINUSE: cannot listen on 127.0.0.1:${port}: the port is already in use`);
      expect(server.output()).not.toContain('TypeError');
    } finally {
      holder.close();
    }
  }, 120_000);
});

describe('SIGKILL mid-job, again and again', () => {
  it('runs each killed job again and finishes each exactly once', async () => {
    const stateDir = join(dir, 'kills');
    let server = await serve(stateDir);
    const clip = videos.pattern('killed.mp4', 20, '160x120');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(server.url, clip));
    const killed: string[] = [];
    // Every first attempt still to come is killed (one that finished before the test could hold
    // it just counts as unkilled).
    const firstAttemptsLeft = async (): Promise<boolean> =>
      (await Promise.all(ids.map((id) => job(server.url, id)))).some(
        (j) => (j.status === 'queued' && j.attempts === 0) || (j.status === 'running' && j.attempts === 1),
      );
    while (await firstAttemptsLeft()) {
      // Hold the running job where it is: its ffmpeg stopped, it cannot finish before the kill.
      const pid = server.process.pid!;
      let running: string | undefined;
      while (running === undefined && (await firstAttemptsLeft())) {
        // A first attempt running (a rerun is let through to its end), and its ffmpeg up.
        const statuses = await Promise.all(ids.map(async (id) => ({ id, ...(await job(server.url, id)) })));
        const candidate = statuses.find((j) => j.status === 'running' && j.attempts === 1);
        const ffmpeg = candidate ? childPids('ffmpeg', pid) : [];
        if (candidate && ffmpeg.length > 0) {
          for (const child of ffmpeg) signal(child, 'SIGSTOP');
          const seen = await job(server.url, candidate.id);
          if (seen.status === 'running' && seen.attempts === 1 && childPids('ffmpeg', pid).every((p) => ffmpeg.includes(p)))
            running = candidate.id;
          else for (const child of ffmpeg) signal(child, 'SIGCONT');
        }
        if (running === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      if (running === undefined) break;
      server.process.kill('SIGKILL');
      await server.exited;
      killed.push(running);
      server = await serve(stateDir);
    }
    expect(killed.length).toBeGreaterThanOrEqual(3);
    expect(new Set(killed).size).toBe(killed.length);
    for (const id of ids) {
      let seen = await job(server.url, id);
      for (let i = 0; i < 2400 && (seen.status === 'queued' || seen.status === 'running'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = await job(server.url, id);
      }
      expect(seen, id).toMatchObject({ status: 'succeeded', attempts: killed.includes(id) ? 2 : 1 });
      expect(Array.isArray(seen.result?.segments)).toBe(true);
    }
    // Nothing half-done is left: no job folder (inputs go once a job finishes), no ffmpeg.
    expect(await waitFor(() => !existsSync(join(stateDir, 'jobs')) || readdirSync(join(stateDir, 'jobs')).length === 0, 10_000)).toBe(true);
    expect(childPids('ffmpeg', server.process.pid!)).toEqual([]);
  }, 600_000);
});

describe('SIGTERM while an upload comes in', () => {
  it('answers the upload in flight, refuses new work, then exits 0', async () => {
    const server = await serve(join(dir, 'term'), ['--shutdown-grace', '120']);
    const held = heldUpload(server.url, videos.pattern('term.mp4', 1), '/classify?protocol=fast');
    // Admitted and reading its body: the metrics say so.
    expect(
      await (async () => {
        for (let i = 0; i < 1000; i++) {
          const metrics = await (await fetch(`${server.url}/metrics`)).text();
          if (/videomae_queue_depth\{queue="classify",state="waiting"\} 1\b/.test(metrics)) return true;
          await new Promise((r) => setTimeout(r, 10));
        }
        return false;
      })(),
    ).toBe(true);
    server.process.kill('SIGTERM');
    for (let i = 0; i < 1000 && !server.output().includes('signal received'); i++) await new Promise((r) => setTimeout(r, 10));
    const late = new FormData();
    late.append('video', new Blob([readFileSync(videos.pattern('late.mp4', 1))]), 'late.mp4');
    const refused = await fetch(`${server.url}/classify`, { method: 'POST', body: late });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
    held.finish();
    expect((await held.response).status).toBe(200);
    expect(await server.exited).toBe(0);
  }, 180_000);
});
