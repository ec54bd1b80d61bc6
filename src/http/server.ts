/**
 * `videomae serve`: listen first (so /healthz answers at once), then load the models and turn
 * ready. SIGTERM/SIGINT stop accepting connections, let requests in flight finish, then exit.
 */
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ModelRegistry } from '../runtime/model-registry.js';
import { createApp } from './app.js';
import { ServiceState, type ServiceConfig } from './service-state.js';

export interface ServeOptions extends ServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly modelsDir: string;
  readonly defaultModel?: string;
  readonly threads?: number;
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
  const state = new ServiceState(options);
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
  ).then((registry) => state.setRegistry(registry));

  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await loaded.catch(() => undefined);
    await state.registryIfLoaded?.close();
  };
  return { server, state, url, loaded, close };
}
