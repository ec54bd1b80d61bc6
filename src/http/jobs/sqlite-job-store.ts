/**
 * JobStore on SQLite (better-sqlite3): one table, JSON for the request, result and error. WAL
 * journaling and synchronous writes at each transition, so a job that finished before a crash is
 * still there after it.
 */
import Database from 'better-sqlite3';
import type { JobPatch, JobRecord, JobStatus, JobStore } from './job-store.js';

interface Row {
  id: string;
  kind: string;
  status: string;
  stage: string | null;
  progress: number;
  eta_sec: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  request: string;
  input_path: string | null;
  result: string | null;
  error: string | null;
  attempts: number;
}

const COLUMNS: Record<keyof JobPatch, string> = {
  status: 'status',
  stage: 'stage',
  progress: 'progress',
  etaSec: 'eta_sec',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  expiresAt: 'expires_at',
  request: 'request',
  inputPath: 'input_path',
  result: 'result',
  error: 'error',
  attempts: 'attempts',
};
const JSON_FIELDS = new Set(['request', 'result', 'error']);

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    try {
      this.open();
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Schema, journaling, and an integrity check: damage is found at the start, not mid-job. */
  private open(): void {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS jobs (
      id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, stage TEXT, progress REAL NOT NULL DEFAULT 0,
      eta_sec REAL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, expires_at INTEGER,
      request TEXT NOT NULL, input_path TEXT, result TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0)`);
    this.db.exec('CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at)');
    const check = this.db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw Object.assign(new Error(`integrity check failed: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
  }

  insert(job: JobRecord): void {
    this.db
      .prepare(
        `INSERT INTO jobs (id, kind, status, stage, progress, eta_sec, created_at, started_at, finished_at, expires_at, request, input_path, result, error, attempts)
      VALUES (@id, @kind, @status, @stage, @progress, @eta_sec, @created_at, @started_at, @finished_at, @expires_at, @request, @input_path, @result, @error, @attempts)`,
      )
      .run({
        id: job.id,
        kind: job.kind,
        status: job.status,
        stage: job.stage,
        progress: job.progress,
        eta_sec: job.etaSec,
        created_at: job.createdAt,
        started_at: job.startedAt,
        finished_at: job.finishedAt,
        expires_at: job.expiresAt,
        request: JSON.stringify(job.request),
        input_path: job.inputPath,
        result: job.result === null || job.result === undefined ? null : JSON.stringify(job.result),
        error: job.error ? JSON.stringify(job.error) : null,
        attempts: job.attempts,
      });
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  update(id: string, patch: JobPatch): void {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as Array<[keyof JobPatch, unknown]>;
    if (entries.length === 0) return;
    const sets = entries.map(([key]) => `${COLUMNS[key]} = @${key}`).join(', ');
    const values = Object.fromEntries(
      entries.map(([key, value]) => [key, JSON_FIELDS.has(key) ? (value === null ? null : JSON.stringify(value)) : value]),
    );
    this.db.prepare(`UPDATE jobs SET ${sets} WHERE id = @id`).run({ ...values, id });
  }

  withStatus(statuses: readonly JobStatus[]): JobRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY created_at, id`)
      .all(...statuses) as Row[];
    return rows.map(fromRow);
  }

  countWithStatus(statuses: readonly JobStatus[]): number {
    return (
      this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE status IN (${statuses.map(() => '?').join(', ')})`).get(...statuses) as {
        n: number;
      }
    ).n;
  }

  expired(now: number): JobRecord[] {
    return (this.db.prepare('SELECT * FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ?').all(now) as Row[]).map(fromRow);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(row: Row): JobRecord {
  return {
    id: row.id,
    kind: row.kind as JobRecord['kind'],
    status: row.status as JobStatus,
    stage: row.stage,
    progress: row.progress,
    etaSec: row.eta_sec,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    expiresAt: row.expires_at,
    request: JSON.parse(row.request) as Record<string, unknown>,
    inputPath: row.input_path,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : JSON.parse(row.error),
    attempts: row.attempts,
  };
}
