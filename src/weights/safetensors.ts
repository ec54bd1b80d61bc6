/**
 * safetensors, read and written here (the format is small): an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}`, then
 * the raw little-endian bytes. We hold float32 in memory; F16 and BF16 are widened on read.
 */
import { closeSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { ServiceError } from '../errors.js';
import { writeFileAtomically } from './atomic-file.js';
import { bfloat16BytesToFloat32, float16BytesToFloat32, float32ArrayToFloat16 } from './half.js';
import { elementCount } from './parameters.js';

export { bfloat16ToFloat32, float16ToFloat32 } from './half.js';

export type StoredDtype = 'F32' | 'F16' | 'BF16';

export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

export interface SafetensorsFile {
  readonly tensors: TensorMap;
  /** How each tensor was stored (all come back as float32). */
  readonly dtypes: Map<string, StoredDtype>;
  readonly metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES_PER_ELEMENT: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export class WeightsFormatError extends ServiceError {
  constructor(file: string, reason: string) {
    super(422, 'invalid_weights', `weights file '${file}' ${reason}`);
  }
}

/** Reads a whole safetensors file; every tensor comes back as float32. */
export function readSafetensors(file: string): SafetensorsFile {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new WeightsFormatError(file, `is ${size} bytes, too short for a safetensors header`);
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength <= 0 || 8 + headerLength > size || headerLength > 100 * 1024 * 1024) {
      throw new WeightsFormatError(file, `declares a header of ${headerLength} bytes in a ${size}-byte file`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new WeightsFormatError(file, 'has a header that is not valid JSON');
    }
    const dataStart = 8 + headerLength;
    const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
    const tensors: TensorMap = new Map();
    const dtypes = new Map<string, StoredDtype>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const entry = raw as HeaderEntry;
      const dtype = entry.dtype as StoredDtype;
      if (!(dtype in BYTES_PER_ELEMENT)) {
        throw new WeightsFormatError(file, `stores '${name}' as ${entry.dtype}; only F32, F16 and BF16 are supported`);
      }
      const count = elementCount(entry.shape);
      const [begin, end] = entry.data_offsets;
      if (end - begin !== count * BYTES_PER_ELEMENT[dtype] || dataStart + end > size) {
        throw new WeightsFormatError(file, `has inconsistent offsets for '${name}'`);
      }
      tensors.set(name, { shape: entry.shape, data: readElements(fd, dataStart + begin, dtype, count) });
      dtypes.set(name, dtype);
    }
    return { tensors, dtypes, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Reads one tensor; float32 lands directly in the returned array (no staging copy). */
function readElements(fd: number, position: number, dtype: StoredDtype, count: number): Float32Array {
  const bytes = count * BYTES_PER_ELEMENT[dtype];
  if (dtype === 'F32') {
    const out = new Float32Array(count);
    readSync(fd, new Uint8Array(out.buffer), 0, bytes, position);
    return out;
  }
  const raw = Buffer.alloc(bytes);
  readSync(fd, raw, 0, bytes, position);
  return dtype === 'F16' ? float16BytesToFloat32(raw, count) : bfloat16BytesToFloat32(raw, count);
}

/**
 * Writes tensors as F32 (or F16, rounding to nearest even) in the given order, atomically (temp
 * file then rename), so a crash never leaves a half-written weights file where a good one was.
 */
export function writeSafetensors(
  file: string,
  tensors: TensorMap,
  metadata: Record<string, string> = {},
  dtype: 'F32' | 'F16' = 'F32',
): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const length = tensor.data.length * BYTES_PER_ELEMENT[dtype];
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let headerText = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  headerText += ' '.repeat((8 - ((Buffer.byteLength(headerText) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  writeFileAtomically(file, (fd) => {
    writeSync(fd, lengthBytes);
    writeSync(fd, headerBytes);
    for (const tensor of tensors.values()) {
      const stored = dtype === 'F16' ? float32ArrayToFloat16(tensor.data) : tensor.data;
      writeSync(fd, new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
    }
  });
}
