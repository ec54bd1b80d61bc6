/**
 * The Hugging Face Hub over HTTP (Node's fetch): the model API that lists a revision's files with
 * their sizes and hashes, and resumable, verified file downloads from the resolve URLs. Redirects
 * (to a CDN) are followed by hand so that the token never leaves the Hub's host.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { HubError } from './hub-error.js';

export interface HubConnection {
  /** HF_ENDPOINT, default https://huggingface.co (no trailing slash). */
  readonly endpoint: string;
  /** HF_TOKEN: sent as a Bearer token to the endpoint's host only. */
  readonly token?: string;
}

/** One file of a revision as the API lists it (`?blobs=true`). */
export interface Sibling {
  readonly rfilename: string;
  readonly size?: number;
  /** The git blob id (sha1 of "blob <size>\0" + contents; for LFS files, of the pointer). */
  readonly blobId?: string;
  readonly lfs?: { readonly sha256: string; readonly size: number };
}

export interface RevisionInfo {
  /** The commit the revision resolves to. */
  readonly sha: string;
  readonly siblings: Sibling[];
}

export interface DownloadProgress {
  start(file: string, total: number, resumedFrom: number): void;
  advance(bytes: number): void;
  finish(): void;
}

const MAX_REDIRECTS = 10;

export function connectionFromEnv(env: NodeJS.ProcessEnv): HubConnection {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  try {
    new URL(endpoint);
  } catch {
    throw new HubError('hub_unreachable', `HF_ENDPOINT '${endpoint}' is not a URL`, 'HF_ENDPOINT');
  }
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  return { endpoint, ...(token ? { token } : {}) };
}

/** GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true */
export async function revisionInfo(hub: HubConnection, repo: string, revision: string): Promise<RevisionInfo> {
  const url = `${hub.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const response = await request(hub, url, {}, { repo, revision });
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new HubError(
      'hub_error',
      `the Hub at ${hub.endpoint} answered ${url} with something that is not JSON (${(error as Error).message})`,
    );
  }
  const info = body as Partial<RevisionInfo>;
  if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha) || !Array.isArray(info.siblings)) {
    throw new HubError('hub_error', `the Hub at ${hub.endpoint} answered ${url} without a commit sha and a siblings list`);
  }
  return { sha: info.sha, siblings: info.siblings.filter((s): s is Sibling => typeof s?.rfilename === 'string') };
}

export function resolveUrl(hub: HubConnection, repo: string, commit: string, file: string): string {
  return `${hub.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

export interface Expected {
  readonly size: number;
  /** LFS files: sha256 of the contents. */
  readonly sha256?: string;
  /** Other files: the git blob id. */
  readonly gitBlobId?: string;
  /** The commit the file must come from (X-Repo-Commit, when the Hub sends it). */
  readonly commit: string;
}

/**
 * Downloads `url` into `target`, through `target.incomplete`: an existing partial file is
 * continued with a Range request; the result is checked against the expected size and hash
 * before it is renamed into place. An interrupted transfer keeps the partial file.
 */
export async function downloadFile(
  hub: HubConnection,
  url: string,
  target: string,
  file: string,
  expected: Expected,
  progress: DownloadProgress,
): Promise<void> {
  const partial = `${target}.incomplete`;
  mkdirSync(dirname(target), { recursive: true });
  let have = existsSync(partial) ? statSync(partial).size : 0;
  if (have > expected.size) {
    rmSync(partial);
    have = 0;
  }
  const context = { repo: '', file };
  let response: Response | undefined;
  if (have < expected.size) {
    response = await request(hub, url, { 'Accept-Encoding': 'identity', ...(have > 0 ? { Range: `bytes=${have}-` } : {}) }, context);
    if (have > 0 && response.status !== 206) have = 0; // the server sent the whole file: start over
    if (response.status === 206 && !(response.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`)) {
      await response.body?.cancel();
      throw new HubError(
        'hub_error',
        `the Hub at ${hub.endpoint} answered a request for '${file}' from byte ${have} with Content-Range '${response.headers.get('content-range')}'`,
      );
    }
    const commit = response.headers.get('x-repo-commit');
    if (commit && commit !== expected.commit) {
      await response.body?.cancel();
      throw new HubError('hub_error', `the Hub at ${hub.endpoint} sent '${file}' of commit ${commit}, not of ${expected.commit}`);
    }
  }

  const sha256 = createHash('sha256');
  const git = createHash('sha1').update(`blob ${expected.size}\0`);
  if (have > 0) await hashFile(partial, [sha256, git]);
  progress.start(file, expected.size, have);
  const fd = openSync(partial, have > 0 ? 'a' : 'w');
  let written = have;
  try {
    if (response?.body) {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        if (written + chunk.length > expected.size)
          throw new HubError(
            'hub_integrity',
            `'${file}' from ${hub.endpoint} is longer than the ${expected.size} bytes the Hub's API lists`,
            'file',
          );
        writeSync(fd, chunk);
        sha256.update(chunk);
        git.update(chunk);
        written += chunk.length;
        progress.advance(chunk.length);
      }
    }
  } catch (error) {
    closeSync(fd);
    progress.finish();
    if (error instanceof HubError) {
      rmSync(partial, { force: true });
      throw error;
    }
    if ((error as { syscall?: string }).syscall === 'write') throw error; // the disk, not the network (the partial file stays)
    throw new HubError(
      'hub_unreachable',
      `the download of '${file}' from ${hub.endpoint} was interrupted after ${written} of ${expected.size} bytes (${describeNetworkError(error)}); run the same command again to resume it`,
    );
  }
  closeSync(fd);
  progress.finish();
  const refuse = (why: string): never => {
    rmSync(partial, { force: true });
    throw new HubError(
      'hub_integrity',
      `'${file}' from ${hub.endpoint} ${why}; nothing was imported (the partial download was deleted)`,
      'file',
    );
  };
  if (written !== expected.size) refuse(`has ${written} bytes, but the Hub's API lists ${expected.size}`);
  if (expected.sha256 && sha256.digest('hex') !== expected.sha256)
    refuse(`does not have the sha256 ${expected.sha256} that the Hub's API lists`);
  if (!expected.sha256 && expected.gitBlobId && git.digest('hex') !== expected.gitBlobId)
    refuse(`does not have the git blob id ${expected.gitBlobId} that the Hub's API lists`);
  renameSync(partial, target);
}

async function hashFile(path: string, hashes: Hash[]): Promise<void> {
  for await (const chunk of createReadStream(path)) for (const h of hashes) h.update(chunk as Buffer);
}

/** A GET that follows redirects, sending the token to the endpoint's host only, and maps failures to HubErrors. */
async function request(
  hub: HubConnection,
  url: string,
  headers: Record<string, string>,
  context: { repo?: string; revision?: string; file?: string },
): Promise<Response> {
  const hubHost = new URL(hub.endpoint).host;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const target = new URL(current);
    const auth: Record<string, string> = hub.token && target.host === hubHost ? { Authorization: `Bearer ${hub.token}` } : {};
    let response: Response;
    try {
      response = await fetch(current, { headers: { 'User-Agent': 'videomae-pull/1', ...headers, ...auth }, redirect: 'manual' });
    } catch (error) {
      throw new HubError(
        'hub_unreachable',
        `cannot reach the Hub at ${target.origin} (${describeNetworkError(error)}); check the network or set HF_ENDPOINT`,
        'HF_ENDPOINT',
      );
    }
    if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      await response.body?.cancel();
      current = new URL(response.headers.get('location')!, current).toString();
      continue;
    }
    if (response.ok) return response;
    await response.body?.cancel();
    throw statusError(hub, response, current, context);
  }
  throw new HubError('hub_error', `the Hub at ${hub.endpoint} redirected ${url} more than ${MAX_REDIRECTS} times`);
}

function statusError(
  hub: HubConnection,
  response: Response,
  url: string,
  context: { repo?: string; revision?: string; file?: string },
): HubError {
  const code = response.headers.get('x-error-code') ?? '';
  const what = context.file ? `'${context.file}'` : `'${context.repo}'${context.revision ? ` at revision '${context.revision}'` : ''}`;
  if (response.status === 401 || response.status === 403) {
    const gated = code === 'GatedRepo' || response.status === 403;
    return new HubError(
      'hub_unauthorized',
      hub.token
        ? `the Hub at ${hub.endpoint} refused the token in HF_TOKEN for ${what} (${response.status}${code ? ` ${code}` : ''})${gated ? '; the repository may be gated: accept its terms on the Hub first' : ''}`
        : `the Hub at ${hub.endpoint} needs a token for ${what} (${response.status}${code ? ` ${code}` : ''}): set HF_TOKEN to an access token that can read it (private or gated repositories; a repository that does not exist answers so too)`,
      'HF_TOKEN',
    );
  }
  if (response.status === 404) {
    const parameter = code === 'RevisionNotFound' ? 'revision' : code === 'EntryNotFound' ? 'file' : 'repo';
    const reason =
      code === 'RevisionNotFound'
        ? `revision '${context.revision}' not found`
        : code === 'EntryNotFound'
          ? 'file not found'
          : 'repository or revision not found';
    return new HubError('hub_not_found', `the Hub at ${hub.endpoint} has no ${what}: ${reason} (404 for ${url})`, parameter);
  }
  return new HubError('hub_error', `the Hub at ${hub.endpoint} answered ${response.status} ${response.statusText} for ${url}`);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
