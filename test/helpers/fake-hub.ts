/**
 * A local stand-in for the Hugging Face Hub (node:http on port 0): the model API
 * (`/api/models/{repo}/revision/{rev}?blobs=true`), resolve URLs with X-Repo-Commit / ETag /
 * X-Linked-Etag, LFS files redirected to a second server (the "CDN", another host:port) that
 * honours Range requests. Knobs for the failures a pull must survive: a token requirement, a
 * connection cut mid-file, a corrupted file. Every request is logged.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface LoggedRequest {
  readonly server: 'hub' | 'cdn';
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
}

interface RepoFile {
  readonly name: string;
  readonly data: Buffer;
  readonly lfs: boolean;
  readonly sha256: string;
  readonly gitBlobId: string;
}

export interface FakeRepo {
  readonly id: string;
  readonly commit: string;
  readonly files: RepoFile[];
}

export interface FakeHubOptions {
  /** Requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
  /** The CDN cuts the connection halfway through this file, the first `cuts` times (default 1). */
  cutFile?: string;
  cuts?: number;
  /** The CDN serves this file with one byte flipped (same size). */
  corruptFile?: string;
}

const LFS_SUFFIXES = ['.safetensors', '.bin', '.pth', '.pt'];

export function gitBlobId(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** A repo from the files of a folder (plus a README and .gitattributes that a pull must not fetch). */
export function repoFromFolder(
  id: string,
  dir: string,
  commit = createHash('sha1')
    .update(id + dir)
    .digest('hex'),
): FakeRepo {
  const files = readdirSync(dir).map((name) => ({ name, data: readFileSync(join(dir, name)) }));
  files.push({ name: 'README.md', data: Buffer.from(`# ${id}\n`) }, { name: '.gitattributes', data: Buffer.from('*.bin filter=lfs\n') });
  return {
    id,
    commit,
    files: files.map(({ name, data }) => ({
      name,
      data,
      lfs: LFS_SUFFIXES.some((s) => name.endsWith(s)),
      sha256: createHash('sha256').update(data).digest('hex'),
      gitBlobId: gitBlobId(data),
    })),
  };
}

export class FakeHub {
  readonly log: LoggedRequest[] = [];
  private hub!: Server;
  private cdn!: Server;
  private cutsLeft: number;
  endpoint = '';
  cdnOrigin = '';

  constructor(
    private readonly repos: FakeRepo[],
    readonly options: FakeHubOptions = {},
  ) {
    this.cutsLeft = options.cutFile ? (options.cuts ?? 1) : 0;
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => this.handleHub(req, res));
    this.cdn = createServer((req, res) => this.handleCdn(req, res));
    this.endpoint = `http://127.0.0.1:${await listen(this.hub, '127.0.0.1')}`;
    // Another host (127.0.0.0/8 is all loopback on Linux): the Authorization header must not follow the redirect there.
    this.cdnOrigin = `http://127.0.0.2:${await listen(this.cdn, '127.0.0.2')}`;
    return this;
  }

  async close(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Requests that fetched file contents (resolve URLs and CDN), not API calls. */
  fileRequests(): LoggedRequest[] {
    return this.log.filter((r) => r.server === 'cdn' || r.path.includes('/resolve/'));
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.log.push({
      server,
      method: req.method ?? 'GET',
      path: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return error(res, 401, 'RepoNotFound', 'Invalid username or password.');
    }
    const url = new URL(req.url ?? '/', this.endpoint);
    const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = this.repos.find((r) => r.id === api[1]);
      if (!repo) return error(res, 404, 'RepoNotFound', 'Repository not found');
      const revision = decodeURIComponent(api[2]!);
      if (revision !== 'main' && revision !== repo.commit) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          id: repo.id,
          modelId: repo.id,
          sha: repo.commit,
          private: Boolean(this.options.token),
          tags: ['videomae'],
          siblings: repo.files.map((f) => ({
            rfilename: f.name,
            size: f.data.length,
            blobId: f.lfs ? createHash('sha1').update(`pointer ${f.name}`).digest('hex') : f.gitBlobId,
            ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.data.length, pointerSize: 134 } } : {}),
          })),
        }),
      );
      return;
    }
    const resolve = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = resolve && this.repos.find((r) => r.id === resolve[1]);
    if (!resolve || !repo) return error(res, 404, 'RepoNotFound', 'Repository not found');
    if (decodeURIComponent(resolve[2]!) !== repo.commit && resolve[2] !== 'main')
      return error(res, 404, 'RevisionNotFound', 'Invalid rev id');
    const file = repo.files.find((f) => f.name === decodeURIComponent(resolve[3]!));
    if (!file) return error(res, 404, 'EntryNotFound', 'Entry not found');
    res.setHeader('X-Repo-Commit', repo.commit);
    if (file.lfs) {
      res.setHeader('X-Linked-Etag', `"${file.sha256}"`);
      res.setHeader('X-Linked-Size', String(file.data.length));
      res.setHeader('ETag', `"${file.gitBlobId}"`);
      res.setHeader('Location', `${this.cdnOrigin}/repos/${file.sha256}?response-content-disposition=attachment`);
      res.statusCode = 302;
      res.end();
      return;
    }
    res.setHeader('ETag', `"${file.gitBlobId}"`);
    serveBytes(req, res, file.data);
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    const sha = /^\/repos\/([0-9a-f]{64})/.exec(req.url ?? '')?.[1];
    const file = this.repos.flatMap((r) => r.files).find((f) => f.sha256 === sha);
    if (!file) return error(res, 404, 'EntryNotFound', 'no such object');
    let data = file.data;
    if (file.name === this.options.corruptFile) {
      data = Buffer.from(data);
      data[data.length >> 1] = data[data.length >> 1]! ^ 0xff;
    }
    res.setHeader('ETag', `"${file.sha256}"`);
    if (file.name === this.options.cutFile && this.cutsLeft > 0) {
      this.cutsLeft--;
      res.writeHead(200, { 'Content-Length': String(data.length), 'Content-Type': 'application/octet-stream' });
      res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    serveBytes(req, res, data);
  }
}

function serveBytes(req: IncomingMessage, res: ServerResponse, data: Buffer): void {
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    if (start >= data.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
      res.end();
      return;
    }
    res.writeHead(206, {
      'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}`,
      'Content-Length': String(data.length - start),
    });
    res.end(data.subarray(start));
    return;
  }
  res.writeHead(200, { 'Content-Length': String(data.length) });
  res.end(data);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Error-Code': code, 'X-Error-Message': message });
  res.end(JSON.stringify({ error: message }));
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
