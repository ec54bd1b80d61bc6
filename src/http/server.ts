/**
 * `videomae serve`: listen first (so /healthz answers at once), then load the models and turn
 * ready. SIGTERM/SIGINT stop accepting connections, let requests in flight finish, then exit.
 */
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CENTERNET_OPTIONS } from '../detector/centernet.js';
import { OnnxPersonDetector } from '../detector/onnx-detector.js';
import { ModelRegistry } from '../runtime/model-registry.js';
import { createApp } from './app.js';
import { DEFAULT_JOB_OPTIONS, type JobManagerOptions } from './jobs/job-manager.js';
import { createJobManager } from './jobs/temporal-job.js';
import { ServiceState, type ServiceConfig } from './service-state.js';

export interface ServeOptions extends ServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly modelsDir: string;
  readonly defaultModel?: string;
  readonly threads?: number;
  /** Where jobs and their results are kept across restarts (SQLite + job inputs). */
  readonly stateDir: string;
  readonly jobs?: Partial<Omit<JobManagerOptions, 'dataDir'>>;
  /** A user-supplied ONNX person detector (YOLO-style [1, N, 6] output) and its input size. */
  readonly personDetectorOnnx?: { file: string; size: number };
}

export interface RunningServer {
  readonly server: Server;
  readonly state: ServiceState;
  readonly url: string;
  /** Resolves once every model is loaded; rejects when one cannot be. */
  readonly loaded: Promise<void>;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  mkdirSync(options.tempDir, { recursive: true });
  mkdirSync(options.stateDir, { recursive: true });
  const state = new ServiceState(options);
  state.jobs = createJobManager(state, options.stateDir, { ...DEFAULT_JOB_OPTIONS, ...options.jobs });
  if (options.personDetectorOnnx) {
    const { file, size } = options.personDetectorOnnx;
    state.usePersonDetector(await OnnxPersonDetector.create(file, size, {
      ...DEFAULT_CENTERNET_OPTIONS,
      ...(options.personThreshold !== undefined ? { scoreThreshold: options.personThreshold } : {}),
      ...(options.personEnlarge !== undefined ? { enlarge: options.personEnlarge } : {}),
    }));
  }
  const app = createApp(state);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port, options.host, () => resolve(listening));
    listening.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const loaded = ModelRegistry.load(
    options.modelsDir,
    { device: options.device, ...(options.threads ? { threads: options.threads } : {}) },
    options.defaultModel,
  ).then((registry) => {
    state.setRegistry(registry);
    // Jobs left by an earlier process run (or fail with a reason) once the models are here.
    const recovered = state.jobs!.start();
    if (recovered.requeued.length || recovered.failed.length) {
      console.log(`videomae: jobs from before the restart: ${recovered.requeued.length} queued to run again, ${recovered.failed.length} marked failed`);
    }
  });

  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await loaded.catch(() => undefined);
    await state.jobs?.close();
    await state.closeDetector();
    await state.registryIfLoaded?.close();
  };
  return { server, state, url, loaded, close };
}
