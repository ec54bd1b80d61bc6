/**
 * An official ActionFormer checkpoint, end to end as a user runs it: `import-checkpoint --kind
 * actionformer --config` (a child process) on the checkpoint the official code saved
 * (tools/make_actionformer_golden.py: save_checkpoint's layout, state_dict_ema), then
 * `detect-features` and POST /detect-temporal with a features upload (a `videomae serve` child),
 * against the official PtTransformer's segments on the same features: the same count and labels,
 * times within 1e-3 s, scores within 1e-4. Refusals: a config the checkpoint does not match, an
 * unsupported config option, and bad feature uploads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTemporalModelFolder } from '../../src/config/manifest.js';
import { writeNpy } from '../../src/weights/npy.js';
import { serveUntilReady, type CliServer } from '../helpers/cli-server.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'actionformer');
const checkpoint = join(fixtures, 'checkpoint.pth.tar');
const config = join(fixtures, 'thumos_tiny.yaml');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videomae = (args: string[]) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 180_000 });

interface GoldenVideo {
  video_id: string;
  steps: number;
  padded_length: number;
  fps: number;
  duration: number;
  /** The .npy beside the fixture, or (the long video) the formula its features follow. */
  features?: string;
  formula?: string;
  segments: Array<[number, number]>;
  scores: number[];
  labels: number[];
}
interface GoldenVariant {
  name: string;
  test_cfg: Record<string, string | boolean>;
  video_id: string;
  segments: Array<[number, number]>;
  scores: number[];
  labels: number[];
}
const golden = JSON.parse(readFileSync(join(fixtures, 'golden.json'), 'utf8')) as {
  videos: GoldenVideo[];
  variants: GoldenVariant[];
  container: string;
};

interface Segment {
  label: string;
  labelIndex: number;
  start: number;
  end: number;
  score: number;
}

const dir = mkdtempSync(join(tmpdir(), 'videomae-af-official-'));
const modelsDir = join(dir, 'models');
const model = join(modelsDir, 'af-thumos-tiny');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Ours against the official segments: same count, same labels, times within 1e-3 s, scores within 1e-4 (in the official order). */
function compare(ours: Segment[], video: GoldenVideo): { worstTime: number; worstScore: number } {
  expect(ours.length).toBe(video.segments.length);
  expect(ours.map((s) => s.labelIndex)).toEqual(video.labels);
  let worstTime = 0;
  let worstScore = 0;
  ours.forEach((s, i) => {
    const [start, end] = video.segments[i]!;
    worstTime = Math.max(worstTime, Math.abs(s.start - start), Math.abs(s.end - end));
    worstScore = Math.max(worstScore, Math.abs(s.score - video.scores[i]!));
  });
  expect(worstTime).toBeLessThanOrEqual(1e-3);
  expect(worstScore).toBeLessThanOrEqual(1e-4);
  return { worstTime, worstScore };
}

/** Where a golden video's features are: the fixture's .npy, or one written from its formula (as the golden script computes it). */
function featuresFile(video: GoldenVideo): string {
  if (video.features) return join(fixtures, video.features);
  expect(video.formula).toBe('sin(0.013 * (t + 1) * (c + 1) + 0.7 * c)');
  const file = join(dir, `${video.video_id}.npy`);
  if (!existsSync(file)) {
    const channels = 32;
    const data = new Float32Array(video.steps * channels);
    for (let t = 0; t < video.steps; t++)
      for (let c = 0; c < channels; c++) data[t * channels + c] = Math.sin(0.013 * (t + 1) * (c + 1) + 0.7 * c);
    writeNpy(file, data, [video.steps, channels]);
  }
  return file;
}

function detectFeatures(folder: string, video: GoldenVideo, extra: string[] = []): Segment[] {
  const run = videomae([
    'detect-features',
    featuresFile(video),
    '--model',
    folder,
    '--fps',
    String(video.fps),
    '--duration',
    String(video.duration),
    '--device',
    'cpu',
    '--threads',
    '1',
    ...extra,
  ]);
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as {
    input: string;
    segments: Segment[];
    features: { clips: number; fps: number; duration: number };
  };
  expect(result.input).toBe('features');
  expect(result.features).toMatchObject({ clips: video.steps, fps: video.fps, duration: video.duration, featureStride: 4, numFrames: 16 });
  return result.segments;
}

beforeAll(() => {
  const run = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--config', config, '--out', model]);
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain("the state dict under 'state_dict_ema'");
}, 180_000);

describe('import-checkpoint --kind actionformer (official checkpoint and config)', () => {
  it('writes a features-only temporal model with the official config, test_cfg and THUMOS labels', () => {
    const { manifest } = readTemporalModelFolder(model);
    expect(manifest.features).toEqual({ numFrames: 16, featureStride: 4 });
    expect(manifest.actionformer).toMatchObject({
      inputDim: 32,
      embdDim: 16,
      numClasses: 20,
      maxSeqLen: 2304,
      backboneArch: [2, 2, 5],
      mhaWinSize: [19, 19, 19, 19, 19, 19],
    });
    expect(manifest.postprocess).toEqual({
      scoreThreshold: 0.001,
      topK: 2000,
      minDuration: 0.05,
      nms: { method: 'gaussian', iouThreshold: 0.1, sigma: 0.5, minScore: 0.001, maxSegments: 200, perClass: true, votingThreshold: 0.7 },
    });
    expect(manifest.labels.set).toBe('thumos14');
    expect(readFileSync(join(model, 'labels.txt'), 'utf8').split('\n')[0]).toBe('BaseballPitch');
    expect(manifest.provenance.checkpoint).toMatchObject({ file: 'checkpoint.pth.tar', container: 'state_dict_ema', format: 'pth' });
    expect(existsSync(join(model, 'model.onnx'))).toBe(true);
  });

  it('detect-features matches the official segments on 731, 1500, 2304 and 2900 steps (padded past max_seq_len)', () => {
    expect(golden.videos.map((v) => [v.steps, v.padded_length])).toEqual([
      [731, 2304],
      [1500, 2304],
      [2304, 2304],
      [2900, 3456],
    ]);
    for (const video of golden.videos) {
      const { worstTime, worstScore } = compare(detectFeatures(model, video), video);
      console.log(
        `${video.video_id}: ${video.segments.length} segments, worst |dt| ${worstTime.toExponential(2)} s, worst |dscore| ${worstScore.toExponential(2)}`,
      );
    }
  }, 120_000);

  it('follows test_cfg: hard NMS and class-agnostic Soft-NMS with voting match the official ones too', () => {
    expect(golden.variants.map((v) => v.name)).toEqual(['hard', 'agnostic']);
    for (const variant of golden.variants) {
      const lines = Object.entries(variant.test_cfg).map(([k, v]) => `  ${k}: ${typeof v === 'boolean' ? (v ? 'True' : 'False') : v},`);
      const text = readFileSync(config, 'utf8').replace(/multiclass_nms: True,\n/, '');
      const file = join(dir, `${variant.name}.yaml`);
      writeFileSync(
        file,
        text.replace(
          'test_cfg: {\n',
          `test_cfg: {\n${lines.join('\n')}\n${'multiclass_nms' in variant.test_cfg ? '' : '  multiclass_nms: True,\n'}`,
        ),
      );
      const folder = join(dir, `af-${variant.name}`);
      const run = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--config', file, '--out', folder]);
      expect(run.status, run.stderr).toBe(0);
      const nms = readTemporalModelFolder(folder).manifest.postprocess.nms;
      expect(variant.name === 'hard' ? nms.method : nms.perClass).toBe(variant.name === 'hard' ? 'hard' : false);
      const video = golden.videos.find((v) => v.video_id === variant.video_id)!;
      const { worstTime, worstScore } = compare(detectFeatures(folder, video), { ...video, ...variant });
      console.log(
        `${variant.name} on ${video.video_id}: ${variant.segments.length} segments, worst |dt| ${worstTime.toExponential(2)} s, worst |dscore| ${worstScore.toExponential(2)}`,
      );
    }
  }, 120_000);

  it('detect-features refuses missing timing and features of the wrong width, naming them', () => {
    const video = golden.videos[0]!;
    const noFps = videomae(['detect-features', featuresFile(video), '--model', model, '--duration', '10', '--device', 'cpu']);
    expect(noFps.status).toBe(2);
    expect(noFps.stderr).toMatch(/missing_parameter: parameter 'fps' is required with precomputed features/);
    const narrow = join(dir, 'narrow-cli.npy');
    writeNpy(narrow, new Float32Array(10 * 16), [10, 16]);
    const wrong = videomae(['detect-features', narrow, '--model', model, '--fps', '30', '--duration', '10', '--device', 'cpu']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(
      /feature_width_mismatch: .*has 16-d features \(shape \[10, 16\]\); model 'af-thumos-tiny' reads 32-d features/,
    );
  }, 60_000);

  it("the plain weights ('state_dict', --state-dict-key) are not the EMA ones the official eval uses", () => {
    const plain = join(dir, 'af-plain');
    const run = videomae([
      'import-checkpoint',
      checkpoint,
      '--kind',
      'actionformer',
      '--config',
      config,
      '--state-dict-key',
      'state_dict',
      '--out',
      plain,
      '--no-export',
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(readTemporalModelFolder(plain).manifest.provenance.checkpoint?.container).toBe('state_dict');
    expect(videomae(['export', plain]).status).toBe(0);
    const video = golden.videos[0]!;
    const ours = detectFeatures(plain, video);
    const same =
      ours.length === video.segments.length &&
      ours.every((s, i) => s.labelIndex === video.labels[i] && Math.abs(s.score - video.scores[i]!) <= 1e-4);
    expect(same).toBe(false);
  }, 120_000);

  it('refuses a config the checkpoint does not match, listing the keys, and writes nothing', () => {
    const text = readFileSync(config, 'utf8');
    const cases: Array<[string, string, RegExp]> = [
      // no drop path: the checkpoint's AffineDropPath scales are unexpected
      [
        'no-droppath.yaml',
        text.replace('center_sample_radius: 1.5,', 'center_sample_radius: 1.5,\n  droppath: 0.0,'),
        /state_dict_mismatch: .*unexpected keys: backbone\.stem\.0\.drop_path_attn\.scale/,
      ],
      // wider: every conv has the wrong shape
      [
        'wider.yaml',
        text.replace('embd_dim: 16,', 'embd_dim: 24,').replace('fpn_dim: 16,', 'fpn_dim: 24,').replace('head_dim: 16,', 'head_dim: 24,'),
        /state_dict_mismatch: .*wrong shapes: backbone\.embd\.0\.conv\.weight \[16,32,3\] != \[24,32,3\]/,
      ],
      // one level fewer: the last branch block and level are unexpected
      [
        'shallower.yaml',
        text.replace(
          'backbone_arch: [2, 2, 5],',
          'backbone_arch: [2, 2, 4],\n  regression_range: [[0, 4], [4, 8], [8, 16], [16, 32], [32, 10000]],',
        ),
        /state_dict_mismatch: .*unexpected keys: .*backbone\.branch\.4\./,
      ],
    ];
    for (const [name, yaml, pattern] of cases) {
      const file = join(dir, name);
      writeFileSync(file, yaml);
      const out = join(dir, `refused-${name}`);
      const run = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--config', file, '--out', out]);
      expect(run.status, run.stdout).toBe(2);
      expect(run.stderr).toMatch(pattern);
      expect(existsSync(out)).toBe(false);
    }
  }, 180_000);

  it('refuses an unsupported config option by key, and a missing --config', () => {
    const file = join(dir, 'fpn.yaml');
    writeFileSync(file, readFileSync(config, 'utf8').replace('fpn_type: identity,', 'fpn_type: fpn,'));
    const run = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--config', file, '--out', join(dir, 'refused-fpn')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unsupported_config: .*'model\.fpn_type' is "fpn"/);
    const missing = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--out', join(dir, 'refused-noconfig')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/missing_parameter: --config is required with --kind actionformer/);
    // the imported folder is not replaced without --force
    const again = videomae(['import-checkpoint', checkpoint, '--kind', 'actionformer', '--config', config, '--out', model, '--no-export']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/output_exists: --out '.*af-thumos-tiny' already exists and is not empty \(pass --force to replace it\)/);
  }, 60_000);
});

describe('POST /detect-temporal with precomputed features (videomae serve)', () => {
  let server: (CliServer & { url: string }) | undefined;
  beforeAll(async () => {
    server = await serveUntilReady([
      '--models',
      modelsDir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--device',
      'cpu',
      '--threads',
      '1',
      '--state-dir',
      join(dir, 'state'),
      '--temp-dir',
      join(dir, 'tmp'),
    ]);
  }, 120_000);
  afterAll(async () => {
    server?.process.kill('SIGTERM');
    await server?.exited;
  });

  async function post(
    fields: Record<string, string>,
    file?: { field: string; path: string; name: string },
    query = 'wait=true',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    if (file) form.set(file.field, new Blob([readFileSync(file.path)]), file.name);
    const res = await fetch(`${server!.url}/detect-temporal?${query}`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('lists the model as features-only and answers the official segments', async () => {
    const listed = await fetch(`${server!.url}/models`);
    expect(listed.status).toBe(200);
    const { defaultModel, models } = (await listed.json()) as { defaultModel: string; models: Array<Record<string, unknown>> };
    expect(defaultModel).toBe('af-thumos-tiny');
    expect(models.find((m) => m.name === 'af-thumos-tiny')?.features).toEqual({ numFrames: 16, featureStride: 4 });

    const video = golden.videos[0]!;
    const res = await post(
      { fps: String(video.fps), duration: String(video.duration) },
      { field: 'features', path: featuresFile(video), name: `${video.video_id}.npy` },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('succeeded');
    const result = res.body.result as { input: string; segments: Segment[] };
    expect(result.input).toBe('features');
    compare(result.segments, video);
  }, 60_000);

  it('refuses bad features with a stable code before any job exists', async () => {
    const video = golden.videos[0]!;
    const good = { field: 'features', path: featuresFile(video), name: `${video.video_id}.npy` };
    const narrow = join(dir, 'narrow.npy');
    writeNpy(narrow, new Float32Array(10 * 16), [10, 16]);
    const cube = join(dir, 'cube.npy');
    writeNpy(cube, new Float32Array(2 * 10 * 32), [2, 10, 32]);
    const ints = join(dir, 'ints.npy');
    const header = "{'descr': '<i4', 'fortran_order': False, 'shape': (10, 32), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    writeFileSync(
      ints,
      Buffer.concat([
        Buffer.from([0x93]),
        Buffer.from('NUMPY'),
        Buffer.from([1, 0]),
        Buffer.from(Uint16Array.of(padded.length).buffer),
        Buffer.from(padded, 'latin1'),
        Buffer.alloc(10 * 32 * 4),
      ]),
    );
    const notNpy = join(dir, 'not.npy');
    writeFileSync(notNpy, 'hello');
    const cases: Array<[Record<string, string>, { field: string; path: string; name: string } | undefined, number, string, string]> = [
      [{ fps: '30', duration: '10' }, { ...good, path: narrow, name: 'narrow.npy' }, 400, 'feature_width_mismatch', 'features'],
      [{ fps: '30', duration: '10' }, { ...good, path: cube, name: 'cube.npy' }, 400, 'invalid_features', 'features'],
      [{ fps: '30', duration: '10' }, { ...good, path: ints, name: 'ints.npy' }, 400, 'invalid_features', 'features'],
      [{ fps: '30', duration: '10' }, { ...good, path: notNpy, name: 'not.npy' }, 400, 'invalid_features', 'features'],
      [{ duration: '10' }, good, 400, 'missing_parameter', 'fps'],
      [{ fps: '30' }, good, 400, 'missing_parameter', 'duration'],
      // a video to a features-only model
      [{}, { field: 'video', path: featuresFile(video), name: 'clip.mp4' }, 400, 'features_only_model', 'model'],
    ];
    for (const [fields, file, status, code, parameter] of cases) {
      const res = await post(fields, file);
      expect(res.status, `${code}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error).toMatchObject({ code });
      expect(JSON.stringify(res.body.error)).toContain(parameter);
    }
  }, 60_000);
});
