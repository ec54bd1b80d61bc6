/**
 * The bundled temporal model as a user meets it: `make-dataset synthetic-temporal` writes long
 * videos and annotations, and POST /detect-temporal on one of them (bundled backbone + bundled
 * ActionFormer, through the job queue) answers segments of the synthetic classes, in seconds.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { createJobManager } from '../../src/http/jobs/temporal-job.js';
import { DEFAULT_JOB_OPTIONS } from '../../src/http/jobs/job-manager.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { copyBundledModels, REPO_MODELS } from '../helpers/models.js';
import { expectMatchesSpec } from '../helpers/openapi.js';
import { loadModels } from '../../src/kinds/load-models.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const dir = mkdtempSync(join(tmpdir(), 'videomae-temporal-default-'));
let registry: ModelRegistry;
let state: ServiceState;
let server: Server;

beforeAll(async () => {
  const models = join(dir, 'models');
  await copyBundledModels(models, ['default', 'temporal']);
  registry = await loadModels(models, { device: 'cpu' });
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: dir });
  state.setRegistry(registry);
  mkdirSync(join(dir, 'state'));
  state.jobs = createJobManager(state, join(dir, 'state'), DEFAULT_JOB_OPTIONS).manager;
  state.jobs.start();
  server = createApp(state).listen(0);
});

afterAll(async () => {
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('make-dataset synthetic-temporal and the bundled temporal model', () => {
  it('writes the same long videos and annotations for the same seed', () => {
    const args = ['make-dataset', 'synthetic-temporal', '--videos', '2', '--seconds', '12', '--size', '64', '--fps', '8', '--seed', '5'];
    for (const out of ['a', 'b'])
      expect(spawnSync(process.execPath, [...cli, ...args, '--out', join(dir, out)], { encoding: 'utf8' }).status).toBe(0);
    const a = readFileSync(join(dir, 'a', 'annotations.json'), 'utf8');
    expect(a).toBe(readFileSync(join(dir, 'b', 'annotations.json'), 'utf8'));
    const database = JSON.parse(a).database;
    expect(Object.keys(database)).toEqual(['video_0000', 'video_0001']);
    expect(database.video_0000).toMatchObject({ subset: 'training', duration: 12, fps: 8 });
    expect(database.video_0001.subset).toBe('validation');
    for (const { segment, label } of database.video_0000.annotations) {
      expect(segment[1] - segment[0]).toBeGreaterThanOrEqual(1.5);
      expect(segment[1]).toBeLessThanOrEqual(12);
      expect(readFileSync(join(dir, 'a', 'labels.txt'), 'utf8').split('\n')).toContain(label);
    }
  });

  it('POST /detect-temporal?wait=true finds segments of the synthetic classes in one of them', async () => {
    const res = await request(server)
      .post('/detect-temporal?wait=true&scoreThreshold=0.05')
      .attach('video', join(dir, 'a', 'videos', 'video_0000.mp4'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMatchesSpec(res, 'POST', '/detect-temporal');
    const result = res.body.result;
    expect(result).toMatchObject({
      model: 'temporal',
      backbone: 'default',
      features: { numFrames: 8, featureStride: 4, size: 64, clips: 23, dim: 96 },
    });
    const labels = readFileSync(join(REPO_MODELS, 'temporal', 'labels.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(result.segments.length).toBeGreaterThan(0);
    for (const s of result.segments) {
      expect(labels).toContain(s.label);
      expect(s.score).toBeGreaterThanOrEqual(0.05);
      expect(s.start).toBeGreaterThanOrEqual(0);
      expect(s.end).toBeLessThanOrEqual(12);
    }
  });
});
