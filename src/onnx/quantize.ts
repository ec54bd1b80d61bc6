/**
 * Symmetric per-output-channel int8 weights for the int8 export: pure functions on typed arrays.
 * Symmetric (zero point 0) so MatMulInteger needs no weight offset term; per channel because one
 * scale for a whole matrix lets a single large column crush the resolution of all the others.
 */

/** Int8 values and one scale per column: w[r, c] ~= values[r, c] * scales[c]. */
export interface QuantizedMatrix {
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/** 127, not 128: a symmetric range keeps -w and w the same distance from zero. */
export const INT8_MAX = 127;

/**
 * Quantizes a row-major [rows, cols] matrix (a MatMul weight [in, out]) per column (output
 * channel): scale = max|w| / 127, value = round(w / scale). An all-zero column gets scale 1.
 */
export function quantizePerColumn(matrix: Float32Array, rows: number, cols: number): QuantizedMatrix {
  if (matrix.length !== rows * cols) throw new Error(`matrix has ${matrix.length} values, not ${rows} x ${cols}`);
  const maxAbs = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(matrix[row + c]!));
  }
  const scales = maxAbs.map((m) => (m > 0 ? m / INT8_MAX : 1));
  const values = new Int8Array(matrix.length);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) {
      const q = Math.round(matrix[row + c]! / scales[c]!);
      values[row + c] = Math.max(-INT8_MAX, Math.min(INT8_MAX, q));
    }
  }
  return { values, scales };
}

/** values * scales back to float32 (what the int8 graph multiplies with). */
export function dequantizePerColumn(q: QuantizedMatrix, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = q.values[r * cols + c]! * q.scales[c]!;
  }
  return out;
}
