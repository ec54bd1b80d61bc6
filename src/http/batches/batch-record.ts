/**
 * A batch (POST /batches) as it is kept: its task, model, options and items, each with the id of
 * the job that runs it (chosen before any is submitted, so a resumed batch submits exactly the
 * items whose job does not exist yet). One JSON file per batch in a folder: the state dir of the
 * embedded queue, the shared store of the Redis one, so every replica reads the same batches.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from '../../weights/atomic-file.js';
import { InvalidParameterError } from '../../errors.js';
import { videoId } from '../../tasks/temporal/extract.js';
import type { BatchTaskName } from '../../batch/batch-tasks.js';

export interface BatchItem {
  readonly index: number;
  /** The video id (file name without extension): the item's `<id>.npy` and its JSONL line's `id`. */
  readonly id: string;
  /** As the manifest gave it (a path under the allowed root, or a URL). */
  readonly video: string;
  /** What the service reads: the path resolved (links followed) under the root, or the URL. */
  readonly source: string;
  readonly jobId: string;
}

export interface BatchRecord {
  readonly id: string;
  readonly task: BatchTaskName;
  readonly model?: string;
  readonly options: Record<string, unknown>;
  readonly createdAt: number;
  readonly items: readonly BatchItem[];
}

/** What a batch item's job carries in its request beside model, options and fileName. */
export interface BatchItemRequest {
  readonly batch: { readonly id: string; readonly task: BatchTaskName; readonly index: number; readonly video: string };
}

export function isBatchItem(request: Record<string, unknown>): request is Record<string, unknown> & BatchItemRequest {
  const batch = request.batch as BatchItemRequest['batch'] | undefined;
  return typeof batch === 'object' && batch !== null && typeof batch.task === 'string';
}

/**
 * Each video's id: its file name without extension (a URL's last path segment), the name of its
 * `<id>.npy` and the key of its result line; two videos with one id are refused.
 */
export function videoIds(sources: readonly string[], parameter: (index: number) => string): string[] {
  const seen = new Map<string, number>();
  return sources.map((source, index) => {
    const id = videoId(/^https?:\/\//i.test(source) ? new URL(source).pathname : source) || `item-${index}`;
    const before = seen.get(id);
    if (before !== undefined)
      throw new InvalidParameterError(
        parameter(index),
        source,
        `has the same video id '${id}' as item ${before}: each item's <id>.npy and result line need their own`,
      );
    seen.set(id, index);
    return id;
  });
}

export class BatchStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  save(batch: BatchRecord): void {
    writeFileAtomically(this.file(batch.id), (fd) => writeSync(fd, JSON.stringify(batch)));
  }

  get(id: string): BatchRecord | undefined {
    // ids are UUIDs: anything else names no file of ours
    if (!/^[0-9a-f-]{36}$/.test(id) || !existsSync(this.file(id))) return undefined;
    return JSON.parse(readFileSync(this.file(id), 'utf8')) as BatchRecord;
  }

  list(): BatchRecord[] {
    return readdirSync(this.dir)
      .filter((name) => /^[0-9a-f-]{36}\.json$/.test(name))
      .map((name) => this.get(name.slice(0, -5)))
      .filter((b): b is BatchRecord => b !== undefined);
  }

  delete(id: string): void {
    rmSync(this.file(id), { force: true });
  }
}
