/**
 * The wasm backend's replacement Unpack kernel (src/tfjs/wasm-unpack.ts): tf.unstack along axis 0
 * returns exactly the input's slices, as independent tensors, for float and int inputs, also after
 * the heap has grown under it; other axes go through the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/tfjs/backend.js';

beforeAll(async () => {
  await initBackend('wasm');
});

function ramp(shape: number[], dtype: 'float32' | 'int32'): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(
    Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i - 7 : i * 0.5 - 3)),
    shape,
    dtype,
  );
}

describe('wasm Unpack', () => {
  it('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  it.each([
    [[5, 3, 4], 'float32'],
    [[3, 2], 'int32'],
    [[4], 'float32'],
  ] as const)('unstacks %j %s along axis 0 into its slices', (shape, dtype) => {
    const x = ramp([...shape], dtype);
    const expected = x.arraySync() as unknown[];
    const parts = tf.unstack(x);
    expect(parts).toHaveLength(shape[0]);
    parts.forEach((p, i) => {
      expect(p.shape).toEqual(shape.slice(1));
      expect(p.dtype).toBe(dtype);
      expect(p.arraySync()).toEqual(expected[i]);
    });
    // the parts own their memory: disposing the input leaves them intact
    x.dispose();
    expect(parts[1]!.arraySync()).toEqual(expected[1]);
    tf.dispose(parts);
  });

  it('stays correct when the outputs grow the heap', () => {
    // 64 MiB in 8 parts: allocating the outputs forces the wasm memory to grow past its start size
    const x = tf.fill([8, 2048, 1024], 1.5);
    const parts = tf.unstack(x);
    expect(parts.map((p) => p.sum().dataSync()[0])).toEqual(Array(8).fill(1.5 * 2048 * 1024));
    tf.dispose([x, ...parts]);
  });

  it('keeps the stock kernel for other axes', () => {
    const x = ramp([2, 3, 2], 'float32');
    const expected = (x.arraySync() as number[][][]).map((plane) => plane.map((row) => row));
    const parts = tf.unstack(x, 1);
    parts.forEach((p, j) => expect(p.arraySync()).toEqual(expected.map((plane) => plane[j])));
    tf.dispose([x, ...parts]);
  });
});
