/**
 * The `videomae` command as a user runs it (a child process): export, predict, and serve with a
 * real socket, compared with each other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectMatchesSpec } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];

function videomae(args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 120_000 });
}

const videos = new VideoFactory();
let models: TestModels;
beforeAll(async () => { models = await prepareTestModels(); });
afterAll(() => { models?.cleanup(); videos.cleanup(); });

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
  afterAll(() => { server?.kill('SIGKILL'); });

  it('prints the same JSON as POST /classify, and serve stops cleanly on SIGTERM', async () => {
    const file = videos.pattern('cli.mp4', 2, '320x240');
    const predicted = videomae(['predict', file, '--models', models.dir, '--protocol', 'fast', '--top-k', '3', '--device', 'cpu']);
    expect(predicted.status, predicted.stderr).toBe(0);
    const fromCli = JSON.parse(predicted.stdout);
    expectMatchesSpec({ status: 200, body: fromCli, headers: { 'content-type': 'application/json' } }, 'POST', '/classify');

    server = spawn(process.execPath, [...cli, 'serve', '--port', '0', '--host', '127.0.0.1', '--models', models.dir, '--device', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 60_000);
      server!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // JSON log lines: the listening line carries the url; then 'ready'.
        const lines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; url?: string });
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

  it('exits 2 with a clear message for a missing file', () => {
    const result = videomae(['predict', '/nonexistent/video.mp4', '--models', models.dir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("video '/nonexistent/video.mp4' does not exist");
  });
});
