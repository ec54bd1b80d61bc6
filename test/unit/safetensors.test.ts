import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bfloat16ToFloat32, float16ToFloat32, readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rawFile(header: object, data: Buffer): string {
  const text = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  const file = join(dir, `raw-${Math.random()}.safetensors`);
  writeFileSync(file, Buffer.concat([length, text, data]));
  return file;
}

describe('safetensors', () => {
  it('round-trips float32 tensors with metadata, 8-byte aligned', () => {
    const file = join(dir, 'a.safetensors');
    const tensors = new Map([
      ['a.weight', { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, -6.5) }],
      ['b', { shape: [1], data: Float32Array.of(Math.PI) }],
    ]);
    writeSafetensors(file, tensors, { format: 'pt' });
    const bytes = readFileSync(file);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    const read = readSafetensors(file);
    expect(read.metadata).toEqual({ format: 'pt' });
    expect([...read.tensors.keys()]).toEqual(['a.weight', 'b']);
    expect(read.tensors.get('a.weight')).toEqual({ shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, -6.5) });
    expect(read.tensors.get('b')!.data[0]).toBeCloseTo(Math.PI, 6);
  });

  it('widens F16 and BF16', () => {
    // 1.5 in f16 = 0x3e00, -2 in f16 = 0xc000; 1.5 in bf16 = 0x3fc0
    const data = Buffer.alloc(6);
    data.writeUInt16LE(0x3e00, 0);
    data.writeUInt16LE(0xc000, 2);
    data.writeUInt16LE(0x3fc0, 4);
    const file = rawFile(
      { h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } },
      data,
    );
    const read = readSafetensors(file).tensors;
    expect([...read.get('h')!.data]).toEqual([1.5, -2]);
    expect([...read.get('b')!.data]).toEqual([1.5]);
    expect(float16ToFloat32(0x0001)).toBeCloseTo(2 ** -24, 30);
    expect(bfloat16ToFloat32(0xbf80)).toBe(-1);
  });

  it('refuses unsupported dtypes and inconsistent offsets with a clear error', () => {
    const int = rawFile({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8));
    expect(() => readSafetensors(int)).toThrow(/'x' as I64/);
    const bad = rawFile({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }, Buffer.alloc(8));
    expect(() => readSafetensors(bad)).toThrow(/inconsistent offsets for 'x'/);
    const short = join(dir, 'short.safetensors');
    writeFileSync(short, Buffer.alloc(3));
    expect(() => readSafetensors(short)).toThrow(/too short/);
  });
});
