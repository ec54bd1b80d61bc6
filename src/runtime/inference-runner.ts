/**
 * The interface every model consumer uses; the implementation (worker-runner.ts) keeps ONNX
 * Runtime in a worker thread so that the event loop never waits on a model.
 */
import type { Float32Tensor, TensorFeeds } from './tensor.js';

export type DeviceRequest = 'auto' | 'cuda' | 'cpu';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface RunnerOptions {
  readonly device: DeviceRequest;
  /** Threads for one ONNX Runtime run (intra-op); defaults to the machine's parallelism. */
  readonly threads?: number;
}

export interface SessionInfo {
  readonly provider: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface RunOptions {
  /**
   * Hand the input buffers over to the worker instead of copying them (a copy of a batch of
   * 16x224x224 clips blocks the event loop for tens of milliseconds). The caller's arrays are
   * detached; the same buffers come back in RunResult.inputs for reuse.
   */
  readonly transferInputs?: boolean;
}

export interface RunResult {
  readonly outputs: Record<string, Float32Tensor>;
  /** The transferred inputs, handed back after the run (only with transferInputs). */
  readonly inputs?: TensorFeeds;
}

export interface InferenceRunner extends SessionInfo {
  /** Runs the model; only the named outputs are computed and returned. */
  run(feeds: TensorFeeds, outputs: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Runs queued or executing on this runner right now. */
  readonly pending: number;
  close(): Promise<void>;
}
