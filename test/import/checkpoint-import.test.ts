/**
 * `import-checkpoint` end to end on checkpoints PyTorch wrote (tools/make_checkpoint_fixtures.py):
 * each official layout imports, exports, and gives PyTorch's logits on ONNX Runtime; hostile files
 * are refused with a clear code and leave nothing behind; the imported folder serves.
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { createApp } from '../../src/http/app.js';
import { ServiceState } from '../../src/http/service-state.js';
import { staleExportReason } from '../../src/onnx/export-model.js';
import { exportModelFolder } from '../../src/kinds/index.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { importCheckpoint, type ImportOptions } from '../../src/weights/import-checkpoint.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { InertObject, NumpyDtype, TorchCheckpoint, TorchTensor } from '../../src/weights/torch-checkpoint.js';
import { expectMatchesSpec } from '../helpers/openapi.js';
import { maxAbsDiff } from '../helpers/numeric.js';
import { toZip64 } from '../helpers/zip64.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'checkpoints');
const LABELS = join(import.meta.dirname, '..', '..', 'models', 'labels');
const io = readSafetensors(join(FIXTURES, 'io.safetensors')).tensors;
const work = mkdtempSync(join(tmpdir(), 'videomae-import-'));
const videos = new VideoFactory();
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  videos.cleanup();
});

/** The tiny fixture's architecture, given the way a user gives a custom size. */
const TINY = {
  arch: 'vit_small_patch16_224',
  architecture: { depth: 2, embedDim: 32, numHeads: 2, patchSize: 8, numFrames: 4, imageSize: 16 },
};

let counter = 0;
async function importFixture(name: string, options: Partial<ImportOptions> = {}): Promise<string> {
  const out = join(work, `${name.replace('.pth', '')}-${counter++}`);
  await importCheckpoint({
    ...TINY,
    checkpoint: join(FIXTURES, name),
    out,
    finish: async (dir) => {
      await exportModelFolder(dir);
    },
    ...options,
  });
  return out;
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

function top5(logits: ArrayLike<number>, row: number, classes: number): number[] {
  const values = Array.from({ length: classes }, (_, i) => logits[row * classes + i]!);
  return values
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 5)
    .map(([, i]) => i);
}

/** Returns the largest difference, so a test can say what it measured. */
function expectLogits(actual: ort.Tensor, expectedName: string, pick?: number[]): number {
  const source = io.get(expectedName)!;
  let expected = source.data;
  const classes = pick ? pick.length : source.shape[1]!;
  if (pick) {
    expected = new Float32Array(2 * classes);
    for (let b = 0; b < 2; b++)
      pick.forEach((row, i) => {
        expected[b * classes + i] = source.data[b * source.shape[1]! + row]!;
      });
  }
  expect(actual.dims).toEqual([2, classes]);
  const data = actual.data as Float32Array;
  const worst = maxAbsDiff(data, expected);
  expect(worst).toBeLessThanOrEqual(1e-4);
  for (let b = 0; b < 2; b++) expect(top5(data, b, classes)).toEqual(top5(expected, b, classes));
  return worst;
}

/** An unpickled checkpoint's top level, closed again. */
function rootOf(name: string): Map<string, unknown> {
  const checkpoint = TorchCheckpoint.open(join(FIXTURES, name));
  try {
    return checkpoint.root as Map<string, unknown>;
  } finally {
    checkpoint.close();
  }
}

describe("official layouts give PyTorch's numbers on ONNX Runtime", () => {
  it("{'module': state_dict} with shared storages and strided views", async () => {
    const dir = await importFixture('finetune-module.pth');
    const outputs = await run(dir);
    expectLogits(outputs.logits!, 'logits');
    expect(maxAbsDiff(outputs.features!.data as Float32Array, io.get('features')!.data)).toBeLessThanOrEqual(1e-4);
    const folder = readModelFolder(dir);
    expect(staleExportReason(folder)).toBeUndefined();
    expect(folder.manifest.labels).toEqual({ file: 'labels.txt', set: 'k710' });
    expect(folder.manifest.provenance).toMatchObject({
      source: 'checkpoint',
      checkpoint: {
        file: 'finetune-module.pth',
        arch: 'vit_small_patch16_224',
        container: 'module',
        kind: 'finetune',
        dtypes: ['float32'],
        storedAs: 'float32',
      },
    });
    expect(folder.manifest.provenance.checkpoint!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("run_class_finetuning's save_model: model, AdamW state, scaler, Namespace args, model_ema", async () => {
    const dir = await importFixture('finetune-full.pth');
    expectLogits((await run(dir)).logits!, 'logits');
    expect(readModelFolder(dir).manifest.provenance.checkpoint).toMatchObject({ container: 'model' });
    const ema = await importFixture('finetune-full.pth', { stateDictKey: 'model_ema' });
    expectLogits((await run(ema)).logits!, 'logits_ema');
    expect(readModelFolder(ema).manifest.provenance.checkpoint).toMatchObject({ container: 'model_ema' });
  });

  it('the rest of a training checkpoint is parsed as inert records', () => {
    const root = rootOf('finetune-full.pth');
    expect([...root.keys()]).toEqual(['model', 'optimizer', 'epoch', 'scaler', 'args', 'model_ema']);
    expect(root.get('epoch')).toBe(34);
    expect(root.get('scaler')).toEqual(
      new Map<string, number>([
        ['scale', 65536],
        ['growth_factor', 2],
        ['backoff_factor', 0.5],
        ['growth_interval', 2000],
        ['_growth_tracker', 0],
      ]),
    );
    const args = root.get('args');
    expect(args).toBeInstanceOf(InertObject);
    const a = (args as InertObject).attributes;
    expect((args as InertObject).qualifiedName).toBe('argparse.Namespace');
    // numpy scalars become numbers; a numpy dtype stays a record
    expect(a.get('lr')).toBe(0.001);
    expect(a.get('seed')).toBe(0);
    expect(a.get('amp_dtype')).toBeInstanceOf(NumpyDtype);
    expect(a.get('amp_dtype')).toMatchObject({ descr: 'f2', byteorder: '<' });
    expect(a.get('opt_betas')).toEqual([0.9, 0.999]);
    expect(a.get('mean')).toEqual([0.485, 0.456, 0.406]);
    expect(Object.isFrozen(a.get('mean'))).toBe(true); // a tuple
    expect(a.get('clip_grad')).toBeNull();
    expect(a.get('model_ema')).toBe(true);
    expect(a.get('model_ema_force_cpu')).toBe(false);
    expect(a.get('opt_eps')).toBe(1e-8);
    expect(a.get('data_set')).toBe('Kinetics-710');
    // AdamW after one step: int keys, tensors per parameter, the param groups
    const optimizer = root.get('optimizer') as Map<string, Map<unknown, unknown> | unknown[]>;
    const state = optimizer.get('state') as Map<number, Map<string, unknown>>;
    expect(state.size).toBe(32);
    expect([...state.keys()].every((k) => typeof k === 'number')).toBe(true);
    expect([...state.get(0)!.keys()]).toEqual(['step', 'exp_avg', 'exp_avg_sq']);
    expect(state.get(0)!.get('exp_avg')).toBeInstanceOf(TorchTensor);
    const groups = optimizer.get('param_groups') as Map<string, unknown>[];
    expect(groups.map((g) => g.get('weight_decay'))).toEqual([0, 0.05]);
    expect(groups[0]!.get('betas')).toEqual([0.9, 0.999]);
    expect(root.get('model_ema')).toBeInstanceOf(Map);

    const timm = rootOf('finetune-timm.pth');
    expect(timm.get('metric')).toBe(71.25);
    expect(timm.get('version')).toBe(2);
    expect(timm.get('arch')).toBe('vit_small_patch16_224');
  });

  it('DeepSpeed model states: module, param_shapes of torch.Size, a set, ds_config', () => {
    const root = rootOf('finetune-module.pth');
    expect(root.get('ds_version')).toBe('0.9.0');
    expect(root.get('global_steps')).toBe(10);
    expect(root.get('optimizer')).toBeNull();
    expect(root.get('sparse_tensor_module_names')).toEqual(new Set());
    const shapes = root.get('param_shapes') as Map<string, readonly number[]>[];
    expect(shapes).toHaveLength(1);
    expect(shapes[0]!.get('head.weight')).toEqual([710, 32]);
    expect((root.get('ds_config') as Map<string, Map<string, unknown>>).get('fp16')!.get('enabled')).toBe(true);
  });

  it("timm's CheckpointSaver: state_dict with backbone. keys, state_dict_ema by --state-dict-key", async () => {
    const dir = await importFixture('finetune-timm.pth');
    expectLogits((await run(dir)).logits!, 'logits');
    expect(readModelFolder(dir).manifest.provenance.checkpoint).toMatchObject({ container: 'state_dict' });
    expectLogits((await run(await importFixture('finetune-timm.pth', { stateDictKey: 'state_dict_ema' }))).logits!, 'logits_ema');
  });

  it("nn.Parameter objects (torch._utils._rebuild_parameter) under 'model' with encoder. keys", async () => {
    expectLogits((await run(await importFixture('finetune-parameters.pth'))).logits!, 'logits');
  });

  it('the legacy (pre-1.6) format: read lazily from file offsets, the same logits', async () => {
    const checkpoint = TorchCheckpoint.open(join(FIXTURES, 'legacy.pth'));
    try {
      expect(checkpoint.format).toBe('legacy');
      expect(checkpoint.root).toBeInstanceOf(Map);
    } finally {
      checkpoint.close();
    }
    const dir = await importFixture('legacy.pth');
    expectLogits((await run(dir)).logits!, 'logits');
    expect(readModelFolder(dir).manifest.provenance.checkpoint).not.toHaveProperty('container');
  });

  it('float16 and bfloat16 storages, under state_dict with _orig_mod. and module. prefixes', async () => {
    expectLogits((await run(await importFixture('finetune-fp16.pth'))).logits!, 'logits_fp16');
    expectLogits((await run(await importFixture('finetune-bf16.pth'))).logits!, 'logits_bf16');
  });

  it('a ZIP64 directory (what torch.save writes past 4 GiB)', async () => {
    const file = join(work, 'zip64.pth');
    writeFileSync(file, toZip64(readFileSync(join(FIXTURES, 'finetune-module.pth'))));
    expectLogits(
      (
        await run(
          await importCheckpoint({
            ...TINY,
            checkpoint: file,
            out: join(work, 'zip64'),
            finish: async (dir) => {
              await exportModelFolder(dir);
            },
          }).then((r) => r.dir),
        )
      ).logits!,
      'logits',
    );
  });

  it('--head-map 710to400 keeps the official rows and the Kinetics-400 labels', async () => {
    const map = JSON.parse(readFileSync(join(LABELS, 'label_710to400.json'), 'utf8')) as number[];
    const dir = await importFixture('finetune-module.pth', { headMap: '710to400' });
    expectLogits((await run(dir)).logits!, 'logits', map);
    const folder = readModelFolder(dir);
    expect(folder.architecture.numClasses).toBe(400);
    expect(readFileSync(folder.labelsPath!, 'utf8')).toBe(readFileSync(join(LABELS, 'label_map_k400.txt'), 'utf8'));
  });

  it('--fp16 halves the files and gives the logits of half-precision weights', async () => {
    const full = await importFixture('finetune-module.pth');
    const half = await importFixture('finetune-module.pth', { fp16: true });
    expectLogits((await run(half)).logits!, 'logits_fp16');
    for (const file of ['weights.safetensors', 'model.onnx']) {
      const ratio = statSync(join(half, file)).size / statSync(join(full, file)).size;
      expect(ratio, file).toBeGreaterThan(0.45);
      expect(ratio, file).toBeLessThan(0.56);
    }
    expect(readModelFolder(half).manifest.provenance.checkpoint).toMatchObject({ storedAs: 'float16' });
  });

  it('a pretraining checkpoint: the encoder serves features; --pretrain keeps the decoder for train --init', async () => {
    const encoderOnly = await importFixture('pretrain.pth');
    const outputs = await run(encoderOnly);
    expect(outputs.logits).toBeUndefined();
    expect(maxAbsDiff(outputs.features!.data as Float32Array, io.get('features_pretrain')!.data)).toBeLessThanOrEqual(1e-4);
    expect(readModelFolder(encoderOnly).manifest.provenance.checkpoint).toMatchObject({ kind: 'pretrain', droppedKeys: 21 });

    const withDecoder = await importFixture('pretrain.pth', { pretrain: true });
    const folder = readModelFolder(withDecoder);
    expect(folder.architecture.decoder).toEqual({ embedDim: 16, depth: 1, numHeads: 1, mlpHiddenDim: 64 });
    const written = readSafetensors(folder.weightsPath).tensors;
    const checkpoint = TorchCheckpoint.open(join(FIXTURES, 'pretrain.pth'));
    try {
      const root = checkpoint.root as Map<string, unknown>;
      // DeepSpeed's layout; the rest of the file is parsed as inert data: Namespace, torch.Size, a set.
      expect(root.get('epoch')).toBe(799);
      expect((root.get('args') as InertObject).attributes.get('mask_ratio')).toBe(0.9);
      expect((root.get('param_shapes') as Map<string, unknown>[])[0]!.get('encoder.patch_embed.proj.bias')).toEqual([32]);
      expect(root.get('sparse_tensor_module_names')).toEqual(new Set(['mask_token']));
      const state = root.get('module') as Map<string, TorchTensor>;
      for (const [key, ours] of [
        ['decoder.head.weight', 'decoder.head.weight'],
        ['mask_token', 'mask_token'],
        ['encoder.norm.weight', 'norm.weight'],
        ['encoder_to_decoder.weight', 'encoder_to_decoder.weight'],
      ]) {
        expect(written.get(ours!)!.data, key).toEqual(checkpoint.readFloat32(state.get(key!)!, key!));
      }
    } finally {
      checkpoint.close();
    }
  });

  it('an imported folder serves: GET /models shows its source, POST /classify answers with its labels', async () => {
    const models = join(work, 'served');
    await importCheckpoint({
      ...TINY,
      checkpoint: join(FIXTURES, 'finetune-module.pth'),
      out: join(models, 'imported-k400'),
      headMap: '710to400',
      finish: async (dir) => {
        await exportModelFolder(dir);
      },
    });
    // An import in progress elsewhere stages a hidden folder with a model.json: not a model yet.
    cpSync(join(models, 'imported-k400'), join(models, '.other.importing-1'), { recursive: true });
    const uploads = mkdtempSync(join(work, 'uploads-'));
    const state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 2, tempDir: uploads });
    state.setRegistry(await loadModels(models, { device: 'cpu' }, 'imported-k400'));
    const server: Server = createApp(state).listen(0);
    try {
      const listed = await request(server).get('/models');
      expectMatchesSpec(listed, 'GET', '/models');
      expect(listed.body.models.map((m: { name: string }) => m.name)).toEqual(['imported-k400']);
      expect(listed.body.models[0].provenance).toMatchObject({
        source: 'checkpoint',
        checkpoint: { file: 'finetune-module.pth', headMap: '710to400' },
      });
      const answer = await request(server)
        .post('/classify?topK=3')
        .attach('video', videos.pattern('imported.mp4', 2, '64x48'));
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const k400 = readFileSync(join(LABELS, 'label_map_k400.txt'), 'utf8').split('\n');
      expectMatchesSpec(answer, 'POST', '/classify');
      expect(answer.body).toMatchObject({ model: 'imported-k400', untrained: false });
      expect(answer.body.labels).toHaveLength(3);
      for (const p of answer.body.labels) expect(k400).toContain(p.label);
    } finally {
      server.close();
      await state.registryIfLoaded?.close();
    }
  });
});

describe('hostile and wrong files are refused before anything is written', () => {
  const STATUS: Record<string, number> = { invalid_parameter: 400, output_exists: 409 };
  function expectRefused(name: string, file: string, code: string, message: RegExp, options: Partial<ImportOptions> = {}) {
    it(name, async () => {
      const out = join(work, `refused-${counter++}`);
      const before = readdirSync(work).length;
      await expect(importCheckpoint({ ...TINY, checkpoint: file, out, ...options })).rejects.toMatchObject({
        code,
        status: STATUS[code] ?? 422,
        message: expect.stringMatching(message),
      });
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(work)).toHaveLength(before); // no staging folder left either
    });
  }
  const hostile = (name: string, bytes: Buffer | Uint8Array): string => {
    const file = join(work, name);
    writeFileSync(file, bytes);
    return file;
  };
  const original = readFileSync(join(FIXTURES, 'finetune-module.pth'));

  expectRefused(
    'a truncated zip',
    hostile('truncated.pth', original.subarray(0, Math.floor(original.length * 0.6))),
    'invalid_checkpoint',
    /truncated|end-of-central-directory/,
  );
  expectRefused(
    'a zip with its middle cut out',
    hostile('cut.pth', Buffer.concat([original.subarray(0, 60_000), original.subarray(original.length - 4000)])),
    'invalid_checkpoint',
    /declares a central directory at bytes \d+\.\.\d+ of a 64000-byte file/,
  );
  expectRefused(
    'a pickle that names another global (posix.system)',
    join(FIXTURES, 'hostile-global.pth'),
    'unsafe_checkpoint',
    /names the Python global 'posix\.system'/,
  );
  expectRefused(
    'a storage too small for its tensors',
    join(FIXTURES, 'hostile-short-storage.pth'),
    'invalid_checkpoint',
    /storage '\d+' of 45440 bytes, but it declares 22720 float32 elements/,
  );
  expectRefused(
    'a shape that does not match the arch',
    join(FIXTURES, 'finetune-module.pth'),
    'state_dict_mismatch',
    /the checkpoint looks like depth 2, width 32.*wrong shapes: patch_embed\.proj\.weight \[32,3,2,8,8\] != \[384,3,2,16,16\]/s,
    { architecture: {} },
  );
  expectRefused(
    'a head of another size than --num-classes',
    join(FIXTURES, 'finetune-module.pth'),
    'state_dict_mismatch',
    /head of 710 classes, not the 400/,
    { numClasses: 400 },
  );
  expectRefused('--pretrain on a fine-tuned checkpoint', join(FIXTURES, 'finetune-module.pth'), 'state_dict_mismatch', /no decoder/, {
    pretrain: true,
  });
  for (const [file, global] of [
    ['hostile-eval.pth', 'builtins.eval'],
    ['hostile-partial.pth', 'functools.partial'],
    ['hostile-numpy-load.pth', 'numpy.load'],
    ['hostile-numpy-array.pth', 'numpy.core.multiarray._reconstruct'],
  ] as const) {
    expectRefused(
      `a pickle that names ${global}`,
      join(FIXTURES, file),
      'unsafe_checkpoint',
      new RegExp(`names the Python global '${global.replace(/\./g, '\\.')}'`),
    );
  }
  expectRefused(
    '_rebuild_tensor_v2 fed something that is not a storage',
    join(FIXTURES, 'hostile-rebuild-tensor.pth'),
    'invalid_checkpoint',
    /calls torch\._utils\._rebuild_tensor_v2 with something that is not a storage/,
  );
  expectRefused(
    '_codecs.encode with another codec than latin1',
    join(FIXTURES, 'hostile-codecs.pth'),
    'invalid_checkpoint',
    /calls _codecs\.encode with \(string, string\); only \(text, 'latin1'\) makes bytes/,
  );
  expectRefused(
    'a numpy scalar of dtype object',
    join(FIXTURES, 'hostile-numpy-scalar.pth'),
    'unsupported_checkpoint',
    /holds a numpy scalar of dtype 'O8'/,
  );
  const legacy = readFileSync(join(FIXTURES, 'legacy.pth'));
  expectRefused(
    'a legacy file cut inside its storages',
    hostile('legacy-cut.pth', legacy.subarray(0, legacy.length - 1000)),
    'invalid_checkpoint',
    /is truncated: storage '\d+' needs bytes \d+\.\.\d+ of a \d+-byte file/,
  );
  expectRefused(
    'a legacy file cut inside its pickles',
    hostile('legacy-head.pth', legacy.subarray(0, 400)),
    'invalid_checkpoint',
    /legacy torch\.save file that is truncated/,
  );
  expectRefused(
    'an unknown --state-dict-key names the keys that hold weights',
    join(FIXTURES, 'finetune-full.pth'),
    'state_dict_mismatch',
    /no state dict under --state-dict-key 'ema': the keys that hold tensors are 'model', 'model_ema' \(top-level keys: model, optimizer, epoch, scaler, args, model_ema\)/,
    { stateDictKey: 'ema' },
  );
  expectRefused('a zero-byte file', hostile('empty.pth', new Uint8Array(0)), 'invalid_checkpoint', /is empty/);
  expectRefused(
    'random bytes',
    hostile(
      'random.pth',
      Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
    ),
    'invalid_checkpoint',
    /not a zip archive/,
  );
  expectRefused(
    'labels that do not fit the head',
    join(FIXTURES, 'finetune-module.pth'),
    'invalid_parameter',
    /parameter 'labels' has 400 labels but the head has 710 classes/,
    { labels: 'k400' },
  );

  it('an existing --out is kept unless --force', async () => {
    const out = join(work, `existing-${counter++}`);
    const first = await importFixture('finetune-module.pth');
    copyFileSync(join(first, 'model.json'), join(work, 'keep.json'));
    await importCheckpoint({ ...TINY, checkpoint: join(FIXTURES, 'finetune-module.pth'), out });
    await expect(importCheckpoint({ ...TINY, checkpoint: join(FIXTURES, 'finetune-module.pth'), out })).rejects.toMatchObject({
      code: 'output_exists',
    });
    await importCheckpoint({ ...TINY, checkpoint: join(FIXTURES, 'finetune-module.pth'), out, force: true, headMap: '710to400' });
    expect(readModelFolder(out).architecture.numClasses).toBe(400);
  });
});
