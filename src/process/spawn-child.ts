/**
 * The one way this service starts a child process (ffmpeg, ffprobe), so that none outlives a
 * server killed with SIGKILL, which runs no cleanup of its own:
 * - on Linux with util-linux's setpriv, the child runs as `setpriv --pdeathsig KILL -- cmd ...`:
 *   setpriv sets the parent-death signal and execs cmd (same pid, so `ps` shows cmd), and the
 *   kernel kills it when the thread that spawned it dies. Node spawns from the thread whose event
 *   loop calls spawn (the main thread here; no worker starts children), which lives as long as
 *   the process;
 * - it leads its own process group, and `kill` signals the group, so anything it started goes too;
 * - while it runs it is recorded under the folder set by `recordChildrenIn` (the server's state
 *   dir), and the next server start kills what a dead server left (see child-records.ts). This
 *   covers platforms without setpriv and a server that dies before setpriv has run.
 * The child is not unref'd: Node still waits for it and reports its exit.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { removeChildRecord, writeChildRecord } from './child-records.js';

const SETPRIV = '/usr/bin/setpriv';
const posix = process.platform !== 'win32';

let setprivPresent: boolean | undefined;

/** Whether children get a parent-death signal (Linux with setpriv). */
export function hasParentDeathSignal(): boolean {
  setprivPresent ??= process.platform === 'linux' && existsSync(SETPRIV);
  return setprivPresent;
}

let recordDir: string | undefined;

/**
 * Records the children started from now on in `dir` (which must exist); undefined stops it. A
 * server sets this to `<stateDir>/children` after reaping what is in there; without a state dir
 * (a library caller) nothing is recorded.
 */
export function recordChildrenIn(dir: string | undefined): void {
  recordDir = dir;
}

/** Where children are being recorded, if anywhere. */
export function childRecordDir(): string | undefined {
  return recordDir;
}

export interface SpawnChildOptions {
  /** As for child_process.spawn; every stream a pipe by default. */
  readonly stdio?: StdioOptions;
}

export interface RunningChild {
  readonly process: ChildProcess;
  /**
   * Signals the child's process group (SIGKILL unless told otherwise); a no-op once the child
   * has exited, when its pid may already name another process.
   */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `command` with `args` (no shell).
 *
 * @example
 * const probe = spawnChild('ffprobe', ['-v', 'error', file]);
 * setTimeout(() => probe.kill(), 20_000);
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnChildOptions = {}): RunningChild {
  const [file, argv] = hasParentDeathSignal() ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]];
  const child = spawn(file, argv, { stdio: options.stdio ?? 'pipe', detached: posix, windowsHide: true });
  const dir = recordDir;
  if (dir && child.pid !== undefined) {
    const pid = child.pid;
    if (writeChildRecord(dir, pid, [command, ...args])) child.once('exit', () => removeChildRecord(dir, pid));
  }
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    // exitCode/signalCode are set in the same tick Node reaps the child: until then the pid
    // (and the group named after it) is still this child's.
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (posix) {
      try {
        process.kill(-child.pid, signal);
        return;
      } catch {
        // No group of that id (the child left it): the child alone, then.
      }
    }
    child.kill(signal);
  };
  return { process: child, kill };
}
