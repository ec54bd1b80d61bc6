/**
 * The typed tensor that crosses room boundaries (and worker threads): element type, dims, data.
 * Plain data only, so it can be posted to a worker with its buffer transferred.
 */

export interface Float32Tensor {
  readonly type: 'float32';
  /** Documented at each producer, e.g. `[B, 3, T, H, W]`. */
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): Float32Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${count}`);
  }
  return { type: 'float32', dims: [...dims], data };
}

/** Index inputs (RoiAlign's batch indices). */
export interface Int64Tensor {
  readonly type: 'int64';
  readonly dims: readonly number[];
  readonly data: BigInt64Array;
}

export function int64Tensor(values: readonly number[], dims: readonly number[] = [values.length]): Int64Tensor {
  return { type: 'int64', dims: [...dims], data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

export type TensorFeeds = Record<string, Float32Tensor | Int64Tensor>;
