/**
 * `videomae import-checkpoint` as a user runs it (a child process): an official-layout checkpoint
 * becomes a folder that serves and that `train --init` continues from; refusals exit 2 with the
 * code and leave no --out. The full fine-tuning layout is checked on ONNX Runtime against PyTorch's
 * logits, the plain and the EMA weights.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { maxAbsDiff } from '../helpers/numeric.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'checkpoints');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videomae = (args: string[]) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 180_000 });
const TINY = [
  '--arch',
  'vit_small_patch16_224',
  '--depth',
  '2',
  '--embed-dim',
  '32',
  '--num-heads',
  '2',
  '--patch-size',
  '8',
  '--num-frames',
  '4',
  '--img-size',
  '16',
];

const dir = mkdtempSync(join(tmpdir(), 'videomae-import-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The imported model.onnx's logits on the fixture input, against PyTorch's `expected` logits. */
async function logitsDiff(folder: string, expected: string): Promise<number> {
  const io = readSafetensors(join(fixtures, 'io.safetensors')).tensors;
  const video = io.get('video')!;
  const session = await ort.InferenceSession.create(join(folder, 'model.onnx'));
  try {
    const { logits } = await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
    expect(logits!.dims).toEqual(io.get(expected)!.shape);
    return maxAbsDiff(logits!.data as Float32Array, io.get(expected)!.data);
  } finally {
    await session.release();
  }
}

describe('videomae import-checkpoint', () => {
  it("a full run_class_finetuning checkpoint: 'model' by default, the EMA weights with --state-dict-key model_ema", async () => {
    const plain = join(dir, 'full');
    const result = videomae(['import-checkpoint', join(fixtures, 'finetune-full.pth'), ...TINY, '--out', plain]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("the state dict under 'model' (--state-dict-key picks another)");
    expect(await logitsDiff(plain, 'logits')).toBeLessThanOrEqual(1e-4);

    const ema = join(dir, 'full-ema');
    const picked = videomae([
      'import-checkpoint',
      join(fixtures, 'finetune-full.pth'),
      ...TINY,
      '--state-dict-key',
      'model_ema',
      '--out',
      ema,
    ]);
    expect(picked.status, picked.stderr).toBe(0);
    expect(await logitsDiff(ema, 'logits_ema')).toBeLessThanOrEqual(1e-4);
    expect(readModelFolder(ema).manifest.provenance.checkpoint).toMatchObject({ file: 'finetune-full.pth', container: 'model_ema' });

    const wrong = join(dir, 'full-wrong');
    const refused = videomae([
      'import-checkpoint',
      join(fixtures, 'finetune-full.pth'),
      ...TINY,
      '--state-dict-key',
      'ema',
      '--out',
      wrong,
    ]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /state_dict_mismatch: .*no state dict under --state-dict-key 'ema': the keys that hold tensors are 'model', 'model_ema'/,
    );
    expect(existsSync(wrong)).toBe(false);
  });

  it('names --state-dict-key in its help', () => {
    const result = videomae(['import-checkpoint', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/--state-dict-key <key>\s+top-level key holding the weights, e\.g\.\s+model_ema/);
  });

  it('imports the legacy (pre-1.6) format', async () => {
    const out = join(dir, 'legacy');
    const result = videomae(['import-checkpoint', join(fixtures, 'legacy.pth'), ...TINY, '--out', out]);
    expect(result.status, result.stderr).toBe(0);
    expect(await logitsDiff(out, 'logits')).toBeLessThanOrEqual(1e-4);
  });

  it('imports, exports and reports what it did', () => {
    const out = join(dir, 'k400');
    const result = videomae([
      'import-checkpoint',
      join(fixtures, 'finetune-module.pth'),
      ...TINY,
      '--head-map',
      '710to400',
      '--fp16',
      '--out',
      out,
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /imported .*finetune-module\.pth -> .*k400: finetune vit_small_patch16_224 \(depth 2, width 32, 400 classes\), 32 tensors, 0\.\d+ M parameters, model\.onnx/,
    );
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
    expect(readModelFolder(out).manifest.provenance.checkpoint).toMatchObject({ headMap: '710to400', storedAs: 'float16' });
  });

  it('exits 2 with the error code for a hostile file and writes nothing', () => {
    const out = join(dir, 'hostile');
    const result = videomae(['import-checkpoint', join(fixtures, 'hostile-global.pth'), ...TINY, '--out', out]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /videomae: unsafe_checkpoint: checkpoint '.*hostile-global\.pth' names the Python global 'posix\.system'/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('requires --arch and offers the official names', () => {
    const result = videomae(['import-checkpoint', join(fixtures, 'finetune-module.pth'), '--out', join(dir, 'x'), '--arch', 'vit_tiny']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/vit_small_patch16_224.*vit_giant_patch14_224/s);
  });

  it('--pretrain keeps the decoder, and train --init continues pretraining from it', () => {
    const imported = join(dir, 'pretrained');
    const result = videomae([
      'import-checkpoint',
      join(fixtures, 'pretrain.pth'),
      ...TINY,
      '--pretrain',
      '--decoder-num-heads',
      '2',
      '--out',
      imported,
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(readModelFolder(imported).architecture.decoder).toEqual({ embedDim: 16, depth: 1, numHeads: 2, mlpHiddenDim: 64 });

    const data = join(dir, 'data');
    const made = videomae([
      'make-dataset',
      'synthetic',
      '--classes',
      'moving_left,still',
      '--videos',
      '2',
      '--size',
      '16',
      '--frames',
      '8',
      '--seed',
      '3',
      '--out',
      data,
    ]);
    expect(made.status, made.stderr).toBe(0);
    const recipe = join(dir, 'recipe.json');
    writeFileSync(
      recipe,
      JSON.stringify({
        name: 'continue',
        seed: 1,
        stages: [
          {
            stage: 'pretrain',
            out: 'continued',
            data: { train: 'data/train.csv', protocol: 'ssv2' },
            masking: { encoderRatio: 0.75, decoderRatio: 0.5 },
            optimizer: { lr: 0.001 },
            epochs: 1,
            batch: 2,
            maxSteps: 2,
            export: false,
          },
        ],
      }),
    );
    const trained = videomae(['train', recipe, '--init', imported, '--backend', 'cpu']);
    expect(trained.status, trained.stderr).toBe(0);
    const before = readSafetensors(join(imported, 'weights.safetensors')).tensors;
    const after = readSafetensors(join(dir, 'continued', 'weights.safetensors')).tensors;
    // Same parameters (decoder included), moved by two steps: it started from the import.
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const start = before.get('decoder.head.weight')!.data;
    const end = after.get('decoder.head.weight')!.data;
    const moved = end.reduce((m, v, i) => Math.max(m, Math.abs(v - start[i]!)), 0);
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(0.05);
    expect(JSON.parse(readFileSync(join(dir, 'continued', 'model.json'), 'utf8')).provenance.recipe.init).toContain('pretrained');
  });
});
