/**
 * Sliding-clip features from a streamed decode: the right clips (starts 0, 4, 8, ...), each equal
 * to the backbone run directly on the same frames decoded the other way (seek + select), the
 * short-video padding, the .npy files, and `videomae extract-features` as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../src/runtime/model-registry.js';
import { extractFeatures, featureClipStarts, defaultFeatureSettings, NORMALIZATIONS } from '../../src/tasks/temporal/features.js';
import { decodeFrames } from '../../src/video/decode.js';
import { probeVideo } from '../../src/video/probe.js';
import { packClip } from '../../src/video/transforms.js';
import { readNpy, writeNpy } from '../../src/weights/npy.js';
import { prepareTestModels, type TestModels } from '../helpers/models.js';
import { maxAbsDiff } from '../helpers/numeric.js';
import { CONTAINERS, VideoFactory } from '../helpers/videos.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videos = new VideoFactory();
let models: TestModels;
let model: LoadedModel;
let session: ort.InferenceSession;

beforeAll(async () => {
  models = await prepareTestModels();
  model = await loadModel(join(models.dir, 'tiny-ucf'), { device: 'cpu', threads: 1 });
  session = await ort.InferenceSession.create(join(models.dir, 'tiny-ucf', 'model.onnx'));
});
afterAll(async () => {
  await model?.runner.close();
  await session?.release();
  models?.cleanup();
  videos.cleanup();
});

/** The reference: frames [start, start + T) decoded by seek + select, packed, run directly. */
async function referenceFeatures(
  file: string,
  starts: number[],
  numFrames: number,
  size: number,
  normalization: 'unit' | 'imagenet',
): Promise<Float32Array> {
  const out: number[] = [];
  for (const start of starts) {
    const indices = Array.from({ length: numFrames }, (_, i) => start + i);
    const frames: Uint8Array[] = [];
    for await (const f of decodeFrames({ file, fps: 25, indices, source: await probeVideo(file), size: { width: size, height: size } }))
      frames.push(f.rgb);
    while (frames.length < numFrames) frames.push(frames[frames.length - 1]!);
    const clip = new Float32Array(3 * numFrames * size * size);
    packClip(frames, { width: size, height: size }, { x: 0, y: 0, size }, NORMALIZATIONS[normalization], clip, 0);
    const { features } = await session.run({ video: new ort.Tensor('float32', clip, [1, 3, numFrames, size, size]) }, ['features']);
    out.push(...(features!.data as Float32Array));
  }
  return Float32Array.from(out);
}

describe('featureClipStarts', () => {
  it('starts every stride while a whole clip fits; a short video is one clip', () => {
    expect(featureClipStarts(40, 16, 4)).toEqual([0, 4, 8, 12, 16, 20, 24]);
    expect(featureClipStarts(16, 16, 4)).toEqual([0]);
    expect(featureClipStarts(10, 16, 4)).toEqual([0]);
    expect(featureClipStarts(0, 16, 4)).toEqual([]);
  });
});

describe('extractFeatures', () => {
  it('gives one row per clip start, each the backbone on those frames (batches of 3)', async () => {
    const file = videos.ramp(CONTAINERS[0]!, 43);
    const settings = defaultFeatureSettings(model); // tiny-ucf: 4-frame clips at 32x32
    const progress: number[] = [];
    const result = await extractFeatures({
      file,
      source: await probeVideo(file),
      model,
      settings,
      maxBatch: 3,
      onProgress: (p) => progress.push(p.clipsDone),
    });
    const starts = featureClipStarts(43, 4, 4);
    expect(starts).toHaveLength(10);
    expect(result).toMatchObject({ clips: 10, dim: 64, frames: 43 });
    expect(progress).toEqual([3, 6, 9, 10]);
    const expected = await referenceFeatures(file, starts, 4, 32, 'unit');
    expect(maxAbsDiff(result.features, expected)).toBeLessThanOrEqual(1e-5);
  });

  it('uses the classification normalization when asked, and pads a video shorter than one clip', async () => {
    const file = videos.ramp(CONTAINERS[0]!, 3);
    const result = await extractFeatures({
      file,
      source: await probeVideo(file),
      model,
      settings: defaultFeatureSettings(model, { normalization: 'imagenet' }),
      maxBatch: 4,
    });
    expect(result.clips).toBe(1);
    expect(maxAbsDiff(result.features, await referenceFeatures(file, [0], 4, 32, 'imagenet'))).toBeLessThanOrEqual(1e-5);
  });

  it('stops ffmpeg and the runs when aborted', async () => {
    const file = videos.pattern('abort.mp4', 8, '160x120');
    const controller = new AbortController();
    const running = extractFeatures({
      file,
      source: await probeVideo(file),
      model,
      settings: defaultFeatureSettings(model),
      maxBatch: 2,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('stop')),
    });
    await expect(running).rejects.toThrow('stop');
    const children = spawnSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).stdout;
    expect(children).not.toMatch(/ffmpeg/);
  });
});

describe('.npy files', () => {
  it('round-trip [T, D] float32 with a 64-byte aligned NumPy 1.0 header', () => {
    const file = join(videos.dir, 'x.npy');
    const data = Float32Array.from({ length: 6 }, (_, i) => i / 3);
    writeNpy(file, data, [2, 3]);
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    const headerLength = bytes.readUInt16LE(8);
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes.toString('latin1', 10, 10 + headerLength)).toMatch(
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/,
    );
    expect(readNpy(file)).toEqual({ data, shape: [2, 3] });
  });

  it('refuses what it cannot read', () => {
    const file = join(videos.dir, 'bad.npy');
    writeFileSync(file, 'not numpy');
    expect(() => readNpy(file)).toThrow(/is not a \.npy file/);
  });
});

describe('videomae extract-features', () => {
  it('writes one .npy per video of a list and an index with the settings', () => {
    const a = videos.pattern('walk_a.mp4', 2, '160x120');
    videos.pattern('walk_b.mp4', 1, '160x120'); // listed by a relative path below
    const list = join(videos.dir, 'videos.csv');
    writeFileSync(list, `path,label\n${a},x\nwalk_b.mp4,y\n`);
    const out = join(videos.dir, 'features');
    const result = spawnSync(
      process.execPath,
      [...cli, 'extract-features', list, '--models', models.dir, '--model', 'tiny-ucf', '--out', out, '--device', 'cpu'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/walk_a: 12 x 64 features from 50 frames/);
    const index = JSON.parse(readFileSync(join(out, 'features.json'), 'utf8'));
    expect(index).toMatchObject({ backbone: 'tiny-ucf', settings: { numFrames: 4, featureStride: 4, size: 32, normalization: 'unit' } });
    expect(index.videos.walk_b).toMatchObject({ file: 'walk_b.npy', fps: 25, frames: 25, clips: 6, dim: 64 });
    expect(readNpy(join(out, 'walk_a.npy')).shape).toEqual([12, 64]);
    expect(existsSync(join(out, 'walk_b.npy'))).toBe(true);

    // Run again: both are skipped; a cut file and --force are recomputed.
    const written = statSync(join(out, 'walk_a.npy')).mtimeMs;
    const again = spawnSync(
      process.execPath,
      [...cli, 'extract-features', list, '--models', models.dir, '--model', 'tiny-ucf', '--out', out, '--device', 'cpu'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/\[1\/2\] walk_a: already extracted with these settings, skipped/);
    expect(again.stdout).toMatch(/\[2\/2\] walk_b: already extracted/);
    expect(statSync(join(out, 'walk_a.npy')).mtimeMs).toBe(written);
    truncateSync(join(out, 'walk_b.npy'), 100);
    const repaired = spawnSync(
      process.execPath,
      [...cli, 'extract-features', list, '--models', models.dir, '--model', 'tiny-ucf', '--out', out, '--device', 'cpu'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(repaired.stdout).toMatch(/\[2\/2\] walk_b: 6 x 64 features/);
    expect(readNpy(join(out, 'walk_b.npy')).shape).toEqual([6, 64]);
    const forced = spawnSync(
      process.execPath,
      [...cli, 'extract-features', list, '--models', models.dir, '--model', 'tiny-ucf', '--out', out, '--device', 'cpu', '--force'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(forced.stdout).toMatch(/\[1\/2\] walk_a: 12 x 64 features/);

    const missing = spawnSync(process.execPath, [...cli, 'extract-features', join(videos.dir, 'nope.mp4'), '--out', out], {
      encoding: 'utf8',
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/file_not_found: input '.*nope\.mp4' does not exist/);
  });
});
