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

export interface InferenceRunner extends SessionInfo {
  /** Runs the model; only the named outputs are computed and returned. */
  run(feeds: TensorFeeds, outputs: readonly string[]): Promise<Record<string, Float32Tensor>>;
  /** Runs queued or executing on this runner right now. */
  readonly pending: number;
  close(): Promise<void>;
}
