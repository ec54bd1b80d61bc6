/**
 * `videomae pull REPO_ID`: resolve the revision with the Hub's API, download the files the import
 * needs into the huggingface_hub cache (each checked against the API's size and hash, resumed
 * when a previous run was interrupted, skipped when the cache has it), then import the snapshot:
 * a transformers folder with the --format hf import, an official .pth with the regular one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { importCheckpoint, type ImportOptions, type ImportResult } from '../weights/import-checkpoint.js';
import { importHfFolder, type HfImportOptions, type HfImportResult } from '../weights/import-hf.js';
import { assertOutAvailable } from '../weights/staged-folder.js';
import { RepoCache, hubCacheDir } from './cache.js';
import { downloadFile, resolveUrl, revisionInfo, type DownloadProgress, type HubConnection, type Sibling } from './client.js';
import { HubError } from './hub-error.js';
import { silentProgress } from './progress.js';
import { selectFiles, type PullPlan } from './select-files.js';

export interface PullOptions {
  /** ORG/NAME (or NAME). */
  readonly repo: string;
  /** Branch, tag or commit; default main. */
  readonly revision?: string;
  readonly out: string;
  readonly hub: HubConnection;
  /** Explicit cache folder (--cache-dir); else from the environment. */
  readonly cacheDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** HF_HUB_OFFLINE: use the cache only. */
  readonly offline?: boolean;
  /** Pick one .pth of a repo that holds several. */
  readonly file?: string;
  /** Options of the import (the .pth path needs `arch`). */
  readonly hf?: Partial<Pick<HfImportOptions, 'name' | 'fp16' | 'pretrain' | 'protocol' | 'force' | 'finish'>>;
  readonly pth?: Partial<Omit<ImportOptions, 'checkpoint' | 'out'>>;
  readonly progress?: DownloadProgress;
}

export interface PullResult {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  readonly format: PullPlan['format'];
  readonly snapshot: string;
  readonly downloaded: string[];
  readonly cached: string[];
  readonly imported: HfImportResult | ImportResult;
}

const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]*\/)?[A-Za-z0-9][A-Za-z0-9._-]*$/;

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const { repo } = options;
  const revision = options.revision ?? 'main';
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.length > 96) {
    throw new InvalidParameterError('repo', repo, "must be a Hub model id like 'MCG-NJU/videomae-base-finetuned-kinetics'");
  }
  if (revision.length === 0 || revision.split('/').some((part) => part === '..' || part === ''))
    throw new InvalidParameterError('revision', revision, 'must be a branch, tag or commit');
  assertOutAvailable(options.out, options.hf?.force === true || options.pth?.force === true);
  const cache = new RepoCache(hubCacheDir(options.env ?? process.env, options.cacheDir), repo);

  const { commit, plan, downloaded, cached } = options.offline
    ? fromCache(cache, repo, revision, options.file)
    : await download(cache, options, revision);
  const snapshot = cache.snapshotDir(commit);
  const hub = { repo, revision, commit };
  const imported =
    plan.format === 'hf'
      ? await importHfFolder({ ...options.hf, dir: snapshot, out: options.out, hub })
      : await importPth(join(snapshot, plan.checkpoint), options);
  return { repo, revision, commit, format: plan.format, snapshot, downloaded, cached, imported };
}

async function download(cache: RepoCache, options: PullOptions, revision: string) {
  const info = await revisionInfo(options.hub, options.repo, revision);
  const plan = selectFiles(info.siblings, options.repo, options.file);
  if (plan.format === 'pth' && !options.pth?.arch) {
    throw new HubError(
      'hub_no_model',
      `'${options.repo}' holds an official checkpoint (${plan.checkpoint}), not a transformers model: pass --arch (and the import-checkpoint options it needs)`,
      'arch',
    );
  }
  const downloaded: string[] = [];
  const cached: string[] = [];
  for (const file of plan.files) {
    const size = file.lfs?.size ?? file.size;
    const blob = file.lfs?.sha256 ?? file.blobId;
    if (size === undefined || !blob)
      throw new HubError('hub_error', `the Hub's API lists '${file.rfilename}' of '${options.repo}' without a size and blob id`);
    if (cache.cachedFile(info.sha, file.rfilename, size)) {
      cached.push(file.rfilename);
      continue;
    }
    await downloadFile(
      options.hub,
      resolveUrl(options.hub, options.repo, info.sha, file.rfilename),
      cache.blobPath(blob),
      file.rfilename,
      {
        size,
        commit: info.sha,
        ...(file.lfs ? { sha256: file.lfs.sha256 } : file.blobId ? { gitBlobId: file.blobId } : {}),
      },
      options.progress ?? silentProgress,
    );
    cache.link(info.sha, file.rfilename, blob);
    downloaded.push(file.rfilename);
  }
  if (revision !== info.sha) cache.writeRef(revision, info.sha);
  return { commit: info.sha, plan, downloaded, cached };
}

/** HF_HUB_OFFLINE: the revision through refs/, the files from the snapshot, no request. */
function fromCache(cache: RepoCache, repo: string, revision: string, file?: string) {
  const commit = /^[0-9a-f]{40}$/.test(revision) ? revision : cache.readRef(revision);
  if (!commit || !existsSync(cache.snapshotDir(commit))) {
    throw new HubError(
      'hub_offline',
      `HF_HUB_OFFLINE is set and the cache at ${cache.root} has no revision '${revision}' of '${repo}'`,
      'revision',
    );
  }
  const names = ['config.json', 'preprocessor_config.json', 'model.safetensors', 'pytorch_model.bin', ...(file ? [file] : [])];
  const siblings: Sibling[] = names.filter((name) => existsSync(join(cache.snapshotDir(commit), name))).map((rfilename) => ({ rfilename }));
  return { commit, plan: selectFiles(siblings, repo, file), downloaded: [] as string[], cached: siblings.map((s) => s.rfilename) };
}

async function importPth(checkpoint: string, options: PullOptions): Promise<ImportResult> {
  return importCheckpoint({ ...options.pth, arch: options.pth!.arch!, checkpoint, out: options.out });
}
