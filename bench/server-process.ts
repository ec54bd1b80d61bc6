/**
 * A `videomae serve` in its own process for the load benches: started on a free port with the
 * given flags, its JSON log read for the URL and readiness, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './report.js';

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<number | null>;
}

export async function startServerProcess(flags: string[]): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'videomae-bench-server-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src', 'cli.ts'),
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--temp-dir',
      join(dir, 'tmp'),
      '--state-dir',
      join(dir, 'state'),
      ...flags,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'info' } },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const lines = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; url?: string });
      const listening = lines.find((l) => l.url);
      if (listening && lines.some((l) => l.msg === 'ready')) {
        clearTimeout(timer);
        // From here on the request log is only drained.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(listening.url!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${output}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => {
          rmSync(dir, { recursive: true, force: true });
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A multipart body with `file` in field `video`, and its content type. */
export function multipartBody(file: string): { body: Buffer; contentType: string } {
  const boundary = 'videomae-bench-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="video"; filename="bench.mp4"\r\nContent-Type: video/mp4\r\n\r\n`),
    readFileSync(file),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
