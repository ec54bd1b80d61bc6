/**
 * Writes a file atomically: into `<file>.tmp-<pid>`, then renamed over `file`, so a crash never
 * leaves a half-written file where a good one was; the temporary file goes on failure.
 */
import { closeSync, openSync, renameSync, rmSync } from 'node:fs';

export function writeFileAtomically(file: string, write: (fd: number) => void): void {
  const temp = `${file}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    write(fd);
    closeSync(fd);
    renameSync(temp, file);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(temp, { force: true });
    throw error;
  }
}
