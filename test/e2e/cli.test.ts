/**
 * The `videomae` command as a user runs it (a child process): export, predict, and serve with a
 * real socket, compared with each other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGE_KINDS } from '../../src/train/recipe.js';
import { prepareTestModels, REPO_MODELS, type TestModels } from '../helpers/models.js';
import { expectMatchesSpec } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];

function videomae(args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 120_000 });
}

const videos = new VideoFactory();
let models: TestModels;
beforeAll(async () => {
  models = await prepareTestModels();
});
afterAll(() => {
  models?.cleanup();
  videos.cleanup();
});

describe('videomae as a new user meets it', () => {
  it('--version prints the package version', () => {
    const result = videomae(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });

  it('train --help names every stage kind', () => {
    const help = videomae(['train', '--help']).stdout.replace(/\s+/g, ' ');
    for (const stage of STAGE_KINDS) expect(help).toContain(`${stage} (`);
    expect(help).toContain('--out <dir>');
  });

  it('train never overwrites the bundled models/default unless --out says so', () => {
    const before = readFileSync(join(REPO_MODELS, 'default', 'model.json'), 'utf8');
    const result = videomae(['train', join(root, 'recipes', 'synthetic-motion.json')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /output_exists: stage 0 of recipe 'synthetic-motion' would write '.*models\/default', a bundled model folder; pass --out .*models\/default to replace it on purpose/,
    );
    expect(readFileSync(join(REPO_MODELS, 'default', 'model.json'), 'utf8')).toBe(before);
  });
});

describe('videomae export', () => {
  it('rebuilds model.onnx from model.json + weights', () => {
    const onnx = join(models.dir, 'tiny-ucf', 'model.onnx');
    rmSync(onnx);
    const result = videomae(['export', join(models.dir, 'tiny-ucf')]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/exported .*model\.onnx/);
    expect(existsSync(onnx)).toBe(true);
  });

  it('refuses weights that do not match the manifest checksum', () => {
    const dir = join(models.dir, 'tiny-ucf');
    const manifestPath = join(dir, 'model.json');
    const original = readFileSync(manifestPath, 'utf8');
    try {
      const manifest = JSON.parse(original);
      manifest.files.weights.sha256 = '0'.repeat(64);
      writeFileSync(manifestPath, JSON.stringify(manifest));
      const result = videomae(['export', dir]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/weights_checksum_mismatch: weights '.*' have sha256 [0-9a-f]{64}, but model.json/);
    } finally {
      writeFileSync(manifestPath, original);
    }
  });
});

describe('videomae predict and serve', () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill('SIGKILL');
  });

  it('prints the same JSON as POST /classify, and serve stops cleanly on SIGTERM', async () => {
    const file = videos.pattern('cli.mp4', 2, '320x240');
    const predicted = videomae(['predict', file, '--models', models.dir, '--protocol', 'fast', '--top-k', '3', '--device', 'cpu']);
    expect(predicted.status, predicted.stderr).toBe(0);
    const fromCli = JSON.parse(predicted.stdout);
    expectMatchesSpec({ status: 200, body: fromCli, headers: { 'content-type': 'application/json' } }, 'POST', '/classify');

    server = spawn(process.execPath, [...cli, 'serve', '--port', '0', '--host', '127.0.0.1', '--models', models.dir, '--device', 'cpu'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 60_000);
      server!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // JSON log lines: the listening line carries the url; then 'ready'.
        const lines = output
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; url?: string });
        const listening = lines.find((l) => l.url);
        if (listening && lines.some((l) => l.msg === 'ready')) {
          clearTimeout(timer);
          resolve(listening.url!);
        }
      });
    });
    const form = new FormData();
    form.append('video', new Blob([readFileSync(file)]), 'cli.mp4');
    const response = await fetch(`${url}/classify?protocol=fast&topK=3`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    const fromHttp = (await response.json()) as Record<string, unknown>;
    const { timings: _a, ...cliRest } = fromCli;
    const { timings: _b, ...httpRest } = fromHttp;
    expect(httpRest).toEqual(cliRest);

    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    server = undefined;
  });

  it('a list without --temporal says what to do', () => {
    const list = videos.text('list.csv', `path\n${videos.pattern('listed.mp4', 1, '64x48')}\n`);
    const result = videomae(['predict', list, '--models', models.dir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/invalid_parameter: '.*list\.csv' is a list of videos; .*--temporal.*videomae evaluate/);
  });

  it('--spatiotemporal prints people and their actions per keyframe, as POST /detect-spatiotemporal', () => {
    const file = videos.pattern('people.mp4', 2, '160x120');
    const result = videomae(['predict', file, '--spatiotemporal', '--models', REPO_MODELS, '--device', 'cpu', '--keyframe-interval', '1']);
    expect(result.status, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ model: 'ava', detector: 'centernet', video: { width: 160, height: 120 } });
    expect(body.keyframes.length).toBeGreaterThan(0);
    for (const keyframe of body.keyframes) expect(Number.isInteger(keyframe.time)).toBe(true);
    for (const keyframe of body.keyframes) expect(Array.isArray(keyframe.people)).toBe(true);
  });

  it('evaluate and predict serve the good folders when another has no model.onnx, as serve does', () => {
    const broken = join(models.dir, 'not-exported');
    cpSync(join(models.dir, 'tiny-ucf'), broken, { recursive: true, filter: (source) => !source.endsWith('.onnx') });
    const manifest = JSON.parse(readFileSync(join(broken, 'model.json'), 'utf8'));
    writeFileSync(join(broken, 'model.json'), JSON.stringify({ ...manifest, name: 'not-exported' }));
    try {
      const clip = videos.pattern('labelled.mp4', 1, '64x48');
      const manifestFile = videos.text('eval.csv', `path,label\n${clip},ApplyEyeMakeup\n`);
      const evaluated = videomae([
        'evaluate',
        manifestFile,
        '--models',
        models.dir,
        '--model',
        'tiny-ucf',
        '--protocol',
        'fast',
        '--device',
        'cpu',
      ]);
      expect(evaluated.status, evaluated.stderr).toBe(0);
      expect(JSON.parse(evaluated.stdout)).toMatchObject({ videos: 1 });
      expect(evaluated.stderr).toMatch(/warning: model folder '.*not-exported' not loaded/);
      const refused = videomae(['predict', clip, '--models', models.dir, '--model', 'not-exported', '--device', 'cpu']);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/not-exported/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('exits 2 with a clear message for a missing file', () => {
    const result = videomae(['predict', '/nonexistent/video.mp4', '--models', models.dir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("video '/nonexistent/video.mp4' does not exist");
  });
});
