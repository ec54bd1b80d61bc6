/**
 * Moving a job's input into the state directory. A rename is atomic but works only within one
 * file system; a state volume apart from the temp dir is the normal deployment, so across file
 * systems (EXDEV) the file is copied beside its destination under a temporary name, then renamed
 * into place, then the source is removed. A failure (a full disk) leaves no partial copy.
 */
import { copyFileSync, linkSync, renameSync, rmSync } from 'node:fs';

export function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
  }
  copyBeside(from, to);
  rmSync(from, { force: true });
}

/** Puts a copy of `from` at `to` and leaves `from`: a hard link where one file system holds both, else a copy. */
export function copyFile(from: string, to: string): void {
  try {
    linkSync(from, to);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw error;
  }
  copyBeside(from, to);
}

/** Copies under a temporary name beside `to`, then renames: `to` is whole or absent. */
function copyBeside(from: string, to: string): void {
  const partial = `${to}.partial`;
  try {
    copyFileSync(from, partial);
    renameSync(partial, to);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}
