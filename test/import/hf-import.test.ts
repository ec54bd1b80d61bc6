/**
 * `import-checkpoint --format hf` on folders in the exact transformers layout
 * (tools/make_hf_fixture.py): model.safetensors and pytorch_model.bin both import, export and give
 * the PyTorch reference's logits on ONNX Runtime, labels come from id2label and preprocessing from
 * preprocessor_config.json; wrong or missing config is refused clearly and leaves nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { importHfFolder, type HfImportOptions } from '../../src/weights/import-hf.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'hf');
const io = readSafetensors(join(FIXTURES, 'io.safetensors')).tensors;
const work = mkdtempSync(join(tmpdir(), 'videomae-hf-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const LABELS = ['abseiling', 'air drumming', 'answering questions', 'applauding', 'applying cream'];

let counter = 0;
async function importFolder(dir: string, options: Partial<HfImportOptions> = {}): Promise<string> {
  const out = join(work, `out-${counter++}`);
  await importHfFolder({
    dir,
    out,
    finish: async (staged) => {
      await exportModelFolder(staged);
    },
    ...options,
  });
  return out;
}

/** A copy of a fixture folder, changed by `edit` (file name -> new contents, or null to delete). */
function variant(name: string, edit: Record<string, string | null>): string {
  const dir = join(work, `variant-${counter++}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  for (const [file, text] of Object.entries(edit)) {
    if (text === null) rmSync(join(dir, file));
    else writeFileSync(join(dir, file), text);
  }
  return dir;
}

function editConfig(name: string, change: (config: Record<string, unknown>) => void, extra: Record<string, string | null> = {}): string {
  const config = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8')) as Record<string, unknown>;
  change(config);
  return variant(name, { 'config.json': JSON.stringify(config), ...extra });
}

async function run(dir: string): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  const video = io.get('video')!;
  try {
    return await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
  } finally {
    await session.release();
  }
}

/** Expects `work` to hold only the folders tests made on purpose (no staging leftovers). */
function expectNoLeftovers(): void {
  expect(readdirSync(work).filter((n) => n.startsWith('.'))).toEqual([]);
}

describe('transformers VideoMAEForVideoClassification gives the reference logits', () => {
  for (const weights of ['model.safetensors', 'pytorch_model.bin']) {
    it(`from ${weights}`, async () => {
      const dir = weights === 'model.safetensors' ? join(FIXTURES, 'classify') : variant('classify', { 'model.safetensors': null });
      const out = await importFolder(dir);
      const outputs = await run(out);
      expect(outputs.logits!.dims).toEqual([2, 5]);
      const diff = maxAbsDiff(outputs.logits!.data as Float32Array, io.get('logits')!.data);
      console.log(`hf ${weights}: max |logit - reference| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);
      // Tight enough that the eps shows: fc_norm at 1e-6 (the official value) instead of transformers' 1e-5 gives 4e-6.
      expect(diff).toBeLessThanOrEqual(2e-6);
      expect(maxAbsDiff(outputs.features!.data as Float32Array, io.get('features')!.data)).toBeLessThanOrEqual(1e-4);

      const folder = readModelFolder(out);
      expect(readFileSync(join(out, folder.manifest.labels!.file), 'utf8').trim().split('\n')).toEqual(LABELS);
      expect(folder.manifest.architecture).toMatchObject({
        arch: 'custom',
        embedDim: 32,
        depth: 2,
        numHeads: 2,
        mlpHiddenDim: 128,
        patchSize: 8,
        numFrames: 4,
        imageHeight: 16,
        numClasses: 5,
        layerNormEps: 1e-12,
        fcNormEps: 1e-5,
      });
      expect(folder.manifest.preprocessing).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], shortSide: 20, cropSize: 16 });
      expect(folder.manifest.provenance.checkpoint).toMatchObject({
        file: weights,
        format: 'hf',
        kind: 'finetune',
        dtypes: [weights.endsWith('.bin') ? 'float32' : 'F32'],
      });
    });
  }

  it('without preprocessor_config.json takes the defaults (ImageNet, short side = input size)', async () => {
    const out = await importFolder(variant('classify', { 'preprocessor_config.json': null }), { finish: async () => {} });
    expect(readModelFolder(out).manifest.preprocessing).toEqual({
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      shortSide: 16,
      cropSize: 16,
    });
  });
});

describe('config variants', () => {
  it('qkv_bias false: no q_bias / v_bias stored, zero biases in the graph', async () => {
    const weights = readSafetensors(join(FIXTURES, 'classify', 'model.safetensors')).tensors;
    for (const name of [...weights.keys()]) if (/attention\.attention\.[qv]_bias$/.test(name)) weights.delete(name);
    const dir = editConfig(
      'classify',
      (c) => {
        c.qkv_bias = false;
      },
      { 'pytorch_model.bin': null },
    );
    writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
    const out = await importFolder(dir, { finish: async () => {} });
    const imported = readSafetensors(join(out, 'weights.safetensors')).tensors;
    expect(Array.from(imported.get('blocks.1.attn.q_bias')!.data).every((v) => v === 0)).toBe(true);
    expect(Array.from(imported.get('blocks.0.attn.v_bias')!.data).every((v) => v === 0)).toBe(true);
    expect(readModelFolder(out).manifest.provenance.note).toContain('blocks.0.attn.q_bias');
  });

  it('a stored qkv that does not stack (key narrower than query) is refused', async () => {
    const weights = readSafetensors(join(FIXTURES, 'classify', 'model.safetensors')).tensors;
    weights.set('videomae.encoder.layer.0.attention.attention.key.weight', { shape: [32, 16], data: new Float32Array(512) });
    const dir = variant('classify', { 'pytorch_model.bin': null });
    writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
    await expect(importHfFolder({ dir, out: join(work, 'unstackable') })).rejects.toThrow(
      /query\/key\/value weights of blocks\.0 .* cannot be stacked/,
    );
  });
});

describe('VideoMAEForPreTraining imports as an encoder', () => {
  it('drops the decoder and the final layernorm, starts fc_norm at unit gain', async () => {
    const out = await importFolder(join(FIXTURES, 'pretrain'));
    const outputs = await run(out);
    expect(outputs.logits).toBeUndefined();
    expect(maxAbsDiff(outputs.features!.data as Float32Array, io.get('features_pretrain')!.data)).toBeLessThanOrEqual(1e-4);
    const manifest = readModelFolder(out).manifest;
    expect(manifest.architecture.numClasses).toBe(0);
    expect(manifest.labels).toBeUndefined();
    expect(manifest.provenance.checkpoint).toMatchObject({ kind: 'pretrain', droppedKeys: 21 });
    // decoder: one layer of 13 official tensors + norm 2 + head 2; encoder_to_decoder, mask_token; the encoder's layernorm 2
  });

  it("--pretrain keeps the decoder with config.json's decoder heads", async () => {
    const out = await importFolder(join(FIXTURES, 'pretrain'), { pretrain: true, finish: async () => {} });
    expect(readModelFolder(out).architecture.decoder).toEqual({ embedDim: 16, depth: 1, numHeads: 2, mlpHiddenDim: 64 });
    expect(readSafetensors(join(out, 'weights.safetensors')).tensors.get('decoder.blocks.0.attn.qkv.weight')!.shape).toEqual([48, 16]);
  });
});

describe('refusals name the file and the field, and leave nothing behind', () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ['no config.json', () => variant('classify', { 'config.json': null }), /invalid_checkpoint.*has no config\.json/],
    ['config.json not JSON', () => variant('classify', { 'config.json': '{"model_type": ' }), /config\.json' is not valid JSON/],
    [
      'another model type',
      () =>
        editConfig('classify', (c) => {
          c.model_type = 'vit';
        }),
      /model_type "vit"; only transformers' 'videomae'/,
    ],
    [
      'a tanh GELU',
      () =>
        editConfig('classify', (c) => {
          c.hidden_act = 'gelu_new';
        }),
      /hidden_act "gelu_new"/,
    ],
    [
      'a config of another size',
      () =>
        editConfig('classify', (c) => {
          c.hidden_size = 64;
        }),
      /state_dict_mismatch|does not match/,
    ],
    [
      'a negative depth',
      () =>
        editConfig('classify', (c) => {
          c.num_hidden_layers = -2;
        }),
      /num_hidden_layers -2; it must be a positive integer/,
    ],
    [
      'id2label of another length',
      () =>
        editConfig('classify', (c) => {
          c.id2label = { 0: 'a', 1: 'b' };
        }),
      /classifier of 5 classes but config\.json's id2label names 2/,
    ],
    [
      'token-0 classification',
      () =>
        editConfig('classify', (c) => {
          c.use_mean_pooling = false;
        }),
      /unsupported_checkpoint|use_mean_pooling false/,
    ],
    [
      'no weights',
      () => variant('classify', { 'model.safetensors': null, 'pytorch_model.bin': null }),
      /has neither model\.safetensors nor pytorch_model\.bin/,
    ],
    [
      'a crop that is not the input size',
      () =>
        variant('classify', {
          'preprocessor_config.json': JSON.stringify({ crop_size: { height: 224, width: 224 }, size: { shortest_edge: 224 } }),
        }),
      /crop_size .* but the model takes 16x16/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(name, async () => {
      const dir = make();
      const out = join(work, `refused-${counter++}`);
      const error = await importHfFolder({ dir, out }).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(error, name).toBeDefined();
      expect(`${error!.code}: ${error!.message}`).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expectNoLeftovers();
    });
  }

  it('a failing export leaves no folder', async () => {
    const out = join(work, 'failing-finish');
    await expect(
      importHfFolder({
        dir: join(FIXTURES, 'classify'),
        out,
        finish: async () => {
          throw new Error('export failed');
        },
      }),
    ).rejects.toThrow('export failed');
    expect(existsSync(out)).toBe(false);
    expectNoLeftovers();
  });
});

describe('videomae import-checkpoint --format hf (the CLI)', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts'), ...args], {
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('imports and exports, without --arch', () => {
    const out = join(work, 'cli-hf');
    const result = cli(['import-checkpoint', join(FIXTURES, 'classify'), '--format', 'hf', '--out', out]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /imported .*classify -> .*cli-hf: finetune custom \(depth 2, width 32, 5 classes, labels from id2label\) from model\.safetensors, 32 tensors, .*model\.onnx/,
    );
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  });

  it('exits 2 with the code for a folder without config.json; a .pth still needs --arch', () => {
    const refused = cli([
      'import-checkpoint',
      variant('classify', { 'config.json': null }),
      '--format',
      'hf',
      '--out',
      join(work, 'cli-refused'),
    ]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/videomae: invalid_checkpoint: checkpoint '.*' has no config\.json/);
    expect(existsSync(join(work, 'cli-refused'))).toBe(false);
    const noArch = cli([
      'import-checkpoint',
      join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'finetune-module.pth'),
      '--out',
      join(work, 'cli-no-arch'),
    ]);
    expect(noArch.status).toBe(2);
    expect(noArch.stderr).toMatch(/missing_parameter: --arch is required for a \.pth checkpoint .*vit_small_patch16_224/);
  });
});
