/**
 * POST /detect-spatiotemporal in process with the bundled backbone and AVA head: people found by
 * CenterNet on the pedestrian video, or given as boxes; actions per person; AVA CSV; bad input
 * refused before any job exists.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { DEFAULT_JOB_OPTIONS } from '../../src/http/jobs/job-manager.js';
import { createJobManager } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { copyBundledModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { loadModels } from '../../src/kinds/load-models.js';
import { localJobs } from '../helpers/jobs.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const dir = mkdtempSync(join(tmpdir(), 'videomae-ava-api-'));
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;

beforeAll(async () => {
  const models = join(dir, 'models');
  await copyBundledModels(models, ['default', 'ava', 'ava-backbone']);
  registry = await loadModels(models, { device: 'cpu' });
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: dir, personThreshold: 0.4 });
  state.setRegistry(registry);
  mkdirSync(join(dir, 'state'));
  state.jobs = createJobManager(state, join(dir, 'state'), DEFAULT_JOB_OPTIONS).manager;
  state.jobs.start();
  server = createApp(state).listen(0);
});

afterAll(async () => {
  server?.close();
  await state?.jobs?.close();
  await state?.closeDetector();
  await registry?.close();
  rmSync(dir, { recursive: true, force: true });
});

const api = () => request(server);

describe('POST /detect-spatiotemporal', () => {
  it('finds the pedestrians on each keyframe and scores their actions', async () => {
    const res = await api().post('/detect-spatiotemporal?wait=true&timestamps=10,40&scoreThreshold=0&topK=3').attach('video', VTEST);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-spatiotemporal');
    const result = res.body.result;
    // The whole 768x576 frame at the model's short side 64: 85 wide, rounded to 5 patches.
    expect(result).toMatchObject({
      model: 'ava',
      backbone: 'ava-backbone',
      detector: 'centernet',
      clip: { numFrames: 8, shortSide: 64, content: { width: 85, height: 64 }, input: { width: 96, height: 64 } },
    });
    expect(result.keyframes.map((k: { time: number }) => k.time)).toEqual([10, 40]);
    expect(result.keyframes.map((k: { frame: number }) => k.frame)).toEqual([100, 400]);
    expect(result.keyframes[0].people.length).toBeGreaterThanOrEqual(4);
    for (const k of result.keyframes) {
      for (const p of k.people) {
        expect(p.score).toBeGreaterThanOrEqual(0.4);
        expect(p.actions).toHaveLength(3);
        expect(p.boxPixels[2]).toBeLessThanOrEqual(768);
        for (const a of p.actions) expect(a.score).toBeLessThanOrEqual(p.score + 1e-6); // sigmoid x person score
      }
    }
  });

  it('takes people given as boxes, and answers AVA CSV rows', async () => {
    const boxes = JSON.stringify([
      {
        timestamp: 5,
        boxes: [
          [0.1, 0.2, 0.3, 0.8],
          [0.5, 0.1, 0.7, 0.9, 0.5],
        ],
      },
    ]);
    const res = await api()
      .post('/detect-spatiotemporal?wait=true&format=ava-csv&scoreThreshold=0&topK=2')
      .field('boxes', boxes)
      .attach('video', VTEST);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const rows = res.text
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    expect(rows).toHaveLength(4);
    expect(rows[0]!.slice(0, 6)).toEqual(['vtest', '5', '0.1000', '0.2000', '0.3000', '0.8000']);
    expect(Number(rows[2]![7])).toBeLessThanOrEqual(0.5); // the second person's score is 0.5
    const job = await api().get(res.headers.location!);
    expect(job.body.result.detector).toBe('given');
  });

  it('feeds the backbone the whole frame at the requested short side', async () => {
    const boxes = JSON.stringify([{ timestamp: 5, boxes: [[0.1, 0.2, 0.3, 0.8]] }]);
    const res = await api()
      .post('/detect-spatiotemporal?wait=true&scoreThreshold=0&shortSide=128')
      .field('boxes', boxes)
      .attach('video', VTEST);
    expect(res.status).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-spatiotemporal');
    expect(res.body.result.clip).toEqual({
      numFrames: 8,
      rate: 2,
      shortSide: 128,
      content: { width: 170, height: 128 },
      input: { width: 176, height: 128 },
      frameOffsets: [-8, -6, -4, -2, 0, 2, 4, 6],
    });
    expect(res.body.result.keyframes[0].people[0].actions.length).toBeGreaterThan(0);
  });

  it('refuses bad input before any job exists', async () => {
    const before = localJobs(state).active;
    expectError(
      await api().post('/detect-spatiotemporal').field('boxes', '[{"timestamp": 1, "boxes": "x"}]').attach('video', VTEST),
      'POST',
      '/detect-spatiotemporal',
      400,
      'invalid_parameter',
    );
    expectError(
      await api().post('/detect-spatiotemporal?timestamps=9999').attach('video', VTEST),
      'POST',
      '/detect-spatiotemporal',
      400,
      'invalid_parameter',
    );
    expectError(
      await api().post('/detect-spatiotemporal').field('model', 'default').attach('video', VTEST),
      'POST',
      '/detect-spatiotemporal',
      404,
      'model_not_found',
    );
    const tooLarge = await api().post('/detect-spatiotemporal?shortSide=4096').attach('video', VTEST);
    expectError(tooLarge, 'POST', '/detect-spatiotemporal', 400, 'invalid_parameter');
    expect(tooLarge.body.error.message).toMatch(/shortSide/);
    expect(localJobs(state).active).toBe(before);
  });

  it('GET /models lists the action head with its backbone', async () => {
    const res = await api().get('/models');
    expectMatchesSpec(res, 'GET', '/models');
    expect(res.body.models.find((m: { name: string }) => m.name === 'ava')).toMatchObject({
      task: 'spatiotemporal-detection',
      backbone: 'ava-backbone',
      labels: { count: 8 },
    });
  });
});
