/**
 * The fixed positional embedding of VideoMAE (get_sinusoid_encoding_table in the official code):
 * a 1-D sinusoid over the flattened token index, never stored in checkpoints.
 *   angle(n, j) = n / 10000^(2 * floor(j / 2) / D);  even j -> sin, odd j -> cos
 */

/**
 * Returns the table as float32 `[N, D]`, computed in float64 like the numpy reference.
 *
 * @example
 * sinusoidTable(2, 4) // -> [0, 1, 0, 1,  sin(1), cos(1), sin(0.01), cos(0.01)]
 */
export function sinusoidTable(numPositions: number, dim: number): Float32Array {
  const table = new Float32Array(numPositions * dim);
  const denominator = new Float64Array(dim);
  for (let j = 0; j < dim; j++) denominator[j] = 10000 ** ((2 * Math.floor(j / 2)) / dim);
  for (let n = 0; n < numPositions; n++) {
    const row = n * dim;
    for (let j = 0; j < dim; j++) {
      const angle = n / denominator[j]!;
      table[row + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}
