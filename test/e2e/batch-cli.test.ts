/**
 * `videomae batch` as a user runs it (child processes): extract-features over a manifest writes
 * the same `<id>.npy` as `videomae extract-features`, one result line per video; killed part way
 * with SIGKILL and run again, it skips the videos done and finishes the rest, one line each;
 * a failing video is a failed line (exit 1) and runs again on the next run; classify lines carry
 * the /classify result.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBundledModels } from '../helpers/models.js';
import { expectMatchesSchema } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const dir = mkdtempSync(join(tmpdir(), 'videomae-batch-cli-'));
const models = join(dir, 'models');
const videos = new VideoFactory();
let manifest: string;
let names: string[];

function videomae(args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 300_000 });
}

interface Line {
  id: string;
  index: number;
  status: string;
  result?: { clips: number; dim: number };
  error?: { code: string };
}
const lines = (out: string): Line[] =>
  readFileSync(join(out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    // the line a crash cut short stays as it was; readers skip it
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as Line);

beforeAll(async () => {
  await copyBundledModels(models, ['default']);
  names = [4, 5, 6, 7, 8].map((s) => videos.pattern(`clip-${s}.mp4`, s, '160x120'));
  manifest = join(dir, 'videos.txt');
  writeFileSync(manifest, `${names.join('\n')}\n`);
}, 120_000);

afterAll(() => {
  videos.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('videomae batch', () => {
  it('extract-features: the same .npy files as extract-features, one line per video', () => {
    const out = join(dir, 'features');
    const batch = videomae([
      'batch',
      manifest,
      '--task',
      'extract-features',
      '--out',
      out,
      '--models',
      models,
      '--device',
      'cpu',
      '--concurrency',
      '2',
    ]);
    expect(batch.status, batch.stderr).toBe(0);
    expect(batch.stdout).toContain('extract-features: 5 succeeded, 0 failed, 0 done before');
    expect(batch.stderr).toMatch(/5\/5/);
    const reference = join(dir, 'reference');
    const extract = videomae(['extract-features', manifest, '--out', reference, '--models', models, '--device', 'cpu']);
    expect(extract.status, extract.stderr).toBe(0);
    const written = lines(out);
    expect(written.map((l) => l.id).sort()).toEqual(['clip-4', 'clip-5', 'clip-6', 'clip-7', 'clip-8']);
    for (const line of written) {
      expect(line.status).toBe('succeeded');
      expectMatchesSchema(line.result, 'FeatureSummary');
      // bit for bit what the TAD extraction writes
      expect(readFileSync(join(out, 'features', `${line.id}.npy`)).equals(readFileSync(join(reference, `${line.id}.npy`)))).toBe(true);
    }
  });

  it('killed part way with SIGKILL, a second run skips the videos done and finishes the rest', async () => {
    const out = join(dir, 'resumed');
    // tsx as an in-process loader: the pid killed is the batch's own (tsx's cli.mjs would run it in a child)
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src', 'cli.ts'),
        'batch',
        manifest,
        '--task',
        'extract-features',
        '--out',
        out,
        '--models',
        models,
        '--device',
        'cpu',
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // killed once the first video's line is there (or when it finished first: the rerun then skips all)
    while (!(existsSync(join(out, 'results.jsonl')) && readFileSync(join(out, 'results.jsonl'), 'utf8').includes('\n'))) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const before = lines(out).length;
    expect(before).toBeGreaterThanOrEqual(1);
    // a crash can cut the last line short: that video runs again
    writeFileSync(join(out, 'results.jsonl'), `${readFileSync(join(out, 'results.jsonl'), 'utf8')}{"index":4,"id":"clip-8","sta`);

    const again = videomae(['batch', manifest, '--task', 'extract-features', '--out', out, '--models', models, '--device', 'cpu']);
    expect(again.status, again.stderr).toBe(0);
    const skipped = Math.min(before, 5);
    expect(again.stdout).toContain(`${5 - skipped} succeeded, 0 failed, ${skipped} done before`);
    const done = lines(out).filter((l) => l.status === 'succeeded');
    expect(done.map((l) => l.id).sort()).toEqual(['clip-4', 'clip-5', 'clip-6', 'clip-7', 'clip-8']);
    for (const line of done) expect(existsSync(join(out, 'features', `${line.id}.npy`))).toBe(true);
  }, 300_000);

  it('records a video that fails as a failed line (exit 1), and runs it again next time', () => {
    const out = join(dir, 'failing');
    const broken = videos.text('broken.mp4', 'not a video at all');
    const list = join(dir, 'with-broken.txt');
    writeFileSync(list, `${names[0]}\n${broken}\n`);
    const first = videomae([
      'batch',
      list,
      '--task',
      'classify',
      '--out',
      out,
      '--models',
      models,
      '--device',
      'cpu',
      '--options',
      '{"topK": 2}',
    ]);
    expect(first.status).toBe(1);
    expect(first.stdout).toContain('classify: 1 succeeded, 1 failed');
    const [ok, failed] = lines(out);
    expect(ok).toMatchObject({ id: 'clip-4', status: 'succeeded' });
    expectMatchesSchema(ok!.result, 'ClassifyResponse');
    expect((ok!.result as unknown as { labels: unknown[] }).labels).toHaveLength(2);
    expect(failed).toMatchObject({ id: 'broken', status: 'failed', error: { code: 'undecodable_media' } });
    const second = videomae(['batch', list, '--task', 'classify', '--out', out, '--models', models, '--device', 'cpu']);
    expect(second.stdout).toContain('classify: 0 succeeded, 1 failed, 1 done before');
  });

  it('refuses an unknown task and options that are not JSON, naming them', () => {
    const task = videomae(['batch', manifest, '--task', 'dance', '--out', join(dir, 'x'), '--models', models]);
    expect(task.status).toBe(2);
    expect(task.stderr).toMatch(
      /invalid_parameter: .*--task.* must be one of classify, extract-features, detect-temporal, detect-spatiotemporal/,
    );
    const options = videomae(['batch', manifest, '--task', 'classify', '--out', join(dir, 'x'), '--models', models, '--options', '{top']);
    expect(options.status).toBe(2);
    expect(options.stderr).toMatch(/--options.* must be a JSON object/);
  });
});
