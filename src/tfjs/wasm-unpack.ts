/**
 * A replacement for the wasm backend's Unpack (tf.unstack) kernel. The stock kernel slices each
 * output with `backend.readSync`, which copies the whole input out of the wasm heap once per
 * output: unstacking the 32 attention matrices of a patch-8 step copies 32 x 8 MB to take 8 MB.
 * Along axis 0 every output is a contiguous run of the input, so this one copies each run once,
 * straight from heap to heap. Other axes and strings keep the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let stock: tf.KernelConfig | undefined;

export function installFastUnpack(): void {
  if (stock) return;
  const original = tf.getKernel('Unpack', 'wasm');
  if (!original) return;
  stock = original;
  const kernelFunc: tf.KernelFunc = (args) => {
    const value = args.inputs.value as tf.TensorInfo;
    const rank = value.shape.length;
    const axis = (args.attrs as { axis: number }).axis;
    if ((axis < 0 ? axis + rank : axis) !== 0 || value.dtype === 'string') return original.kernelFunc(args);
    const backend = args.backend as unknown as HeapBackend;
    const outShape = value.shape.slice(1);
    const length = outShape.reduce((p, d) => p * d, 1);
    // Allocate first: makeOutput can grow the heap, which detaches views taken before it.
    const outs = Array.from({ length: value.shape[0]! }, () => backend.makeOutput(outShape, value.dtype));
    const source = backend.typedArrayFromHeap(value);
    outs.forEach((out, i) => backend.typedArrayFromHeap(out).set(source.subarray(i * length, (i + 1) * length)));
    return outs;
  };
  tf.unregisterKernel('Unpack', 'wasm');
  tf.registerKernel({ kernelName: 'Unpack', backendName: 'wasm', kernelFunc });
}

/** Puts the stock kernel back (`npm run bench:train` measures both in the same run). */
export function useStockUnpack(): void {
  if (!stock) return;
  tf.unregisterKernel('Unpack', 'wasm');
  tf.registerKernel(stock);
  stock = undefined;
}
