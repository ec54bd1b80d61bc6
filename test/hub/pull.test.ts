/**
 * `videomae pull` against a local Hub (test/helpers/fake-hub.ts): the real download code over
 * real HTTP. A full pull imports and gives the reference logits; a second pull comes from the
 * huggingface_hub cache; an interrupted download resumes with a Range request; a corrupt file, a
 * missing token, an unknown repo or revision are refused clearly with nothing imported.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { hubCacheDir } from '../../src/hub/cache.js';
import { progressOn } from '../../src/hub/progress.js';
import { pullModel, type PullOptions } from '../../src/hub/pull.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const root = join(import.meta.dirname, '..', '..');
const FIXTURES = join(root, 'test', 'fixtures', 'hf');
const io = readSafetensors(join(FIXTURES, 'io.safetensors')).tensors;
const work = mkdtempSync(join(tmpdir(), 'videomae-pull-'));
const REPO = 'test-org/videomae-tiny-finetuned';
const repo = repoFromFolder(REPO, join(FIXTURES, 'classify'));
const safetensors = repo.files.find((f) => f.name === 'model.safetensors')!;

let hub: FakeHub | undefined;
let counter = 0;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function startHub(options: ConstructorParameters<typeof FakeHub>[1] = {}): Promise<FakeHub> {
  hub = await new FakeHub([repo, repoFromFolder('test-org/pretrained', join(FIXTURES, 'pretrain'))], options).start();
  return hub;
}

function pull(h: FakeHub, cache: string, extra: Partial<PullOptions> = {}) {
  const out = join(work, `model-${counter++}`);
  return {
    out,
    done: pullModel({
      repo: REPO,
      out,
      cacheDir: cache,
      hub: { endpoint: h.endpoint },
      hf: {
        finish: async (dir) => {
          await exportModelFolder(dir);
        },
      },
      ...extra,
    }),
  };
}

async function logits(dir: string, fixture = io): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  const video = fixture.get('video')!;
  try {
    const out = await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
    return out.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const cacheRoot = (cache: string) => join(cache, 'models--test-org--videomae-tiny-finetuned');

describe('videomae pull', () => {
  it('downloads only what the import needs into the huggingface_hub layout and imports it', async () => {
    const h = await startHub();
    const cache = join(work, `cache-${counter++}`);
    const { out, done } = pull(h, cache);
    const result = await done;
    expect(result.commit).toBe(repo.commit);
    expect(result.downloaded).toEqual(['config.json', 'preprocessor_config.json', 'model.safetensors']);
    const diff = maxAbsDiff(await logits(out), io.get('logits')!.data);
    console.log(`pull: max |logit - reference| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-4);
    const manifest = readModelFolder(out).manifest;
    expect(manifest.provenance.checkpoint).toMatchObject({
      format: 'hf',
      file: 'model.safetensors',
      sha256: safetensors.sha256,
      hub: { repo: REPO, revision: 'main', commit: repo.commit },
    });
    expect(readFileSync(join(out, 'labels.txt'), 'utf8').split('\n')[1]).toBe('air drumming');

    // The cache: blobs named by etag, relative links from the snapshot, the branch's ref.
    const base = cacheRoot(cache);
    expect(readFileSync(join(base, 'refs', 'main'), 'utf8')).toBe(repo.commit);
    const link = join(base, 'snapshots', repo.commit, 'model.safetensors');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(`../../blobs/${safetensors.sha256}`);
    expect(readdirSync(join(base, 'blobs')).sort()).toEqual(
      repo.files
        .filter((f) => ['config.json', 'preprocessor_config.json', 'model.safetensors'].includes(f.name))
        .map((f) => (f.lfs ? f.sha256 : f.gitBlobId))
        .sort(),
    );
    // Files the import does not need were not fetched; the CDN never saw the token-free request carry anything.
    expect(
      h
        .fileRequests()
        .map((r) => r.path)
        .join(' '),
    ).not.toMatch(/README|gitattributes|pytorch_model/);
    expect(h.log.filter((r) => r.server === 'cdn').length).toBe(1);

    // A second pull (a new --out) is served from the cache: the API is asked, no file is downloaded.
    const before = h.log.length;
    const again = pull(h, cache);
    const second = await again.done;
    expect(second.downloaded).toEqual([]);
    expect(second.cached).toEqual(['config.json', 'preprocessor_config.json', 'model.safetensors']);
    expect(h.log.slice(before).map((r) => r.path)).toEqual([`/api/models/${REPO}/revision/main?blobs=true`]);
    expect(maxAbsDiff(await logits(again.out), io.get('logits')!.data)).toBeLessThanOrEqual(1e-4);

    // Offline, from refs/main and the snapshot alone.
    const offline = pull(h, cache, { offline: true, hub: { endpoint: 'http://127.0.0.1:9' }, hf: {} });
    expect((await offline.done).commit).toBe(repo.commit);
  });

  it('resumes an interrupted download with a Range request', async () => {
    const h = await startHub({ cutFile: 'model.safetensors' });
    const cache = join(work, `cache-${counter++}`);
    const first = pull(h, cache);
    await expect(first.done).rejects.toMatchObject({
      code: 'hub_unreachable',
      message: expect.stringMatching(
        /download of 'model\.safetensors' .* was interrupted after \d+ of \d+ bytes.*run the same command again to resume/,
      ),
    });
    expect(existsSync(first.out)).toBe(false);
    const partial = join(cacheRoot(cache), 'blobs', `${safetensors.sha256}.incomplete`);
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(safetensors.data.length);

    const second = pull(h, cache);
    const result = await second.done;
    expect(result.downloaded).toEqual(['model.safetensors']); // config files came in the first run
    const cdn = h.log.filter((r) => r.server === 'cdn');
    expect(cdn.map((r) => r.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(existsSync(partial)).toBe(false);
    expect(maxAbsDiff(await logits(second.out), io.get('logits')!.data)).toBeLessThanOrEqual(1e-4);
  });

  it('refuses a file whose sha256 is not the one the API lists, and imports nothing', async () => {
    const h = await startHub({ corruptFile: 'model.safetensors' });
    const cache = join(work, `cache-${counter++}`);
    const { out, done } = pull(h, cache);
    await expect(done).rejects.toMatchObject({
      code: 'hub_integrity',
      message: expect.stringContaining(`does not have the sha256 ${safetensors.sha256}`),
    });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(cacheRoot(cache), 'blobs')).filter((n) => n.startsWith(safetensors.sha256))).toEqual([]);
    expect(existsSync(join(cacheRoot(cache), 'snapshots', repo.commit, 'model.safetensors'))).toBe(false);
  });

  it('needs HF_TOKEN for a private repo, sends it to the Hub only, never to the CDN', async () => {
    const h = await startHub({ token: 'hf_secret_token_1234' });
    const cache = join(work, `cache-${counter++}`);
    const refused = pull(h, cache);
    await expect(refused.done).rejects.toMatchObject({
      code: 'hub_unauthorized',
      message: expect.stringMatching(/needs a token .* set HF_TOKEN/),
    });
    await expect(pull(h, cache, { hub: { endpoint: h.endpoint, token: 'wrong' } }).done).rejects.toMatchObject({
      code: 'hub_unauthorized',
      message: expect.stringContaining('refused the token in HF_TOKEN'),
    });
    expect(existsSync(refused.out)).toBe(false);

    const allowed = pull(h, cache, { hub: { endpoint: h.endpoint, token: 'hf_secret_token_1234' } });
    await allowed.done;
    expect(existsSync(join(allowed.out, 'model.onnx'))).toBe(true);
    const cdn = h.log.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBe(1);
    expect(cdn[0]!.authorization).toBeUndefined();
    expect(
      h.log
        .filter((r) => r.server === 'hub' && r.path.includes('/resolve/'))
        .every((r) => r.authorization === 'Bearer hf_secret_token_1234'),
    ).toBe(true);
  });

  it('404: an unknown repo or revision is named; an unreachable endpoint is named', async () => {
    const h = await startHub();
    const cache = join(work, `cache-${counter++}`);
    await expect(pull(h, cache, { repo: 'test-org/nope' }).done).rejects.toMatchObject({
      code: 'hub_not_found',
      details: { parameter: 'repo' },
      message: expect.stringContaining("'test-org/nope'"),
    });
    await expect(pull(h, cache, { revision: 'v9' }).done).rejects.toMatchObject({
      code: 'hub_not_found',
      details: { parameter: 'revision' },
      message: expect.stringContaining("revision 'v9' not found"),
    });
    await expect(pull(h, cache, { hub: { endpoint: 'http://127.0.0.1:9' } }).done).rejects.toMatchObject({
      code: 'hub_unreachable',
      message: expect.stringContaining('http://127.0.0.1:9'),
    });
    expect(existsSync(join(cacheRoot(cache), 'snapshots'))).toBe(false);
  });

  it('a repo holding an official .pth imports it with the regular path (--arch given)', async () => {
    const folder = join(work, `pth-repo-${counter++}`);
    mkdirSync(folder);
    copyFileSync(join(root, 'test', 'fixtures', 'checkpoints', 'finetune-module.pth'), join(folder, 'finetune-module.pth'));
    hub = await new FakeHub([repoFromFolder('test-org/official', folder)]).start();
    const cache = join(work, `cache-${counter++}`);
    await expect(pull(hub, cache, { repo: 'test-org/official' }).done).rejects.toMatchObject({
      code: 'hub_no_model',
      message: expect.stringContaining('pass --arch'),
    });
    const tiny = { depth: 2, embedDim: 32, numHeads: 2, patchSize: 8, numFrames: 4, imageSize: 16 };
    const { out, done } = pull(hub, cache, {
      repo: 'test-org/official',
      pth: {
        arch: 'vit_small_patch16_224',
        architecture: tiny,
        finish: async (dir) => {
          await exportModelFolder(dir);
        },
      },
    });
    const result = await done;
    expect(result.format).toBe('pth');
    expect(result.downloaded).toEqual(['finetune-module.pth']);
    const official = readSafetensors(join(root, 'test', 'fixtures', 'checkpoints', 'io.safetensors')).tensors;
    expect(maxAbsDiff(await logits(out, official), official.get('logits')!.data)).toBeLessThanOrEqual(1e-4);
  });

  it('a pretraining repo imports its encoder', async () => {
    const h = await startHub();
    const result = await pull(h, join(work, `cache-${counter++}`), { repo: 'test-org/pretrained', hf: {} }).done;
    expect(result.imported.kind).toBe('pretrain');
  });
});

describe('progress', () => {
  it('redraws one bar with bytes and rate on a terminal', () => {
    let text = '';
    let clock = 0;
    const bar = progressOn(
      {
        isTTY: true,
        columns: 100,
        write: (t: string) => {
          text += t;
        },
      },
      () => clock,
    );
    bar.start('model.safetensors', 4 * 2 ** 20, 0);
    clock = 1000;
    bar.advance(2 * 2 ** 20);
    clock = 2000;
    bar.advance(2 * 2 ** 20);
    bar.finish();
    const frames = text.split('\r').filter(Boolean);
    expect(frames.at(-1)).toBe(`model.safetensors [${'#'.repeat(40)}] 4.0 MiB / 4.0 MiB 2.0 MiB/s\x1b[K\n`); // \x1b[K: erase to the end of the line
    expect(frames[1]).toMatch(/\[#{20}\.{20}\] 2\.0 MiB \/ 4\.0 MiB 2\.0 MiB\/s/);
  });
});

describe('the cache folder', () => {
  it('follows --cache-dir, HF_HUB_CACHE, HF_HOME, then ~/.cache', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' }, '/flag')).toBe('/flag');
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' })).toBe('/a');
    expect(hubCacheDir({ HF_HOME: '/b' })).toBe('/b/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/hub');
  });
});

describe('videomae pull (the CLI)', () => {
  it('pulls through HF_ENDPOINT and HF_TOKEN, prints plain progress lines off a terminal', async () => {
    const h = await startHub({ token: 'hf_cli_token_5678' });
    const out = join(work, 'cli-model');
    const home = join(work, 'hf-home');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli.ts'), 'pull', REPO, '--out', out], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HF_ENDPOINT: h.endpoint, HF_TOKEN: 'hf_cli_token_5678', HF_HOME: home, HF_HUB_CACHE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `pulled ${REPO}@${repo.commit.slice(0, 12)} \\(3 downloaded: config\\.json, preprocessor_config\\.json, model\\.safetensors`,
      ),
    );
    expect(stdout).toMatch(
      /imported .* finetune custom \(depth 2, width 32, 5 classes, labels from id2label\) from model\.safetensors.*model\.onnx/,
    );
    expect(stderr).toMatch(/downloading model\.safetensors \(0\.1 MiB\)\ndownloaded model\.safetensors: 0\.1 MiB of 0\.1 MiB in/);
    expect(existsSync(join(home, 'hub', 'models--test-org--videomae-tiny-finetuned', 'refs', 'main'))).toBe(true);
    expect(maxAbsDiff(await logits(out), io.get('logits')!.data)).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  it('exits 2 naming HF_TOKEN when the Hub wants one', async () => {
    const h = await startHub({ token: 'hf_cli_token_5678' });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src', 'cli.ts'),
        'pull',
        REPO,
        '--out',
        join(work, 'cli-refused'),
        '--cache-dir',
        join(work, 'cli-cache'),
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HF_ENDPOINT: h.endpoint, HF_TOKEN: '' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/videomae: hub_unauthorized: the Hub at http:\/\/127\.0\.0\.1:\d+ needs a token .*set HF_TOKEN/);
    expect(existsSync(join(work, 'cli-refused'))).toBe(false);
  }, 120_000);
});
