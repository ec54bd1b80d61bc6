/**
 * Records of running child processes, `<dir>/<pid>.json`, so that the next server start can kill
 * the children a SIGKILLed server left behind (where setpriv's parent-death signal is not there to
 * do it). A pid alone is not enough: once the child is gone the kernel hands the number to someone
 * else, so each record keeps the process start time (/proc/<pid>/stat field 22, clock ticks since
 * boot) and a pid is only killed while that still matches.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/<pid>/stat field 22: fixed for the life of the process, new for a reused pid. */
  readonly startTime: string;
}

export interface ChildRecord extends ProcessIdentity {
  readonly command: readonly string[];
  /** The process that started the child: while it lives, the child is its business. */
  readonly owner: ProcessIdentity;
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; undefined without such a process or /proc. */
function readStat(pid: number): { state: string; startTime: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 is the command in parentheses and may itself hold spaces and ')': count fields
  // from the last ')', where field 3 starts.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, startTime] = [fields[0], fields[22 - 3]];
  return state !== undefined && startTime !== undefined ? { state, startTime } : undefined;
}

/**
 * The start time of a process (running, or exited and not yet reaped); undefined when there is
 * no such process or no /proc to ask (then no records are kept).
 *
 * @example
 * processStartTime(process.pid) // '123456789'
 */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/**
 * Whether `pid` still runs (a zombie, dead and waiting for its parent to reap it, does not) and,
 * given a start time, is that same process rather than a reused pid.
 */
export function processRuns(pid: number, startTime?: string): boolean {
  const stat = readStat(pid);
  return stat !== undefined && (startTime === undefined || stat.startTime === startTime) && stat.state !== 'Z' && stat.state !== 'X';
}

function isAlive(identity: ProcessIdentity): boolean {
  return processRuns(identity.pid, identity.startTime);
}

let self: ProcessIdentity | undefined;

function thisProcess(): ProcessIdentity | undefined {
  if (!self) {
    const startTime = processStartTime(process.pid);
    if (startTime !== undefined) self = { pid: process.pid, startTime };
  }
  return self;
}

const recordFile = (dir: string, pid: number): string => join(dir, `${pid}.json`);

/**
 * Writes the record of a child just spawned by this process. Returns false, writing nothing, where
 * start times cannot be read (no /proc) or the folder is not writable: the records are a second
 * line of defence and never stop a child from running.
 */
export function writeChildRecord(dir: string, pid: number, command: readonly string[]): boolean {
  const owner = thisProcess();
  const startTime = processStartTime(pid);
  if (!owner || startTime === undefined) return false;
  const record: ChildRecord = { pid, startTime, command, owner };
  try {
    writeFileSync(recordFile(dir, pid), JSON.stringify(record));
    return true;
  } catch {
    return false;
  }
}

export function removeChildRecord(dir: string, pid: number): void {
  rmSync(recordFile(dir, pid), { force: true });
}

export interface ReapReport {
  /** Children of a dead server that were still running, now killed. */
  readonly killed: readonly ChildRecord[];
  /** Records dropped without a kill: the child had exited (or its pid belongs to someone else now). */
  readonly stale: number;
}

/**
 * Kills the children recorded in `dir` whose server is gone and which still run (same pid, same
 * start time), with their process group; removes their records and those of children long gone.
 * Records of a live owner (this process, or another server on the same folder) are left alone.
 *
 * @example
 * reapOrphanedChildren(join(stateDir, 'children')) // { killed: [{ pid: 4242, command: ['ffmpeg', ...], ... }], stale: 1 }
 */
export function reapOrphanedChildren(dir: string): ReapReport {
  mkdirSync(dir, { recursive: true });
  const killed: ChildRecord[] = [];
  let stale = 0;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    let record: ChildRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as ChildRecord;
      if (!Number.isInteger(record.pid) || record.pid <= 1 || typeof record.startTime !== 'string') throw new Error('not a record');
    } catch {
      // Torn by a crash mid-write (or not ours): nothing can be safely killed from it.
      rmSync(file, { force: true });
      stale++;
      continue;
    }
    if (record.owner && isAlive(record.owner)) continue;
    if (isAlive(record)) {
      killGroup(record.pid);
      killed.push(record);
    } else {
      stale++;
    }
    rmSync(file, { force: true });
  }
  return { killed, stale };
}

/** SIGKILL to the child's process group (it leads one), or to the child alone if it does not. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited meanwhile */
    }
  }
}
