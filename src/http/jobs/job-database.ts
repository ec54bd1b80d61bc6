/**
 * Opening the job database of a state directory, and what to do when it is corrupt. A corrupt
 * `jobs.sqlite` stops the start with an error that names the file and the way out; with
 * `repair` it is moved aside (with its WAL files and the inputs of its jobs, never deleted) and
 * the service starts empty, saying how many jobs were lost. Never a silent loss.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ServiceError } from '../../errors.js';
import { SqliteJobStore } from './sqlite-job-store.js';

export const JOB_DATABASE = 'jobs.sqlite';
const CORRUPT_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_VTAB',
  'SQLITE_CORRUPT_SEQUENCE',
  'SQLITE_CORRUPT_INDEX',
]);

/** The start cannot go on: the state directory's job database is unreadable. */
export class CorruptStateError extends ServiceError {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(
      500,
      'state_corrupt',
      `the job database '${file}' is corrupt (${reason}); the jobs in it cannot be read. ` +
        'Start with --state-repair to move it aside and start with no jobs (it says how many were lost), or restore the file from a backup.',
    );
  }
}

export interface RepairReport {
  /** Where the corrupt database (and the job inputs) went. */
  readonly movedTo: string;
  /** Jobs the database still listed, when it could be counted at all. */
  readonly lostJobs: number | undefined;
  /** Job input folders moved aside with it. */
  readonly lostInputs: number;
}

export function openJobStore(stateDir: string, options: { repair?: boolean } = {}): { store: SqliteJobStore; repaired?: RepairReport } {
  const file = join(stateDir, JOB_DATABASE);
  try {
    return { store: new SqliteJobStore(file) };
  } catch (error) {
    if (!CORRUPT_CODES.has((error as { code?: string }).code ?? '')) throw error;
    if (!options.repair) throw new CorruptStateError(file, (error as Error).message);
    const repaired = moveAside(stateDir, file);
    return { store: new SqliteJobStore(file), repaired };
  }
}

function moveAside(stateDir: string, file: string): RepairReport {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const movedTo = `${file}.corrupt-${stamp}`;
  const lostJobs = countRows(file);
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, movedTo + suffix);
  const inputs = join(stateDir, 'jobs');
  let lostInputs = 0;
  if (existsSync(inputs)) {
    lostInputs = readdirSync(inputs).length;
    renameSync(inputs, join(stateDir, `jobs.corrupt-${stamp}`));
  }
  return { movedTo, lostJobs, lostInputs };
}

/** How many jobs a damaged database still lists, if it can say. */
function countRows(file: string): number | undefined {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}
