/**
 * NumPy's .npy format for float32 matrices, the format ActionFormer's feature loaders read:
 * "\x93NUMPY", version 1.0, a little-endian u16 header length, a Python-dict header padded with
 * spaces to a 64-byte boundary and ended by "\n", then the C-order data.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { writeFileAtomically } from './atomic-file.js';
import { ServiceError } from '../errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** Writes `[rows, cols]` float32 atomically (temp file, then rename). */
export function writeNpy(file: string, data: Float32Array, shape: readonly number[]): void {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`writeNpy: ${data.length} values for shape [${shape.join(', ')}]`);
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix);
  prefix[6] = 1; // version 1.0
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  writeFileAtomically(file, (fd) => {
    writeSync(fd, prefix);
    writeSync(fd, Buffer.from(header, 'latin1'));
    writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}

/** Bytes before the data of a .npy file (magic, version, header); undefined when it is not one. */
export function npyDataOffset(file: string): number | undefined {
  const head = Buffer.alloc(12);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 10 || !head.subarray(0, 6).equals(MAGIC)) return undefined;
  return head[6] === 1 ? 10 + head.readUInt16LE(8) : n === 12 ? 12 + head.readUInt32LE(8) : undefined;
}

/** Reads a little-endian float32 (or float64, narrowed) C-order array. */
export function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const bytes = readFileSync(file);
  const fail = (reason: string): never => {
    throw new ServiceError(400, 'invalid_feature_file', `feature file '${file}' ${reason}`, { parameter: 'file' });
  };
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) fail('is not a .npy file');
  const major = bytes[6]!;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) fail('has an unreadable header');
  if (fortran === 'True') fail('is in Fortran order; save it C-ordered');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + headerLength);
  let data: Float32Array;
  if (descr === '<f4') {
    if (body.length < count * 4) fail(`holds ${body.length} bytes for shape [${shape.join(', ')}]`);
    data = new Float32Array(count);
    new Uint8Array(data.buffer).set(body.subarray(0, count * 4));
  } else if (descr === '<f8') {
    if (body.length < count * 8) fail(`holds ${body.length} bytes for shape [${shape.join(', ')}]`);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = body.readDoubleLE(8 * i);
  } else {
    return fail(`stores ${descr}; only little-endian float32 or float64 are read`);
  }
  return { data, shape };
}
