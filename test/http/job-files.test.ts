/**
 * The files a job leaves for its client (a rendered video) live exactly as long as a succeeded
 * job: kept across a restart, gone when it expires or is deleted; never kept for a job that
 * failed, was cancelled, or was interrupted (it makes them again when it runs again).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobManager, type JobManagerOptions, type JobRunner } from '../../src/http/jobs/job-manager.js';
import { SqliteJobStore } from '../../src/http/jobs/sqlite-job-store.js';
import { ServiceError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'videomae-job-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function input(): string {
  const file = join(root, `input-${n++}.mp4`);
  writeFileSync(file, 'not decoded by these runners');
  return file;
}

/** A runner that writes `out.txt` into its files folder, then does what `then` says. */
function writing(then: (signal: AbortSignal) => Promise<unknown>): JobRunner {
  return async (_job, signal, _onProgress, filesDir) => {
    mkdirSync(filesDir, { recursive: true });
    writeFileSync(join(filesDir, 'out.txt'), 'made by the job');
    return then(signal);
  };
}

function manager(stateDir: string, runner: JobRunner, options: Partial<JobManagerOptions> = {}): JobManager {
  mkdirSync(stateDir, { recursive: true });
  return new JobManager(new SqliteJobStore(join(stateDir, 'jobs.sqlite')), runner, {
    dataDir: join(stateDir, 'jobs'),
    maxQueued: 4,
    concurrency: 1,
    retentionMs: 3600_000,
    maxAttempts: 2,
    ...options,
  });
}

describe('job files', () => {
  it('are kept with a succeeded job, across a restart, until it is deleted', async () => {
    const stateDir = join(root, 'kept');
    let jobs = manager(
      stateDir,
      writing(async () => ({ ok: true })),
    );
    jobs.start();
    const job = jobs.submit({ fileName: 'a.mp4' }, input());
    expect((await jobs.waitFor(job.id, 10_000)).status).toBe('succeeded');
    expect(readdirSync(jobs.filesDir(job.id))).toEqual(['out.txt']);
    expect(jobs.filesDir(job.id).startsWith(join(stateDir, 'job-files'))).toBe(true);
    await jobs.close();

    jobs = manager(
      stateDir,
      writing(async () => ({ ok: true })),
    );
    jobs.start();
    expect(existsSync(join(jobs.filesDir(job.id), 'out.txt'))).toBe(true);
    expect(jobs.cancel(job.id).deleted).toBe(true);
    expect(existsSync(jobs.filesDir(job.id))).toBe(false);
    await jobs.close();
  });

  it('go when a succeeded job expires', async () => {
    const stateDir = join(root, 'expired');
    const jobs = manager(
      stateDir,
      writing(async () => ({ ok: true })),
      { retentionMs: 1 },
    );
    jobs.start();
    const job = jobs.submit({ fileName: 'a.mp4' }, input());
    const done = await jobs.waitFor(job.id, 10_000);
    expect(existsSync(jobs.filesDir(job.id))).toBe(true);
    expect(jobs.purgeExpired(done.expiresAt! + 1)).toBe(1);
    expect(existsSync(jobs.filesDir(job.id))).toBe(false);
    await jobs.close();
  });

  it('are removed when the job fails or is cancelled mid-run', async () => {
    const stateDir = join(root, 'failed');
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const jobs = manager(
      stateDir,
      writing(async (signal) => {
        await Promise.race([held, new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))]);
        throw new ServiceError(415, 'undecodable_media', 'the runner fails on purpose');
      }),
    );
    jobs.start();
    const cancelled = jobs.submit({ fileName: 'a.mp4' }, input());
    const failed = jobs.submit({ fileName: 'b.mp4' }, input());
    await waitUntil(() => existsSync(join(jobs.filesDir(cancelled.id), 'out.txt')));
    jobs.cancel(cancelled.id);
    release();
    expect((await jobs.waitFor(failed.id, 10_000)).status).toBe('failed');
    expect(existsSync(jobs.filesDir(cancelled.id))).toBe(false);
    expect(existsSync(jobs.filesDir(failed.id))).toBe(false);
    expect(readdirSync(join(stateDir, 'job-files'))).toEqual([]);
    await jobs.close();
  });

  it('of a job interrupted by a restart are removed at the next start, and made again by its re-run', async () => {
    const stateDir = join(root, 'interrupted');
    let jobs = manager(
      stateDir,
      writing((signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))),
    );
    jobs.start();
    const job = jobs.submit({ fileName: 'a.mp4' }, input());
    await waitUntil(() => existsSync(join(jobs.filesDir(job.id), 'out.txt')));
    await jobs.close(); // the process "dies" with the job running
    expect(existsSync(join(jobs.filesDir(job.id), 'out.txt'))).toBe(true);

    let seenAtRerun: boolean | undefined;
    jobs = manager(stateDir, async (_job, _signal, _onProgress, filesDir) => {
      seenAtRerun = existsSync(filesDir);
      return { ok: true };
    });
    expect(jobs.start().requeued).toEqual([job.id]);
    expect((await jobs.waitFor(job.id, 10_000)).status).toBe('succeeded');
    expect(seenAtRerun).toBe(false);
    await jobs.close();
  });
});

/** Polls every 10 ms until `condition` holds (a failure after 10 s, not a timing bound). */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
