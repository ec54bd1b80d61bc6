/**
 * The output folder of `videomae batch`: `results.jsonl` (one line per finished item:
 * {index, id, video, status, result | error, seconds}) and, for extract-features, `features/<id>.npy`
 * (`[T, C]` float32, the official TAD layout). A rerun skips the items already done: a line with
 * status succeeded, and its .npy complete. Lines are appended whole, after the .npy is in place.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { npyDataOffset, writeNpy } from '../weights/npy.js';

export const RESULTS_FILE = 'results.jsonl';
export const FEATURES_DIR = 'features';

export interface BatchLine {
  readonly index: number;
  readonly id: string;
  readonly video: string;
  readonly status: 'succeeded' | 'failed';
  readonly result?: unknown;
  readonly error?: { status: number; code: string; message: string };
  readonly seconds: number;
}

export class BatchFolder {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // A line a crash cut short is ended here, so the next line starts on its own.
    const file = join(dir, RESULTS_FILE);
    if (existsSync(file) && statSync(file).size > 0) {
      const text = readFileSync(file, 'utf8');
      if (!text.endsWith('\n')) appendFileSync(file, '\n');
    }
  }

  featuresFile(id: string): string {
    return join(this.dir, FEATURES_DIR, `${id}.npy`);
  }

  /** The ids done already (the last line of an id wins: a failed item run again may have succeeded). */
  done(needsFeatures: boolean): Set<string> {
    const file = join(this.dir, RESULTS_FILE);
    const last = new Map<string, BatchLine>();
    if (existsSync(file)) {
      for (const text of readFileSync(file, 'utf8').split('\n')) {
        if (!text.trim()) continue;
        try {
          const line = JSON.parse(text) as BatchLine;
          last.set(line.id, line);
        } catch {
          /* a line cut by a crash: that item runs again */
        }
      }
    }
    const done = new Set<string>();
    for (const [id, line] of last) {
      if (line.status !== 'succeeded') continue;
      if (needsFeatures && !this.completeFeatures(id, line.result as { clips?: number; dim?: number })) continue;
      done.add(id);
    }
    return done;
  }

  writeFeatures(id: string, data: Float32Array, shape: readonly [number, number]): void {
    mkdirSync(join(this.dir, FEATURES_DIR), { recursive: true });
    const file = this.featuresFile(id);
    const partial = `${file}.partial`;
    writeNpy(partial, data, shape);
    renameSync(partial, file);
  }

  append(line: BatchLine): void {
    appendFileSync(join(this.dir, RESULTS_FILE), `${JSON.stringify(line)}\n`);
  }

  private completeFeatures(id: string, result: { clips?: number; dim?: number } | undefined): boolean {
    const file = this.featuresFile(id);
    if (!existsSync(file) || !result?.clips || !result.dim) return false;
    const header = npyDataOffset(file);
    return header !== undefined && statSync(file).size === header + 4 * result.clips * result.dim;
  }
}
