/**
 * 16-bit floats, bit-exact: IEEE binary16 (float16) and bfloat16 to and from float32. Pure
 * functions on numbers and typed arrays; the checkpoint reader, safetensors and the fp16 export
 * share them.
 */

const scratch = new DataView(new ArrayBuffer(4));

export function bfloat16ToFloat32(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float32 -> float16 bits, rounding to nearest even (as torch's .half() does); overflow -> inf. */
export function float32ToFloat16(value: number): number {
  scratch.setFloat32(0, value);
  const x = scratch.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: signed zero
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && result & 1)) result++;
    return sign | result;
  }
  const rest = mantissa & 0x1fff;
  let result = (e << 10) | (mantissa >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && result & 1)) result++; // may carry into the exponent: still right
  return sign | result;
}

/** Widens float16 bits (little-endian in `bytes`) into float32 values. */
export function float16BytesToFloat32(bytes: Uint8Array, count: number, out = new Float32Array(count)): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = halfTable();
  for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, true)]!;
  return out;
}

export function bfloat16BytesToFloat32(bytes: Uint8Array, count: number, out = new Float32Array(count)): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bits = new Uint32Array(out.buffer, out.byteOffset, count);
  for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  return out;
}

/** float32 values -> float16 bits. */
export function float32ArrayToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16(values[i]!);
  return out;
}

/** Rounds float32 values to the nearest float16 in place (what a model.half() would hold). */
export function roundToFloat16InPlace(values: Float32Array): Float32Array {
  const table = halfTable();
  for (let i = 0; i < values.length; i++) values[i] = table[float32ToFloat16(values[i]!)]!;
  return values;
}

let cachedTable: Float32Array | undefined;

/** All 65 536 float16 values as float32: widening becomes a lookup. */
function halfTable(): Float32Array {
  if (!cachedTable) {
    cachedTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) cachedTable[bits] = float16ToFloat32(bits);
  }
  return cachedTable;
}
