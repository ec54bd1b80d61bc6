/**
 * The shared store of the distributed job queue (`--store DIR`): a folder every API replica and
 * every worker mounts (a shared filesystem). One folder per job:
 *
 *   jobs/<id>/input.<ext>                 the uploaded input, until the job is finished
 *   jobs/<id>/attempts/<attempt>/         what one run of the job wrote: result.json, render.mp4
 *
 * A worker killed mid-job leaves its attempt folder half written; the run that completes the job
 * (the one BullMQ accepts, holding the job's lock) names its attempt in the job's return value,
 * and the folder is then tidied to that attempt alone: exactly one result is kept.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULT_FILE = 'result.json';

export class SharedStore {
  readonly jobsRoot: string;

  constructor(readonly root: string) {
    this.jobsRoot = join(root, 'jobs');
    mkdirSync(this.jobsRoot, { recursive: true });
  }

  jobDir(id: string): string {
    return join(this.jobsRoot, id);
  }

  inputPath(id: string, inputName: string): string {
    return join(this.jobDir(id), inputName);
  }

  attemptDir(id: string, attempt: string): string {
    return join(this.jobDir(id), 'attempts', attempt);
  }

  /** Written beside its place, then renamed: a reader never sees half a result. */
  writeResult(id: string, attempt: string, result: unknown): void {
    const dir = this.attemptDir(id, attempt);
    mkdirSync(dir, { recursive: true });
    const partial = join(dir, `${RESULT_FILE}.partial`);
    writeFileSync(partial, JSON.stringify(result));
    renameSync(partial, join(dir, RESULT_FILE));
  }

  /** The result of the accepted attempt; undefined when it is gone (the job expired meanwhile). */
  readResult(id: string, attempt: string): unknown {
    try {
      return JSON.parse(readFileSync(join(this.attemptDir(id, attempt), RESULT_FILE), 'utf8')) as unknown;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** The attempts of job `id` on disk (the test of "exactly one result"). */
  attempts(id: string): string[] {
    try {
      return readdirSync(join(this.jobDir(id), 'attempts')).sort();
    } catch {
      return [];
    }
  }

  /**
   * A finished job keeps only the attempt that finished it (none when it failed or was
   * cancelled); its input goes.
   */
  keepOnly(id: string, attempt: string | null): void {
    if (attempt === null) {
      this.remove(id);
      return;
    }
    for (const name of this.listJob(id)) if (name !== 'attempts') rmSync(join(this.jobDir(id), name), { recursive: true, force: true });
    for (const other of this.attempts(id)) if (other !== attempt) rmSync(this.attemptDir(id, other), { recursive: true, force: true });
  }

  remove(id: string): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
  }

  /** Job folders in the store (the sweeper checks each against the queue). */
  jobIds(): string[] {
    try {
      return readdirSync(this.jobsRoot);
    } catch {
      return [];
    }
  }

  private listJob(id: string): string[] {
    try {
      return readdirSync(this.jobDir(id));
    } catch {
      return [];
    }
  }
}
