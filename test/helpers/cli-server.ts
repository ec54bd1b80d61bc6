/**
 * `videomae serve` as a real child process (tsx as an in-process loader, so the pid is the
 * server's own): started, waited for until it logs 'ready', its output kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export interface CliServer {
  readonly process: ChildProcess;
  /** Everything it wrote so far, stdout and stderr. */
  output(): string;
  /** Resolves with its exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

/** Spawns `videomae serve ARGS` (no wait). */
export function spawnServe(args: string[]): CliServer {
  return spawnCommand('serve', args);
}

/** Spawns `videomae COMMAND ARGS` (no wait). */
export function spawnCommand(command: string, args: string[]): CliServer {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli.ts'), command, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { process: child, output: () => output, exited };
}

/** Spawns `videomae serve ARGS` and resolves with its url once it is ready. */
export async function serveUntilReady(args: string[], timeoutMs = 90_000): Promise<CliServer & { url: string }> {
  const server = spawnServe(args);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${server.output()}`)), timeoutMs);
    void server.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${server.output()}`));
    });
    server.process.stdout!.on('data', () => {
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; url?: string });
      const listening = lines.find((l) => l.url);
      if (listening && lines.some((l) => l.msg === 'ready')) {
        clearTimeout(timer);
        resolve(listening.url!);
      }
    });
  });
  return { ...server, url };
}

/** The JSON log lines a process wrote so far. */
export function logLines(cli: CliServer): Array<Record<string, unknown> & { msg: string }> {
  return cli
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });
}

/** Spawns `videomae worker ARGS` and resolves once it logs 'ready' (it takes jobs then). */
export async function workerUntilReady(args: string[], timeoutMs = 90_000): Promise<CliServer> {
  const worker = spawnCommand('worker', args);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${worker.output()}`)), timeoutMs);
    void worker.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}: ${worker.output()}`));
    });
    worker.process.stdout!.on('data', () => {
      if (logLines(worker).some((l) => l.msg === 'ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return worker;
}
