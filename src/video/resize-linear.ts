/**
 * Bilinear resize of interleaved 8-bit images with the arithmetic of OpenCV's
 * `cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)`, which the official VideoMAE V2
 * test loaders apply to every decoded frame: half-pixel centres, no antialiasing when shrinking,
 * 11-bit fixed-point weights, a horizontal pass into 32-bit sums and a vertical pass that drops 4
 * and 16 bits before rounding (the 8-bit path of imgproc's resize, SIMD and scalar alike).
 *
 * Pure: typed arrays in, typed arrays out. The index and weight tables depend only on the two
 * sizes, so a decoder builds them once (`linearResizeTables`) and reuses them for every frame.
 */
import type { Size } from './geometry.js';

/** OpenCV's INTER_RESIZE_COEF_BITS: weights are integers summing to 2^11. */
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

export interface LinearResizeTables {
  readonly from: Size;
  readonly to: Size;
  readonly channels: number;
  /**
   * `[to.width, 2]`: element offsets, within a source row, of the left and right source pixels
   * of each output column (equal where the column is clamped to a border).
   */
  readonly xOffsets: Int32Array;
  /** `[to.width, 2]`: their weights (sum 2048). */
  readonly xWeights: Int32Array;
  /** `[to.height, 2]`: the upper and lower source rows of each output row, clamped to the image. */
  readonly yRows: Int32Array;
  /** `[to.height, 2]`: their weights (not clamped, as OpenCV: at a border both rows are the same). */
  readonly yWeights: Int32Array;
}

/** saturate_cast<short>(float): round half to even (cvRound), within short's range. */
function fixedWeight(weight: number): number {
  const scaled = weight * COEF_SCALE; // exact: a power of two times a float
  let rounded = Math.round(scaled);
  if (rounded - scaled === 0.5 && rounded % 2 !== 0) rounded -= 1;
  return Math.max(-32768, Math.min(32767, rounded));
}

/**
 * The source coordinate of output index `d` and its fractional part as OpenCV computes them: the
 * position in double, `(d + 0.5) * scale - 0.5` with `scale = 1 / (to / from)`, then in float.
 */
function sourcePosition(d: number, scale: number): { index: number; fraction: number } {
  const position = Math.fround((d + 0.5) * scale - 0.5);
  const index = Math.floor(position);
  return { index, fraction: Math.fround(position - index) };
}

/**
 * Index and weight tables for resizing `from` to `to`.
 *
 * @example
 * const tables = linearResizeTables({ width: 768, height: 576 }, { width: 298, height: 224 });
 * const small = resizeLinear(frame, tables); // 298 * 224 * 3 bytes
 */
export function linearResizeTables(from: Size, to: Size, channels = 3): LinearResizeTables {
  for (const [name, size] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!(Number.isInteger(size.width) && Number.isInteger(size.height) && size.width > 0 && size.height > 0)) {
      throw new RangeError(`resize '${name}' must be a positive integer size, got ${size.width}x${size.height}`);
    }
  }
  if (!(Number.isInteger(channels) && channels > 0)) throw new RangeError(`resize 'channels' must be a positive integer, got ${channels}`);

  const xOffsets = new Int32Array(2 * to.width);
  const xWeights = new Int32Array(2 * to.width);
  const scaleX = 1 / (to.width / from.width);
  for (let dx = 0; dx < to.width; dx++) {
    let { index, fraction } = sourcePosition(dx, scaleX);
    // Columns left of the first or right of the last source pixel copy that pixel.
    if (index < 0) {
      index = 0;
      fraction = 0;
    }
    if (index >= from.width - 1) {
      index = from.width - 1;
      fraction = 0;
    }
    xOffsets[2 * dx] = index * channels;
    xOffsets[2 * dx + 1] = Math.min(index + 1, from.width - 1) * channels;
    xWeights[2 * dx] = fixedWeight(Math.fround(1 - fraction));
    xWeights[2 * dx + 1] = fixedWeight(fraction);
  }

  const yRows = new Int32Array(2 * to.height);
  const yWeights = new Int32Array(2 * to.height);
  const scaleY = 1 / (to.height / from.height);
  const clampRow = (y: number): number => Math.max(0, Math.min(from.height - 1, y));
  for (let dy = 0; dy < to.height; dy++) {
    const { index, fraction } = sourcePosition(dy, scaleY);
    yRows[2 * dy] = clampRow(index);
    yRows[2 * dy + 1] = clampRow(index + 1);
    yWeights[2 * dy] = fixedWeight(Math.fround(1 - fraction));
    yWeights[2 * dy + 1] = fixedWeight(fraction);
  }
  return { from, to, channels, xOffsets, xWeights, yRows, yWeights };
}

/** One source row through the horizontal pass: 2048-scaled sums, `to.width * channels` of them. */
function horizontalPass(src: Uint8Array, row: number, t: LinearResizeTables, out: Int32Array): void {
  const { xOffsets, xWeights, channels } = t;
  const base = row * t.from.width * channels;
  const width = t.to.width;
  if (channels === 3) {
    for (let dx = 0, o = 0; dx < width; dx++, o += 3) {
      const left = base + xOffsets[2 * dx]!;
      const right = base + xOffsets[2 * dx + 1]!;
      const a0 = xWeights[2 * dx]!;
      const a1 = xWeights[2 * dx + 1]!;
      out[o] = src[left]! * a0 + src[right]! * a1;
      out[o + 1] = src[left + 1]! * a0 + src[right + 1]! * a1;
      out[o + 2] = src[left + 2]! * a0 + src[right + 2]! * a1;
    }
    return;
  }
  for (let dx = 0, o = 0; dx < width; dx++) {
    const left = base + xOffsets[2 * dx]!;
    const right = base + xOffsets[2 * dx + 1]!;
    const a0 = xWeights[2 * dx]!;
    const a1 = xWeights[2 * dx + 1]!;
    for (let c = 0; c < channels; c++, o++) out[o] = src[left + c]! * a0 + src[right + c]! * a1;
  }
}

/**
 * Resizes one interleaved 8-bit image (`from.height` rows of `from.width * channels` bytes) with
 * the tables' sizes; writes into `out` when given (`to.width * to.height * channels` bytes).
 *
 * Two schedules of the same arithmetic: when shrinking (or keeping) the height, a source row
 * feeds at most two output rows, so each output value computes its two horizontal sums on the
 * spot (no row buffers); when enlarging it, each source row's horizontal pass is kept in one of
 * two row buffers and reused by every output row that needs it, as OpenCV does.
 */
export function resizeLinear(src: Uint8Array, tables: LinearResizeTables, out?: Uint8Array): Uint8Array {
  const { from, to, channels } = tables;
  if (src.length !== from.width * from.height * channels) {
    throw new RangeError(`resize 'src' must hold ${from.width}x${from.height}x${channels} bytes, got ${src.length}`);
  }
  const dst = out ?? new Uint8Array(to.width * to.height * channels);
  if (dst.length !== to.width * to.height * channels) {
    throw new RangeError(`resize 'out' must hold ${to.width}x${to.height}x${channels} bytes, got ${dst.length}`);
  }
  if (channels === 3 && to.height <= from.height) resizeFused3(src, tables, dst);
  else resizeBuffered(src, tables, dst);
  return dst;
}

/*
 * Both schedules end in OpenCV's vertical step for 8 bits (VResizeLinear<uchar> and its SIMD
 * twin): with S0, S1 the horizontal sums of the two rows,
 *   ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16), plus 2, >> 2.
 */

function resizeFused3(src: Uint8Array, t: LinearResizeTables, dst: Uint8Array): void {
  const { xOffsets, xWeights, yRows, yWeights } = t;
  const srcRow = t.from.width * 3;
  const width = t.to.width;
  const height = t.to.height;
  let o = 0;
  for (let dy = 0; dy < height; dy++) {
    const p0 = yRows[2 * dy]! * srcRow;
    const p1 = yRows[2 * dy + 1]! * srcRow;
    const b0 = yWeights[2 * dy]!;
    const b1 = yWeights[2 * dy + 1]!;
    for (let dx = 0; dx < width; dx++, o += 3) {
      const l = xOffsets[2 * dx]!;
      const r = xOffsets[2 * dx + 1]!;
      const a0 = xWeights[2 * dx]!;
      const a1 = xWeights[2 * dx + 1]!;
      const l0 = p0 + l,
        r0 = p0 + r,
        l1 = p1 + l,
        r1 = p1 + r;
      dst[o] = (((b0 * ((src[l0]! * a0 + src[r0]! * a1) >> 4)) >> 16) + ((b1 * ((src[l1]! * a0 + src[r1]! * a1) >> 4)) >> 16) + 2) >> 2;
      dst[o + 1] =
        (((b0 * ((src[l0 + 1]! * a0 + src[r0 + 1]! * a1) >> 4)) >> 16) +
          ((b1 * ((src[l1 + 1]! * a0 + src[r1 + 1]! * a1) >> 4)) >> 16) +
          2) >>
        2;
      dst[o + 2] =
        (((b0 * ((src[l0 + 2]! * a0 + src[r0 + 2]! * a1) >> 4)) >> 16) +
          ((b1 * ((src[l1 + 2]! * a0 + src[r1 + 2]! * a1) >> 4)) >> 16) +
          2) >>
        2;
    }
  }
}

function resizeBuffered(src: Uint8Array, tables: LinearResizeTables, dst: Uint8Array): void {
  const { to, channels, yRows, yWeights } = tables;
  const rowLength = to.width * channels;
  const buffers = [new Int32Array(rowLength), new Int32Array(rowLength)];
  const held = [-1, -1];
  /** The buffer holding source row `row` after the horizontal pass, never the one holding `keep`. */
  const rowBuffer = (row: number, keep: number): Int32Array => {
    if (held[0] === row) return buffers[0]!;
    if (held[1] === row) return buffers[1]!;
    const slot = held[0] === keep ? 1 : 0;
    horizontalPass(src, row, tables, buffers[slot]!);
    held[slot] = row;
    return buffers[slot]!;
  };
  for (let dy = 0; dy < to.height; dy++) {
    const upper = yRows[2 * dy]!;
    const lower = yRows[2 * dy + 1]!;
    const s0 = rowBuffer(upper, lower);
    const s1 = rowBuffer(lower, upper);
    const b0 = yWeights[2 * dy]!;
    const b1 = yWeights[2 * dy + 1]!;
    const o = dy * rowLength;
    for (let x = 0; x < rowLength; x++) {
      dst[o + x] = (((b0 * (s0[x]! >> 4)) >> 16) + ((b1 * (s1[x]! >> 4)) >> 16) + 2) >> 2;
    }
  }
}
