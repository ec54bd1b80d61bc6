/**
 * `videomae export --triton DIR` as a user runs it: the bundled classifier (batches) and AVA head
 * (no batch dim) become a Triton model repository whose config.pbtxt says what the ONNX graph
 * says, read back independently with ONNX Runtime, and whose model.onnx runs on a zero input of
 * the config's dims. No Triton server runs here: this checks the files, not Triton serving them.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/config/manifest.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const dir = mkdtempSync(join(tmpdir(), 'videomae-triton-'));
const repo = join(dir, 'repo');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  name: string;
  dataType: string;
  dims: number[];
}

/** The parts of config.pbtxt checked here, read from its text. */
function parseConfig(text: string) {
  const entries = (section: string): Entry[] =>
    [...section.matchAll(/\{\s*name: "([^"]+)"\s*data_type: (\w+)\s*dims: \[([^\]]*)\]/g)].map((m) => ({
      name: m[1]!,
      dataType: m[2]!,
      dims: m[3]!
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean)
        .map(Number),
    }));
  const [inputs, outputs] = text.split(/^output \[/m);
  return {
    name: /^name: "([^"]+)"/m.exec(text)?.[1],
    platform: /^platform: "([^"]+)"/m.exec(text)?.[1],
    maxBatchSize: Number(/^max_batch_size: (\d+)/m.exec(text)?.[1]),
    dynamicBatching: /^dynamic_batching \{ \}/m.test(text),
    inputs: entries(inputs!),
    outputs: entries(outputs ?? ''),
  };
}

const TRITON_OF_ORT: Record<string, string> = { float32: 'TYPE_FP32', int64: 'TYPE_INT64' };

/** ONNX Runtime's view of the graph: [name, Triton type, dims with symbolic ones as -1]. */
function ortSignature(metadata: readonly ort.InferenceSession.ValueMetadata[]): Entry[] {
  return metadata.map((m) => {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
    return { name: m.name, dataType: TRITON_OF_ORT[m.type] ?? m.type, dims: m.shape.map((d) => (typeof d === 'number' ? d : -1)) };
  });
}

beforeAll(() => {
  for (const name of ['default', 'ava']) cpSync(join(root, 'models', name), join(dir, name), { recursive: true });
  const run = spawnSync(
    process.execPath,
    [...cli, 'export', join(dir, 'default'), join(dir, 'ava'), '--triton', repo, '--triton-max-batch', '4'],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toContain(`triton: ${join(repo, 'default', 'config.pbtxt')}`);
});

describe('videomae export --triton', () => {
  it('writes the classifier with the onnxruntime platform, dynamic batching and the graph dims less the batch dim', async () => {
    const config = parseConfig(readFileSync(join(repo, 'default', 'config.pbtxt'), 'utf8'));
    expect(config).toMatchObject({ name: 'default', platform: 'onnxruntime_onnx', maxBatchSize: 4, dynamicBatching: true });
    expect(existsSync(join(repo, 'default', '1', 'model.onnx.data'))).toBe(false);

    const session = await ort.InferenceSession.create(join(repo, 'default', '1', 'model.onnx'));
    try {
      const inputs = ortSignature(session.inputMetadata);
      const outputs = ortSignature(session.outputMetadata);
      expect(inputs.map((t) => t.dims[0])).toEqual(inputs.map(() => -1));
      const lessBatch = (ts: Entry[]) => ts.map((t) => ({ ...t, dims: t.dims.slice(1) }));
      expect(config.inputs).toEqual(lessBatch(inputs));
      expect(config.outputs).toEqual(lessBatch(outputs));
      expect(config.inputs).toEqual([{ name: 'video', dataType: 'TYPE_FP32', dims: [3, 8, -1, -1] }]);

      // A batch of 2 zero clips at the model's own size, through the copied model.onnx.
      const { imageHeight, imageWidth } = readModelFolder(join(dir, 'default')).architecture;
      const free = [imageHeight, imageWidth];
      const shape = [2, ...config.inputs[0]!.dims.map((d) => (d === -1 ? free.shift()! : d))];
      const size = shape.reduce((a, b) => a * b, 1);
      const result = await session.run({ video: new ort.Tensor('float32', new Float32Array(size), shape) });
      for (const output of config.outputs) {
        const dims = result[output.name]!.dims;
        expect(dims[0]).toBe(2);
        output.dims.forEach((d, i) => d === -1 || expect(dims[i + 1]).toBe(d));
        expect([...(result[output.name]!.data as Float32Array)].every(Number.isFinite)).toBe(true);
      }
    } finally {
      await session.release();
    }
  });

  it('copies external data beside the model, where ONNX Runtime finds it', async () => {
    const folder = join(dir, 'external', 'default-external');
    cpSync(join(root, 'models', 'default'), folder, { recursive: true });
    const external = join(dir, 'repo-external');
    const run = spawnSync(process.execPath, [...cli, 'export', folder, '--external-data-threshold', '1', '--triton', external], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status).toBe(0);
    const copied = join(external, 'default-external', '1');
    expect(readFileSync(join(copied, 'model.onnx.data')).equals(readFileSync(join(folder, 'model.onnx.data')))).toBe(true);
    expect(readFileSync(join(external, 'default-external', 'config.pbtxt'), 'utf8')).toMatch(/^name: "default-external"$/m);
    rmSync(folder, { recursive: true });
    const session = await ort.InferenceSession.create(join(copied, 'model.onnx'));
    try {
      const { logits } = await session.run({ video: new ort.Tensor('float32', new Float32Array(3 * 8 * 64 * 64), [1, 3, 8, 64, 64]) });
      expect(logits!.dims).toEqual([1, 11]);
    } finally {
      await session.release();
    }
  });

  it('writes the AVA head, whose inputs share no batch dim, with max_batch_size 0, full dims and no dynamic batching', async () => {
    const config = parseConfig(readFileSync(join(repo, 'ava', 'config.pbtxt'), 'utf8'));
    expect(config).toMatchObject({ name: 'ava', platform: 'onnxruntime_onnx', maxBatchSize: 0, dynamicBatching: false });
    const session = await ort.InferenceSession.create(join(repo, 'ava', '1', 'model.onnx'));
    try {
      expect(config.inputs).toEqual(ortSignature(session.inputMetadata));
      expect(config.outputs).toEqual(ortSignature(session.outputMetadata));
    } finally {
      await session.release();
    }
  });
});
