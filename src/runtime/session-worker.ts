/**
 * Worker thread body: owns one ONNX Runtime session and answers load/run/close messages.
 * Buffers of inputs and outputs are transferred, not copied.
 */
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { DeviceRequest, ExecutionProvider } from './inference-runner.js';
import type { Float32Tensor, TensorFeeds } from './tensor.js';

export type WorkerRequest =
  | { kind: 'load'; modelPath: string; device: DeviceRequest; threads: number }
  | { kind: 'run'; id: number; feeds: TensorFeeds; outputs: string[]; returnInputs: boolean }
  | { kind: 'close' };

export type WorkerResponse =
  | { kind: 'loaded'; provider: ExecutionProvider; inputNames: string[]; outputNames: string[] }
  | { kind: 'result'; id: number; outputs: Record<string, Float32Tensor>; inputs?: TensorFeeds }
  | { kind: 'error'; id?: number; message: string };

let session: ort.InferenceSession | undefined;

/**
 * The CUDA provider ships as a separate library that onnxruntime-node's install script fetches
 * on GPU hosts; without it, asking for CUDA only produces a loud native error.
 */
function cudaProviderInstalled(): boolean {
  const binding = createRequire(import.meta.url).resolve('onnxruntime-node');
  const binDir = join(dirname(binding), '..', 'bin', `napi-v6`, process.platform, process.arch);
  return existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
}

async function createSession(modelPath: string, device: DeviceRequest, threads: number): Promise<ExecutionProvider> {
  const options = (provider: ExecutionProvider): ort.InferenceSession.SessionOptions => ({
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  if (device === 'cuda' || (device === 'auto' && cudaProviderInstalled())) {
    try {
      session = await ort.InferenceSession.create(modelPath, options('cuda'));
      return 'cuda';
    } catch (error) {
      if (device === 'cuda') throw new Error(`the CUDA execution provider is not available: ${(error as Error).message}`);
    }
  }
  session = await ort.InferenceSession.create(modelPath, options('cpu'));
  return 'cpu';
}

/**
 * The bundled ONNX Runtime's telemetry opens an empty `mat-debug-<pid>.log` in the temp dir at
 * its first session; each start would leave one behind. Removed while still empty (writes to
 * the open handle, if any ever come, are harmless).
 */
function removeEmptyTelemetryLog(): void {
  const log = join(tmpdir(), `mat-debug-${process.pid}.log`);
  try {
    if (statSync(log).size === 0) unlinkSync(log);
  } catch {
    // Not there (another worker removed it first, or this runtime does not write it).
  }
}

function post(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

// One request at a time, in arrival order: a run waits for the load and for the runs before it.
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(() => handle(request));
});

async function handle(request: WorkerRequest): Promise<void> {
  try {
    if (request.kind === 'load') {
      const provider = await createSession(request.modelPath, request.device, request.threads);
      removeEmptyTelemetryLog();
      post({ kind: 'loaded', provider, inputNames: [...session!.inputNames], outputNames: [...session!.outputNames] });
    } else if (request.kind === 'run') {
      const feeds = Object.fromEntries(
        Object.entries(request.feeds).map(([name, t]) => [
          name,
          t.type === 'int64' ? new ort.Tensor('int64', t.data, t.dims as number[]) : new ort.Tensor('float32', t.data, t.dims as number[]),
        ]),
      );
      const results = await session!.run(feeds, request.outputs);
      const outputs: Record<string, Float32Tensor> = {};
      const transfer = new Set<ArrayBuffer>();
      for (const name of request.outputs) {
        const tensor = results[name]!;
        const data = tensor.data as Float32Array;
        outputs[name] = { type: 'float32', dims: [...tensor.dims], data };
        transfer.add(data.buffer as ArrayBuffer);
      }
      if (!request.returnInputs) {
        post({ kind: 'result', id: request.id, outputs }, [...transfer]);
        return;
      }
      // The caller gave us its buffers; give them back for reuse.
      for (const tensor of Object.values(request.feeds)) transfer.add(tensor.data.buffer as ArrayBuffer);
      post({ kind: 'result', id: request.id, outputs, inputs: request.feeds }, [...transfer]);
    } else {
      await session?.release();
      session = undefined;
      process.exit(0);
    }
  } catch (error) {
    post({ kind: 'error', ...(request.kind === 'run' ? { id: request.id } : {}), message: (error as Error).message });
  }
}
