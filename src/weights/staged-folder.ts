/**
 * Builds a model folder beside its destination and renames it into place only when complete, so
 * a failed import never leaves a half-written folder at --out (nor replaces a good one).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ServiceError } from '../errors.js';

/** Refuses a non-empty --out unless it may be replaced; call before any expensive work. */
export function assertOutAvailable(out: string, force: boolean): void {
  const path = resolve(out);
  if (existsSync(path) && readdirSync(path).length > 0 && !force) {
    throw new ServiceError(409, 'output_exists', `--out '${out}' already exists and is not empty (pass --force to replace it)`, {
      parameter: 'out',
    });
  }
}

/** Runs `build` on an empty staging folder `.<name>.importing-<pid>` beside `out`, then moves it to `out`. */
export async function stageModelFolder<T>(out: string, force: boolean, build: (staged: string) => Promise<T>): Promise<T> {
  assertOutAvailable(out, force);
  const target = resolve(out);
  const staged = join(dirname(target), `.${basename(target)}.importing-${process.pid}`);
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true });
  try {
    const result = await build(staged);
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(staged, target);
    return result;
  } catch (error) {
    rmSync(staged, { recursive: true, force: true });
    throw error;
  }
}
