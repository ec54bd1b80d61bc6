/**
 * `videomae serve` killed with SIGKILL mid-job runs no cleanup of its own: the ffmpeg decoding
 * for the job must die with it, not run on to the end of the video. The server runs as a real
 * child process (tsx as an in-process loader, so the pid killed is the server's own).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processStartTime, reapOrphanedChildren } from '../../src/process/child-records.js';
import { serveUntilReady } from '../helpers/cli-server.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { childPids, isRunning, waitFor } from '../helpers/processes.js';
import { VideoFactory } from '../helpers/videos.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-sigkill-'));
const videos = new VideoFactory();
let models: TestModels;
let server: ChildProcess | undefined;
let leftRunning: { pid: number; startTime: string }[] = [];

beforeAll(async () => {
  models = await prepareTestModels();
  await addTemporalTestModel(models.dir);
});
afterAll(() => {
  server?.kill('SIGKILL');
  // Whatever the assertions found still running is not left to the machine.
  for (const { pid, startTime } of leftRunning) if (isRunning(pid, startTime)) process.kill(pid, 'SIGKILL');
  models?.cleanup();
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `videomae serve` on `stateDir` and resolves with its url once it is ready. */
async function serve(stateDir: string): Promise<string> {
  const started = await serveUntilReady([
    '--port',
    '0',
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
  ]);
  server = started.process;
  return started.url;
}

describe('SIGKILL of the server', () => {
  it('takes the ffmpeg of a running job with it; the records it leaves are reaped without a kill', async () => {
    const stateDir = join(dir, 'state');
    const url = await serve(stateDir);
    const pid = server!.pid!;
    const form = new FormData();
    form.append('video', new Blob([readFileSync(videos.pattern('long.mp4', 60, '320x240'))]), 'long.mp4');
    const submitted = await fetch(`${url}/detect-temporal`, { method: 'POST', body: form });
    expect(submitted.status).toBe(202);

    // The job is decoding: ffmpeg runs as the server's child (setpriv execs into it, same pid).
    expect(await waitFor(() => childPids('ffmpeg', pid).length > 0, 30_000), 'no ffmpeg child appeared').toBe(true);
    const ffmpeg = childPids('ffmpeg', pid).map((p) => ({ pid: p, startTime: processStartTime(p)! }));
    leftRunning = ffmpeg;
    // Stopped, as ffmpeg is whenever it is not writing (a long seek, a demuxer crawling through a
    // hostile file): otherwise the broken pipe would end it on its next frame anyway, and the
    // test would pass without any defence. SIGKILL still reaches a stopped process.
    for (const { pid: child } of ffmpeg) process.kill(child, 'SIGSTOP');
    const records = join(stateDir, 'children');
    for (const { pid: child } of ffmpeg) expect(existsSync(join(records, `${child}.json`)), `no record of ffmpeg ${child}`).toBe(true);

    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server!.kill('SIGKILL');
    await exited;
    server = undefined;

    await waitFor(() => ffmpeg.every(({ pid: p, startTime }) => !isRunning(p, startTime)), 5000);
    expect(
      ffmpeg.filter(({ pid: p, startTime }) => isRunning(p, startTime)),
      'ffmpeg still running 5 s after the server died',
    ).toEqual([]);

    // The dead server's records are what the next start reads: the parent-death signal got there
    // first, so there is nothing to kill, only records to drop.
    const reaped = reapOrphanedChildren(records);
    expect(reaped.killed).toEqual([]);
    expect(reaped.stale).toBeGreaterThanOrEqual(ffmpeg.length);
    expect(readdirSync(records)).toEqual([]);
  }, 180_000);
});
