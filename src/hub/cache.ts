/**
 * The huggingface_hub cache layout, so a model pulled here is found by Python tools and back:
 *   <cache>/models--ORG--NAME/blobs/<etag>                  file contents (etag: sha256 for LFS files, git blob id otherwise)
 *   <cache>/models--ORG--NAME/blobs/<etag>.incomplete       a download in progress (resumed with a Range request)
 *   <cache>/models--ORG--NAME/snapshots/<commit>/<file>     relative symlink to ../../blobs/<etag>
 *   <cache>/models--ORG--NAME/refs/<revision>               the commit a branch or tag last resolved to
 * The cache folder: --cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

export function hubCacheDir(env: NodeJS.ProcessEnv, flag?: string): string {
  if (flag) return resolve(flag);
  if (env.HF_HUB_CACHE) return resolve(env.HF_HUB_CACHE);
  if (env.HF_HOME) return resolve(env.HF_HOME, 'hub');
  return resolve(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface', 'hub');
}

export class RepoCache {
  /** models--ORG--NAME under the cache folder. */
  readonly root: string;

  constructor(cacheDir: string, repo: string) {
    this.root = join(cacheDir, `models--${repo.split('/').join('--')}`);
  }

  blobPath(blob: string): string {
    return join(this.root, 'blobs', blob);
  }

  incompletePath(blob: string): string {
    return `${this.blobPath(blob)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  /** The cached file of a commit when it is there with the expected size. */
  cachedFile(commit: string, file: string, size: number): string | undefined {
    const path = join(this.snapshotDir(commit), file);
    try {
      return statSync(path).size === size ? path : undefined; // follows the link: a dangling one is a miss
    } catch {
      return undefined;
    }
  }

  readRef(revision: string): string | undefined {
    const path = join(this.root, 'refs', revision);
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
  }

  writeRef(revision: string, commit: string): void {
    const path = join(this.root, 'refs', revision);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp-${process.pid}`, commit);
    renameSync(`${path}.tmp-${process.pid}`, path);
  }

  /** Points snapshots/<commit>/<file> at a complete blob (relative link, as huggingface_hub makes it). */
  link(commit: string, file: string, blob: string): string {
    const path = join(this.snapshotDir(commit), file);
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
    symlinkSync(relative(dirname(path), this.blobPath(blob)), path);
    return path;
  }
}
