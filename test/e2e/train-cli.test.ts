/**
 * `videomae make-dataset` and `videomae train` as a user runs them: real child processes, a real
 * dataset on disk, the backend notice, bad recipes refused before any step with the field named.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSyntheticClip, SYNTHETIC_CLASSES } from '../../src/datasets/synthetic-render.js';
import { readDatasetManifest } from '../../src/datasets/manifest.js';
import { ClipCache } from '../../src/train/clip-cache.js';
import { seededUniform } from '../../src/weights/random-init.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videomae = (args: string[]) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 180_000 });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'videomae-train-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('videomae make-dataset synthetic', () => {
  it('writes real videos and manifests, the same for the same seed', async () => {
    const args = [
      'make-dataset',
      'synthetic',
      '--classes',
      'moving_left,still,growing',
      '--videos',
      '3',
      '--size',
      '32',
      '--frames',
      '8',
      '--seed',
      '5',
    ];
    const first = videomae([...args, '--out', join(dir, 'a')]);
    expect(first.status, first.stderr).toBe(0);
    expect(videomae([...args, '--out', join(dir, 'b')]).status).toBe(0);
    expect(readFileSync(join(dir, 'a', 'train.csv'), 'utf8')).toBe(readFileSync(join(dir, 'b', 'train.csv'), 'utf8'));
    expect(readFileSync(join(dir, 'a', 'labels.txt'), 'utf8')).toBe('moving_left\nstill\ngrowing\n');
    const train = readDatasetManifest(join(dir, 'a', 'train.csv'), 'train');
    const val = readDatasetManifest(join(dir, 'a', 'val.csv'), 'val');
    expect(train).toHaveLength(6);
    expect(val).toHaveLength(3);
    // Decoded through the service's ffmpeg path: both runs wrote the same pictures.
    const cache = new ClipCache(32);
    const a = join(dir, 'a', 'videos', 'growing_0002.mp4');
    const b = join(dir, 'b', 'videos', 'growing_0002.mp4');
    await cache.load([a, b]);
    expect(cache.get(a).frames).toHaveLength(8);
    expect(Buffer.compare(Buffer.from(cache.get(a).frames[7]!), Buffer.from(cache.get(b).frames[7]!))).toBe(0);
  });

  it('names an unknown class', () => {
    const result = videomae(['make-dataset', 'synthetic', '--out', join(dir, 'c'), '--classes', 'moving_left,dancing']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/classes.*dancing/);
  });

  it('defines classes by change over time: a still clip barely changes, a moving one does', () => {
    const size = { width: 48, height: 48, frames: 16 };
    const change = (label: (typeof SYNTHETIC_CLASSES)[number], seed: number): number => {
      const frames = renderSyntheticClip(label, size, seededUniform(seed));
      // Values that moved by more than the sensor grain (at most +-4) can only come from the object.
      let changed = 0;
      for (let i = 0; i < frames[0]!.length; i++) if (Math.abs(frames[0]![i]! - frames[15]![i]!) > 12) changed++;
      return changed;
    };
    for (let seed = 0; seed < 5; seed++) {
      expect(change('still', seed)).toBe(0);
      expect(change('moving_right', seed)).toBeGreaterThan(20);
      expect(change('disappearing', seed)).toBeGreaterThan(20);
      expect(change('rotating_clockwise', seed)).toBeGreaterThan(0);
    }
  });
});

describe('videomae train', () => {
  const recipe = (stages: unknown[]) => {
    const file = join(dir, `recipe-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ name: 'cli', seed: 1, stages }));
    return file;
  };
  const stage = {
    stage: 'finetune',
    out: 'out',
    model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 32 },
    data: { train: 'a/train.csv', val: 'a/val.csv' },
    optimizer: { lr: 1e-3 },
    epochs: 1,
    batch: 2,
    maxSteps: 2,
    export: false,
  };

  it('trains, prints per-stage results, and falls back to wasm with a one-line notice', () => {
    const result = videomae(['train', recipe([stage]), '--backend', 'tensorflow']);
    expect(result.status, result.stderr).toBe(0);
    const notices = result.stderr.split('\n').filter((l) => l.startsWith('notice:'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/tfjs-node.*wasm/);
    expect(result.stderr).toMatch(/step 2\/2/);
    expect(result.stderr).toMatch(/held-out top-1/);
    const [summary] = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ stage: 'finetune', steps: 2, completed: true });
  });

  it.each([
    [{ ...stage, stage: 'pretraining' }, /stages\[0\]\.stage/],
    [{ ...stage, data: { train: 'a/none.csv' } }, /stages\[0\]\.data\.train.*does not exist/],
    [{ ...stage, data: { ...stage.data, labels: 'a/only-still.txt' } }, /stages\[0\]\.data\.train.*not in the label map/],
    [{ ...stage, model: { arch: 'vit_tiny_test', numFrames: 4, imageSize: 36 } }, /stages\[0\]\.model\.imageHeight.*divisible/],
  ])('refuses a bad recipe before training (%#)', (bad, message) => {
    writeFileSync(join(dir, 'a', 'only-still.txt'), 'still\nsleeping\n');
    const result = videomae(['train', recipe([bad])]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/step 1\//);
  });
});

describe("the bundled default's recipe (recipes/synthetic-motion.json), short", () => {
  it('trains and exports a servable model with its metrics, as committed but for a step limit', () => {
    // The recipe as committed, in a folder laid out like the repository (recipes/ beside data/),
    // on a dataset made by the command its description gives, with fewer videos.
    const repo = join(dir, 'motion');
    mkdirSync(join(repo, 'recipes'), { recursive: true });
    const made = videomae([
      'make-dataset',
      'synthetic',
      '--out',
      join(repo, 'data', 'synthetic-motion'),
      '--videos',
      '4',
      '--size',
      '64',
      '--frames',
      '16',
    ]);
    expect(made.status, made.stderr).toBe(0);
    const committed = JSON.parse(readFileSync(join(root, 'recipes', 'synthetic-motion.json'), 'utf8'));
    expect(committed.stages).toHaveLength(1);
    const short = { ...committed, stages: [{ ...committed.stages[0], maxSteps: 2 }] };
    writeFileSync(join(repo, 'recipes', 'synthetic-motion.json'), JSON.stringify(short));
    const out = join(repo, 'models', 'default');
    const result = videomae(['train', join(repo, 'recipes', 'synthetic-motion.json'), '--out', out, '--backend', 'wasm']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/step 2\/2/);
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(model.architecture).toMatchObject({ patchSize: 8, tubeletSize: 2, numFrames: 8, imageHeight: 64, numClasses: 11 });
    expect(model.provenance.recipe.name).toBe('synthetic-motion');
    expect(model.provenance.metrics.top1).toBeTypeOf('number');
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(metrics.some((m) => m.type === 'eval' && typeof m.top1 === 'number')).toBe(true);
  });
});
