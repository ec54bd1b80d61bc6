/** What the leak checks of the HTTP tests count: child processes, and conditions met in time. */
import { spawnSync } from 'node:child_process';

/** Child processes of this test process running `command`. */
export function childProcesses(command: string): string[] {
  const out = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.trim().endsWith(command));
}

/** Polls `condition` every 10 ms; false when it is still not met after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
