/**
 * Faults below the API, in process: a state directory on another filesystem than the temp dir
 * (inputs are copied across), full disks (507 with nothing half-written, finished jobs still
 * readable, the server serving on), slow clients (headers that never end, uploads that stop) and
 * a declared body far past the limit (413 before a byte of it is read).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logging.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { addTemporalTestModel, prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError } from '../helpers/openapi.js';
import { portOf, heldUpload } from '../helpers/uploads.js';
import { waitFor } from '../helpers/processes.js';
import { VideoFactory } from '../helpers/videos.js';
import { localJobs } from '../helpers/jobs.js';

const root = mkdtempSync(join(tmpdir(), 'videomae-faults-'));
const videos = new VideoFactory();
let models: TestModels;
const mounts: string[] = [];

beforeAll(async () => {
  models = await prepareTestModels();
  await addTemporalTestModel(models.dir);
});
afterAll(() => {
  for (const mount of mounts) execFileSync('umount', ['-l', mount]);
  models?.cleanup();
  videos.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** A tmpfs of `size` (as root, where mount works); undefined where it cannot be mounted. */
function smallDisk(name: string, size: string): string | undefined {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

async function serve(tempDir: string, stateDir: string, extra: Partial<Parameters<typeof startServer>[0]> = {}): Promise<RunningServer> {
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    modelsDir: models.dir,
    device: 'cpu',
    threads: 1,
    limits: DEFAULT_LIMITS,
    maxBatch: 4,
    tempDir,
    stateDir,
    logger: createLogger(undefined, 'silent'),
    ...extra,
  });
  await running.loaded;
  return running;
}

const shm = '/dev/shm';
const otherFilesystem = existsSync(shm) && statSync(shm).dev !== statSync(tmpdir()).dev;

describe('a state directory on another filesystem', () => {
  it.runIf(otherFilesystem)(
    'copies each job input across (EXDEV) and runs the job, leaving no temp file',
    async () => {
      const stateDir = mkdtempSync(join(shm, 'videomae-state-'));
      const tempDir = join(root, 'exdev-tmp');
      const running = await serve(tempDir, stateDir);
      try {
        const res = await request(running.url)
          .post('/detect-temporal?wait=true')
          .attach('video', videos.pattern('exdev.mp4', 2, '64x48'));
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('succeeded');
        expect(readdirSync(tempDir)).toEqual([]);
        // A finished job keeps its result in the database and no folder.
        expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
      } finally {
        await running.close();
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

describe('a full disk', () => {
  const bigVideo = (): string => videos.pattern('big.mp4', 6, '320x240', 25, ['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0']);

  it('answers 507 when the state volume has no room for a job input: no job, no partial file; finished jobs stay readable', async (context) => {
    const stateDir = smallDisk('full-state', '1m');
    if (!stateDir) return context.skip();
    const tempDir = join(root, 'full-state-tmp');
    const running = await serve(tempDir, stateDir);
    try {
      const small = await request(running.url)
        .post('/detect-temporal?wait=true')
        .attach('video', videos.pattern('fits.mp4', 1, '64x48'));
      expect(small.status).toBe(200);
      const big = bigVideo();
      expect(statSync(big).size).toBeGreaterThan(2 ** 20);
      const refused = await request(running.url).post('/detect-temporal').attach('video', big);
      expectError(refused, 'POST', '/detect-temporal', 507, 'insufficient_storage');
      expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
      expect(readdirSync(tempDir)).toEqual([]);
      expect(localJobs(running.state).active).toBe(0);
      expect((await request(running.url).get(`/jobs/${small.body.id}`)).body).toMatchObject({
        status: 'succeeded',
        result: small.body.result,
      });
      expect((await request(running.url).get('/healthz')).status).toBe(200);
      expect(
        (
          await request(running.url)
            .post('/detect-temporal?wait=true')
            .attach('video', videos.pattern('fits-again.mp4', 1, '64x48'))
        ).status,
      ).toBe(200);
    } finally {
      await running.close();
    }
  }, 120_000);

  it('answers 507 when the temp dir has no room for an upload, removes what it wrote, and serves on', async (context) => {
    const tempDir = smallDisk('full-tmp', '512k');
    if (!tempDir) return context.skip();
    const running = await serve(tempDir, join(root, 'full-tmp-state'));
    try {
      const refused = await request(running.url).post('/classify').attach('video', bigVideo());
      expectError(refused, 'POST', '/classify', 507, 'insufficient_storage');
      expect(await waitFor(() => readdirSync(tempDir).length === 0, 5_000)).toBe(true);
      expect(running.state.admission.load).toEqual({ running: 0, waiting: 0 });
      expect(
        (
          await request(running.url)
            .post('/classify')
            .query({ protocol: 'fast' })
            .attach('video', videos.pattern('small.mp4', 1, '64x48'))
        ).status,
      ).toBe(200);
    } finally {
      await running.close();
    }
  }, 120_000);
});

describe('slow and lying clients', () => {
  let running: RunningServer;
  const tempDir = join(root, 'clients-tmp');
  beforeAll(async () => {
    running = await serve(tempDir, join(root, 'clients-state'), { headersTimeoutMs: 500, uploadIdleTimeoutMs: 400 });
  });
  afterAll(async () => {
    await running?.close();
  });

  it('cuts a client whose headers never end', async () => {
    const socket = connect(portOf(running.url), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /classify HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    await closed;
    // Node answers 408 (or just closes) once the headers timeout passes.
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect((await request(running.url).get('/healthz')).status).toBe(200);
  }, 60_000);

  it('answers 408 upload_timeout to an upload that stops sending, and gives its place and temp file back', async () => {
    const held = heldUpload(running.url, videos.pattern('stalls.mp4', 1));
    const answer = await held.response;
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body).error.code).toBe('upload_timeout');
    expect(
      await waitFor(
        () => running.state.admission.load.running + running.state.admission.load.waiting === 0 && readdirSync(tempDir).length === 0,
        5_000,
      ),
    ).toBe(true);
    expect(
      (
        await request(running.url)
          .post('/classify')
          .query({ protocol: 'fast' })
          .attach('video', videos.pattern('after.mp4', 1, '64x48'))
      ).status,
    ).toBe(200);
  }, 60_000);

  it('refuses a declared Content-Length of 1e12 with 413 before reading any of it', async () => {
    for (const path of ['/classify', '/detect-temporal', '/detect-spatiotemporal']) {
      const socket = connect(portOf(running.url), '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000000000\r\n\r\n`,
      );
      await closed;
      expect(answer, path).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('"upload_too_large"');
      expect(answer).toContain('Content-Length');
    }
    expect(readdirSync(tempDir)).toEqual([]);
  }, 60_000);
});
