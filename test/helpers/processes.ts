/** What the leak checks of the HTTP tests count: child processes, and conditions met in time. */
import { spawnSync } from 'node:child_process';
import { processRuns } from '../../src/process/child-records.js';

/** Child processes of `parent` (default: this test process) running `command`. */
export function childProcesses(command: string, parent = process.pid): string[] {
  const out = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(parent)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.trim().endsWith(command));
}

/** Pids of the children of `parent` running `command`. */
export function childPids(command: string, parent = process.pid): number[] {
  return childProcesses(command, parent).map((line) => Number.parseInt(line.trim(), 10));
}

/**
 * Whether a process still runs: it exists, is not a zombie waiting for its reaper, and (given a
 * start time, /proc/<pid>/stat field 22) is the same process rather than a reused pid.
 */
export function isRunning(pid: number, startTime?: string): boolean {
  return processRuns(pid, startTime);
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
