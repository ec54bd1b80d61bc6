/**
 * The service on a bad day, in process: more clients than it takes (exactly the excess refused at
 * once with 503 + Retry-After, the admitted ones finish), a deadline that passes mid-decode (504,
 * ffmpeg gone), and a corpus of hostile files made here (each a 4xx with its code, quickly, with
 * no temp file or child process left behind).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArchitecture } from '../../src/config/architectures.js';
import { createApp } from '../../src/http/app.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { createModelFolder } from '../../src/weights/create-model.js';
import { randomWeights } from '../../src/weights/random-init.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry, type LoadedModel } from '../../src/runtime/model-registry.js';
import { classifyVideo } from '../../src/tasks/classify/pipeline.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { childProcesses, waitFor } from '../helpers/processes.js';
import { heldUpload } from '../helpers/uploads.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';

const videos = new VideoFactory();
const uploadRoot = mkdtempSync(join(tmpdir(), 'videomae-hardening-'));
let models: TestModels;
let registry: ModelRegistry;

/** A server of its own, sharing the loaded models. */
function serve(config: Partial<ConstructorParameters<typeof ServiceState>[0]>): { server: Server; state: ServiceState } {
  const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: uploadRoot, ...config });
  state.setRegistry(registry);
  return { server: createApp(state).listen(0), state };
}

beforeAll(async () => {
  models = await prepareTestModels();
  registry = await loadModels(models.dir, { device: 'cpu' });
});

afterAll(async () => {
  await registry?.close();
  models?.cleanup();
  videos.cleanup();
  rmSync(uploadRoot, { recursive: true, force: true });
});

describe('bounded work', () => {
  it('takes N requests, refuses exactly the k beyond at once with 503 + Retry-After, and finishes the N', async () => {
    const { server, state } = serve({ admission: { maxInFlight: 1, maxQueued: 1, retryAfterSec: 3 } });
    try {
      const file = videos.pattern('admitted.mp4', 1);
      const held = [heldUpload(server, file), heldUpload(server, file)];
      expect(await waitFor(() => state.admission.load.running + state.admission.load.waiting === 2, 5_000)).toBe(true);
      const k = 3;
      const started = performance.now();
      const refused = await Promise.all(Array.from({ length: k }, () => request(server).post('/classify').attach('video', file)));
      const refusalMs = performance.now() - started;
      for (const res of refused) {
        expectError(res, 'POST', '/classify', 503, 'overloaded');
        expect(res.headers['retry-after']).toBe('3');
      }
      expect(refusalMs).toBeLessThan(2_000); // at once, not after a timeout
      held.forEach((h) => h.finish());
      const answers = await Promise.all(held.map((h) => h.response));
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      expect(JSON.parse(answers[0]!.body).labels.length).toBeGreaterThan(0);
      expect(state.admission.load).toEqual({ running: 0, waiting: 0 });
      // Capacity is back.
      expect((await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', file)).status).toBe(200);
    } finally {
      server.close();
    }
  });
});

describe('batching across requests', () => {
  it('lets concurrent requests share runs and gives each the scores it gets alone', async () => {
    const shared = serve({
      maxBatch: 1,
      batching: { maxBatch: 16, maxWaitMs: 100 },
      admission: { maxInFlight: 8, maxQueued: 8, retryAfterSec: 1 },
    });
    const alone = serve({ maxBatch: 1 });
    try {
      const files = [0, 1, 2, 3].map((i) => videos.pattern(`share-${i}.mp4`, 1 + i * 0.5));
      const together = await Promise.all(
        files.map((f) => request(shared.server).post('/classify').query({ protocol: 'ssv2' }).attach('video', f)),
      );
      for (const [i, res] of together.entries()) {
        expect(res.status).toBe(200);
        const single = await request(alone.server).post('/classify').query({ protocol: 'ssv2' }).attach('video', files[i]!);
        for (const [k, label] of res.body.labels.entries()) {
          expect(label.label).toBe(single.body.labels[k].label);
          expect(Math.abs(label.score - single.body.labels[k].score)).toBeLessThan(1e-5);
        }
      }
      // 4 requests x 6 views (ssv2: 2 clips x 3 crops) with maxBatch 1 each: some run held views of several.
      const metric = (await shared.state.metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'videomae_inference_batch_size')!;
      const values = (metric as unknown as { values: Array<{ metricName: string; value: number }> }).values;
      const sum = values.find((v) => v.metricName.endsWith('_sum'))!.value;
      const count = values.find((v) => v.metricName.endsWith('_count'))!.value;
      expect(sum).toBe(24);
      expect(count).toBeLessThan(24);
    } finally {
      shared.server.close();
      alone.server.close();
    }
  });
});

describe('failures inside the pipeline', () => {
  it('turns an inference run that fails mid-video into an error of that request, not a process crash', async () => {
    const real = registry.resolve('default');
    let runs = 0;
    const failing = {
      ...real,
      runner: {
        ...real.runner,
        provider: 'cpu',
        run: () => {
          runs++;
          return Promise.reject(new Error('session lost'));
        },
      },
    } as unknown as LoadedModel;
    const file = videos.pattern('fails.mp4', 3);
    await expect(classifyVideo({ file }, failing, { protocol: 'k400' }, { limits: DEFAULT_LIMITS, maxBatch: 1 })).rejects.toThrow(
      'session lost',
    );
    expect(runs).toBeGreaterThan(0);
    expect(await waitFor(() => childProcesses('ffmpeg').length === 0, 5_000)).toBe(true);
  });

  it('refuses to classify with a features-only encoder, and never picks one as the default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'videomae-encoder-'));
    const architecture = makeArchitecture('vit_tiny_test', { numClasses: 0, numFrames: 4, imageSize: 32 });
    // Named to sort first: the default must still be the classifier.
    await createModelFolder({
      dir: join(dir, 'aaa-encoder'),
      name: 'aaa-encoder',
      architecture,
      tensors: randomWeights(architecture, 3),
      provenance: { source: 'random-init', trained: false, metrics: {} },
    });
    await exportModelFolder(join(dir, 'aaa-encoder'));
    cpSync(join(models.dir, 'default'), join(dir, 'default'), { recursive: true });
    const withEncoder = await loadModels(dir, { device: 'cpu' });
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: uploadRoot });
    state.setRegistry(withEncoder);
    const server = createApp(state).listen(0);
    try {
      const res = await request(server).post('/classify').query({ model: 'aaa-encoder' }).attach('video', videos.pattern('enc.mp4', 1));
      expectError(res, 'POST', '/classify', 400, 'model_cannot_classify');
      expect(res.body.error.message).toMatch(/'aaa-encoder'/);
      const byDefault = await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', videos.pattern('enc2.mp4', 1));
      expect(byDefault.status).toBe(200);
      expect(byDefault.body.model).toBe('default');
    } finally {
      server.close();
      await withEncoder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deadlines', () => {
  it('answers 504 when the deadline passes mid-work, kills ffmpeg, and keeps serving', async () => {
    const { server } = serve({ requestTimeoutMs: 1_500 });
    try {
      const file = videos.pattern('slow.mp4', 30, '320x240', 25, ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '30']);
      const started = performance.now();
      const res = await request(server)
        .post('/classify')
        .query({ model: 'mini-k400', protocol: 'k400', numClips: 12 })
        .attach('video', file);
      const elapsed = performance.now() - started;
      expectError(res, 'POST', '/classify', 504, 'deadline_exceeded');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(elapsed).toBeLessThan(5_000);
      expect(await waitFor(() => childProcesses('ffmpeg').length === 0 && readdirSync(uploadRoot).length === 0, 5_000)).toBe(true);
      expect((await request(server).get('/healthz')).status).toBe(200);
      expect(await waitFor(() => registry.resolve('mini-k400').runner.pending === 0, 10_000)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('answers 504 to an upload that never finishes and gives its place back (slow loris)', async () => {
    const { server, state } = serve({ requestTimeoutMs: 1_000, admission: { maxInFlight: 1, maxQueued: 0, retryAfterSec: 1 } });
    try {
      const held = heldUpload(server, videos.pattern('loris.mp4', 1));
      const answer = await held.response;
      expect(answer.status).toBe(504);
      expect(JSON.parse(answer.body).error.code).toBe('deadline_exceeded');
      expect(
        await waitFor(
          () => state.admission.load.running + state.admission.load.waiting === 0 && readdirSync(uploadRoot).length === 0,
          3_000,
        ),
      ).toBe(true);
      expect(
        (await request(server).post('/classify').query({ protocol: 'fast' }).attach('video', videos.pattern('after.mp4', 1))).status,
      ).toBe(200);
    } finally {
      server.close();
    }
  });

  it('leaves no empty mat-debug log of the bundled ONNX Runtime in the temp dir', () => {
    // The registry of this file has created its sessions by now (beforeAll).
    expect(existsSync(join(tmpdir(), `mat-debug-${process.pid}.log`))).toBe(false);
  });

  it('echoes a sane X-Request-Id and replaces one that is not', async () => {
    const { server } = serve({});
    try {
      expect((await request(server).get('/healthz').set('X-Request-Id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
      expect((await request(server).get('/healthz').set('X-Request-Id', 'bad id\twith spaces')).headers['x-request-id']).not.toContain(' ');
    } finally {
      server.close();
    }
  });
});

/** Hostile media made at test time, small and quick to make. */
function hostileCorpus(dir: string): Array<{ name: string; file: string; status: number; code: string; uploadName?: string }> {
  const ffmpeg = (args: string[]): void => {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const path = (name: string): string => join(dir, name);
  // moov at the end, file cut in half: no index at all.
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=128x96:r=25:d=4', '-c:v', 'libx264', '-preset', 'ultrafast', path('end.mp4')]);
  writeFileSync(path('moov-missing.mp4'), readFileSync(path('end.mp4')).subarray(0, readFileSync(path('end.mp4')).length >> 1));
  // moov first, mdat cut: an index promising frames the file does not hold.
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=s=128x96:r=25:d=4',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-movflags',
    '+faststart',
    path('front.mp4'),
  ]);
  const front = readFileSync(path('front.mp4'));
  writeFileSync(path('mdat-cut.mp4'), front.subarray(0, Math.floor(front.length * 0.6)));
  writeFileSync(path('empty.mp4'), Buffer.alloc(0));
  const noise = Buffer.alloc(50_000);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  writeFileSync(path('random.mp4'), noise);
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x48', '-frames:v', '1', path('still.png')]);
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac', path('audio-only.mp4')]);
  // A rawvideo AVI whose headers claim 8000x6000 (the frames are 16x16).
  ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=16x16:r=5:d=1', '-c:v', 'rawvideo', '-pix_fmt', 'bgr24', path('small.avi')]);
  const avi = Buffer.from(readFileSync(path('small.avi')));
  const avih = avi.indexOf('avih');
  avi.writeUInt32LE(8000, avih + 40);
  avi.writeUInt32LE(6000, avih + 44);
  const strf = avi.indexOf('strf');
  avi.writeInt32LE(8000, strf + 12);
  avi.writeInt32LE(6000, strf + 16);
  writeFileSync(path('huge-header.avi'), avi);
  // Ten hours at one frame a minute: 600 frames, a few kilobytes.
  ffmpeg(['-f', 'lavfi', '-i', 'color=c=black:s=16x16:r=1/60:d=36000', '-c:v', 'libx264', '-preset', 'ultrafast', path('ten-hours.mp4')]);
  // 20 video streams.
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=s=32x24:r=5:d=1',
    ...Array.from({ length: 20 }, () => ['-map', '0:v']).flat(),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    path('many-streams.mkv'),
  ]);
  writeFileSync(
    path('playlist.m3u8'),
    '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXTINF:10,\n/etc/hostname\n#EXT-X-ENDLIST\n',
  );
  writeFileSync(path('list.ffconcat'), 'ffconcat version 1.0\nfile /etc/passwd\nfile front.mp4\n');
  return [
    { name: 'truncated MP4, moov missing', file: path('moov-missing.mp4'), status: 415, code: 'undecodable_media' },
    { name: 'truncated MP4, mdat cut', file: path('mdat-cut.mp4'), status: 415, code: 'truncated_media' },
    { name: 'zero-byte file', file: path('empty.mp4'), status: 415, code: 'empty_upload' },
    { name: 'random bytes', file: path('random.mp4'), status: 415, code: 'undecodable_media' },
    { name: 'a still image', file: path('still.png'), status: 415, code: 'undecodable_media' },
    { name: 'an audio-only file', file: path('audio-only.mp4'), status: 415, code: 'no_video_stream' },
    { name: 'a header claiming 8000x6000', file: path('huge-header.avi'), status: 413, code: 'video_too_large' },
    { name: 'a 10-hour video', file: path('ten-hours.mp4'), status: 413, code: 'video_too_long' },
    { name: '20 streams', file: path('many-streams.mkv'), status: 413, code: 'too_many_streams' },
    { name: 'an HLS playlist naming local files', file: path('playlist.m3u8'), status: 415, code: 'undecodable_media' },
    { name: 'a concat list naming local files', file: path('list.ffconcat'), status: 415, code: 'undecodable_media' },
    { name: "random bytes named '-i x'", file: path('random.mp4'), status: 415, code: 'undecodable_media', uploadName: '-i x' },
    { name: "random bytes named 'concat:a|b'", file: path('random.mp4'), status: 415, code: 'undecodable_media', uploadName: 'concat:a|b' },
    {
      name: "random bytes named '../../etc/passwd'",
      file: path('random.mp4'),
      status: 415,
      code: 'undecodable_media',
      uploadName: '../../etc/passwd',
    },
  ];
}

describe('hostile media', () => {
  const corpusDir = mkdtempSync(join(tmpdir(), 'videomae-hostile-'));
  const corpus = hostileCorpus(corpusDir);
  afterAll(() => rmSync(corpusDir, { recursive: true, force: true }));

  for (const entry of corpus) {
    it(`refuses ${entry.name} with ${entry.status} ${entry.code}, quickly, leaving nothing behind`, async () => {
      const { server } = serve({ limits: { ...DEFAULT_LIMITS, maxDurationSec: 3600 } });
      try {
        const started = performance.now();
        const res = await request(server)
          .post('/classify')
          .attach('video', entry.file, entry.uploadName ? { filename: entry.uploadName } : undefined);
        expect(performance.now() - started).toBeLessThan(5_000);
        expectError(res, 'POST', '/classify', entry.status, entry.code);
        expect(res.body.error.parameter).toBe('video');
        expect(JSON.stringify(res.body)).not.toMatch(/\n\s+at /); // no stack trace
        expect(
          await waitFor(
            () => childProcesses('ffmpeg').length === 0 && childProcesses('ffprobe').length === 0 && readdirSync(uploadRoot).length === 0,
            3_000,
          ),
        ).toBe(true);
      } finally {
        server.close();
      }
    });
  }

  it('never uses the client file name as a path: a real video named ../../etc/passwd classifies', async () => {
    const { server } = serve({});
    try {
      const res = await request(server)
        .post('/classify')
        .query({ protocol: 'fast' })
        .attach('video', join(corpusDir, 'front.mp4'), { filename: '../../etc/passwd' });
      expect(res.status).toBe(200);
      expectMatchesSpec(res, 'POST', '/classify');
      expect(readdirSync(uploadRoot)).toEqual([]);
    } finally {
      server.close();
    }
  });
});
