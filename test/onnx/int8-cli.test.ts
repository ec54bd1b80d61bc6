/** The --int8 and --fused-attention flags as the CLI takes them: import-checkpoint passes them to the export. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { graphFormOf } from '../../src/onnx/export-model.js';
import { readModelMetadata } from '../../src/onnx/serialize.js';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videomae = (args: string[]) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 120_000 });
const TINY = ['--arch', 'vit_small_patch16_224', '--depth', '2', '--embed-dim', '32', '--num-heads', '2'];
const SIZE = ['--patch-size', '8', '--num-frames', '4', '--img-size', '16'];

const dir = mkdtempSync(join(tmpdir(), 'videomae-int8-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('videomae import-checkpoint / export --int8 --fused-attention', () => {
  it('imports a checkpoint as an int8 export, and export switches it to fused attention and back', () => {
    const out = join(dir, 'k710');
    const checkpoint = join(root, 'test', 'fixtures', 'checkpoints', 'finetune-module.pth');
    const imported = videomae(['import-checkpoint', checkpoint, ...TINY, ...SIZE, '--int8', '--out', out]);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/model\.onnx \(int8\)/);
    const model = join(out, 'model.onnx');
    expect(graphFormOf(readModelMetadata(model))).toEqual({ precision: 'int8', attention: 'plain' });

    const fused = videomae(['export', out, '--int8', '--fused-attention']);
    expect(fused.status, fused.stderr).toBe(0);
    expect(fused.stdout).toMatch(/\(int8, fused attention\)/);
    expect(graphFormOf(readModelMetadata(model))).toEqual({ precision: 'int8', attention: 'fused' });

    expect(videomae(['export', out]).status).toBe(0);
    expect(graphFormOf(readModelMetadata(model))).toEqual({ precision: 'float32', attention: 'plain' });
  });

  it('refuses --int8 for a kind other than vit', () => {
    const result = videomae(['import-checkpoint', join(dir, 'none.pth'), '--kind', 'actionformer', '--int8', '--out', join(dir, 'af')]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/--int8 applies to --kind vit only/);
  });
});
