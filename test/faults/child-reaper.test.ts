/**
 * The defences of src/process against children outliving their server, one by one, with real
 * processes (`sleep`): the records a dead server left are reaped at the next start (a pid whose
 * start time no longer matches is never killed), a spawned child is recorded while it runs and
 * killed with its process group, and setpriv's parent-death signal follows the main thread (a
 * worker thread ending takes nothing with it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { processStartTime, reapOrphanedChildren, writeChildRecord, type ChildRecord } from '../../src/process/child-records.js';
import { hasParentDeathSignal, recordChildrenIn, spawnChild } from '../../src/process/spawn-child.js';
import { childPids, isRunning, waitFor } from '../helpers/processes.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'videomae-children-'));
let started: { pid: number; startTime: string }[] = [];

afterEach(() => {
  recordChildrenIn(undefined);
  // Nothing a test started outlives it, whatever it asserted.
  for (const { pid, startTime } of started) if (isRunning(pid, startTime)) process.kill(pid, 'SIGKILL');
  started = [];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function track(pid: number): { pid: number; startTime: string } {
  const identity = { pid, startTime: processStartTime(pid)! };
  started.push(identity);
  return identity;
}

/** Runs `code` as an ES module in a node with tsx; resolves with its stdout once it has printed a line. */
function helper(code: string, env: Record<string, string> = {}): { line: Promise<string>; exited: Promise<unknown>; kill(): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const line = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`helper exited (${code}) before printing: ${out}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { line, exited, kill: () => child.kill('SIGKILL') };
}

const src = (path: string): string => JSON.stringify(join(root, 'src', path));

/**
 * A `sleep 60` left behind by a process that recorded it, then exited: the situation a server
 * killed with SIGKILL leaves where no parent-death signal exists (a plain detached spawn here).
 */
async function orphanedSleep(records: string): Promise<{ pid: number; startTime: string }> {
  const run = helper(
    `
    import { spawn } from 'node:child_process';
    import { writeChildRecord } from ${src('process/child-records.ts')};
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    if (!writeChildRecord(process.env.RECORDS, child.pid, ['sleep', '60'])) process.exit(3);
    child.unref();
    process.stdout.write(child.pid + '\\n');
  `,
    { RECORDS: records },
  );
  const pid = Number(await run.line);
  const identity = track(pid);
  await run.exited;
  return identity;
}

describe('reapOrphanedChildren', () => {
  it('kills a recorded child of a dead server that still runs, and drops its record', async () => {
    const records = mkdtempSync(join(dir, 'records-'));
    const sleep = await orphanedSleep(records);
    expect(isRunning(sleep.pid, sleep.startTime)).toBe(true);
    const report = reapOrphanedChildren(records);
    expect(report.killed.map((r) => r.pid)).toEqual([sleep.pid]);
    expect(await waitFor(() => !isRunning(sleep.pid, sleep.startTime), 5000)).toBe(true);
    expect(existsSync(join(records, `${sleep.pid}.json`))).toBe(false);
  });

  it('never kills a pid whose start time differs from the record (a reused pid), but drops the record', async () => {
    const records = mkdtempSync(join(dir, 'records-'));
    const sleep = await orphanedSleep(records);
    const file = join(records, `${sleep.pid}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8')) as ChildRecord;
    writeFileSync(file, JSON.stringify({ ...record, startTime: String(Number(record.startTime) - 1) }));
    const report = reapOrphanedChildren(records);
    expect(report).toEqual({ killed: [], stale: 1 });
    expect(existsSync(file)).toBe(false);
    // Given time to die, had it been signalled: it is still there.
    await new Promise((r) => setTimeout(r, 200));
    expect(isRunning(sleep.pid, sleep.startTime)).toBe(true);
    process.kill(sleep.pid, 'SIGKILL');
    expect(await waitFor(() => !isRunning(sleep.pid, sleep.startTime), 5000)).toBe(true);
  });

  it('leaves the records of a live server alone, and drops torn ones', async () => {
    const records = mkdtempSync(join(dir, 'records-'));
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const sleep = track(child.pid!);
    expect(writeChildRecord(records, sleep.pid, ['sleep', '60'])).toBe(true);
    writeFileSync(join(records, '999999.json'), '{"pid": 9999');
    expect(reapOrphanedChildren(records)).toEqual({ killed: [], stale: 1 });
    expect(isRunning(sleep.pid, sleep.startTime)).toBe(true);
    expect(existsSync(join(records, `${sleep.pid}.json`))).toBe(true);
    expect(existsSync(join(records, '999999.json'))).toBe(false);
    child.kill('SIGKILL');
  });
});

describe('spawnChild', () => {
  it('records the child while it runs and removes the record when it exits', async () => {
    const records = mkdtempSync(join(dir, 'records-'));
    recordChildrenIn(records);
    const run = spawnChild('sleep', ['60'], { stdio: 'ignore' });
    const sleep = track(run.process.pid!);
    const file = join(records, `${sleep.pid}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8')) as ChildRecord;
    expect(record).toEqual({
      pid: sleep.pid,
      startTime: sleep.startTime,
      command: ['sleep', '60'],
      owner: { pid: process.pid, startTime: processStartTime(process.pid) },
    });
    const exited = new Promise((resolve) => run.process.once('exit', resolve));
    run.kill();
    await exited;
    expect(existsSync(file)).toBe(false);
  });

  it('records nothing without a record folder (in-process use)', async () => {
    const run = spawnChild('sleep', ['60'], { stdio: 'ignore' });
    track(run.process.pid!);
    const exited = new Promise((resolve) => run.process.once('exit', resolve));
    run.kill();
    expect(await exited).toBe(null); // exit code null: killed by a signal
  });

  it('kills the whole process group: a grandchild goes with the child', async () => {
    const run = spawnChild('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
    const sh = track(run.process.pid!);
    expect(await waitFor(() => childPids('sleep', sh.pid).length === 1, 5000)).toBe(true);
    const grandchild = track(childPids('sleep', sh.pid)[0]!);
    const exited = new Promise((resolve) => run.process.once('exit', resolve));
    run.kill();
    await exited;
    expect(await waitFor(() => !isRunning(grandchild.pid, grandchild.startTime), 5000)).toBe(true);
    // Once it has exited its pid may be someone else's: kill is then a no-op, not a stray signal.
    expect(() => run.kill()).not.toThrow();
  });

  it.skipIf(!hasParentDeathSignal())('dies with the process that spawned it, not with a worker thread of it', async () => {
    const run = helper(`
      import { Worker } from 'node:worker_threads';
      import { spawnChild } from ${src('process/spawn-child.ts')};
      const child = spawnChild('sleep', ['60'], { stdio: 'ignore' });
      // A thread of the parent ending is not the parent ending (pdeathsig follows the spawning thread).
      await new Promise((resolve) => new Worker('0', { eval: true }).once('exit', resolve));
      process.stdout.write(child.process.pid + '\\n');
      setInterval(() => undefined, 1000);
    `);
    const sleep = track(Number(await run.line));
    expect(isRunning(sleep.pid, sleep.startTime)).toBe(true);
    expect(readFileSync(`/proc/${sleep.pid}/comm`, 'utf8').trim()).toBe('sleep'); // setpriv exec'd into it
    run.kill();
    await run.exited;
    expect(await waitFor(() => !isRunning(sleep.pid, sleep.startTime), 5000)).toBe(true);
  });
});
