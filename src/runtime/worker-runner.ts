/**
 * InferenceRunner on a worker thread: one ONNX Runtime session per worker. Runs are posted at
 * once and the worker executes them one at a time (a session already uses every core it is
 * given; two runs at once would only fight over them).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InternalError, ServiceError } from '../errors.js';
import type { InferenceRunner, RunnerOptions, RunOptions, RunResult, SessionInfo } from './inference-runner.js';
import type { WorkerRequest, WorkerResponse } from './session-worker.js';
import type { TensorFeeds } from './tensor.js';

/**
 * Starts the worker: the compiled JS next to this file, or, when running from TypeScript sources
 * (tests, development under tsx), a bootstrap that registers tsx's loader inside the worker first.
 */
function spawnWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./session-worker.js', self));
  const source = new URL('./session-worker.ts', self).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { eval: true });
}

interface Pending {
  resolve(result: RunResult): void;
  reject(error: Error): void;
}

export class ModelLoadError extends ServiceError {
  constructor(modelPath: string, reason: string) {
    super(500, 'model_load_failed', `model '${modelPath}' could not be loaded: ${reason}`);
  }
}

export class WorkerRunner implements InferenceRunner {
  private readonly pendingRuns = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly info: SessionInfo,
  ) {
    worker.on('message', (message: WorkerResponse) => this.onMessage(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new Error(`inference worker exited with code ${code}`));
    });
  }

  get provider() {
    return this.info.provider;
  }
  get inputNames() {
    return this.info.inputNames;
  }
  get outputNames() {
    return this.info.outputNames;
  }
  get pending() {
    return this.pendingRuns.size;
  }

  /** Starts a worker and loads the model into it. */
  static async create(modelPath: string, options: RunnerOptions): Promise<WorkerRunner> {
    const worker = spawnWorker();
    const threads = options.threads ?? availableParallelism();
    try {
      const info = await new Promise<SessionInfo>((resolve, reject) => {
        const onMessage = (message: WorkerResponse): void => {
          worker.off('error', reject);
          if (message.kind === 'loaded') resolve(message);
          else reject(new ModelLoadError(modelPath, message.kind === 'error' ? message.message : 'unexpected reply'));
        };
        worker.once('message', onMessage);
        worker.once('error', reject);
        const request: WorkerRequest = { kind: 'load', modelPath, device: options.device, threads };
        worker.postMessage(request);
      });
      return new WorkerRunner(worker, info);
    } catch (error) {
      await worker.terminate();
      throw error instanceof ServiceError ? error : new ModelLoadError(modelPath, (error as Error).message);
    }
  }

  run(feeds: TensorFeeds, outputs: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.closed) return Promise.reject(new InternalError('inference runner is closed'));
    for (const name of outputs) {
      if (!this.info.outputNames.includes(name)) {
        return Promise.reject(new InternalError(`model has no output '${name}' (outputs: ${this.info.outputNames.join(', ')})`));
      }
    }
    const id = this.nextId++;
    const result = new Promise<RunResult>((resolve, reject) => {
      this.pendingRuns.set(id, { resolve, reject });
    });
    const transferInputs = options.transferInputs ?? false;
    const request: WorkerRequest = { kind: 'run', id, feeds, outputs: [...outputs], returnInputs: transferInputs };
    const transfer = transferInputs ? [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))] : [];
    // The worker queues runs and executes them one at a time.
    this.worker.postMessage(request, transfer);
    return result;
  }

  private onMessage(message: WorkerResponse): void {
    if (message.kind === 'result') {
      this.pendingRuns
        .get(message.id)
        ?.resolve(message.inputs ? { outputs: message.outputs, inputs: message.inputs } : { outputs: message.outputs });
      this.pendingRuns.delete(message.id);
    } else if (message.kind === 'error' && message.id !== undefined) {
      this.pendingRuns.get(message.id)?.reject(new InternalError(`inference failed: ${message.message}`));
      this.pendingRuns.delete(message.id);
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pendingRuns.values()) pending.reject(new InternalError(`inference worker failed: ${error.message}`));
    this.pendingRuns.clear();
  }

  /** Lets queued runs finish, then stops the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pendingRuns.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.worker.terminate();
  }
}
