/**
 * Video by URL against local HTTP servers: off by default, the allowlist, schemes, non-public
 * addresses refused (loopback by default, IPv4, IPv6 and IPv4-mapped forms), the connection
 * pinned to the checked address, every redirect re-checked and at most 5, size and time caps.
 * "Public" is simulated with an injected address rule where a test must connect to 127.0.0.1.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import type { UrlFetchPolicy } from '../../src/http/fetch-url.js';
import { ServiceState } from '../../src/http/service-state.js';
import { ModelRegistry } from '../../src/runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { prepareTestModels, type TestModels } from '../helpers/models.js';
import { expectError, expectMatchesSpec } from '../helpers/openapi.js';
import { VideoFactory } from '../helpers/videos.js';
import { loadModels } from '../../src/kinds/load-models.js';

const videos = new VideoFactory();
const tempRoot = mkdtempSync(join(tmpdir(), 'videomae-url-test-'));
let models: TestModels;
let registry: ModelRegistry;
let origin: Server;
let port: number;
let video: Buffer;
const hits: string[] = [];

beforeAll(async () => {
  models = await prepareTestModels();
  registry = await loadModels(models.dir, { device: 'cpu' });
  video = readFileSync(videos.pattern('remote.mp4', 1));
  // The "remote" side: a video, redirects, a body too large, one that never ends.
  origin = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/clip.mp4') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': video.length }).end(video);
      return;
    }
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/clip.mp4' }).end();
      return;
    }
    if (url.pathname.startsWith('/loop')) {
      const n = Number(url.pathname.slice(5) || 0);
      res.writeHead(301, { location: `/loop${n + 1}` }).end();
      return;
    }
    if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': 10_000_000 }).end();
      return;
    }
    if (url.pathname === '/big-chunked') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024);
      const send = (): void => {
        if (res.write(chunk)) setImmediate(send);
        else res.once('drain', send);
      };
      send();
      req.on('close', () => res.destroy());
      return;
    }
    if (url.pathname === '/stall') {
      res.writeHead(200);
      res.write('x');
      req.on('close', () => res.destroy());
      return;
    }
    res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  await new Promise((r) => origin.once('listening', r));
  port = (origin.address() as AddressInfo).port;
});

afterAll(async () => {
  origin?.close();
  await registry?.close();
  models?.cleanup();
  videos.cleanup();
  rmSync(tempRoot, { recursive: true, force: true });
});

/** A server whose URL policy is `policy` (none: the feature is off). */
function serve(policy?: Partial<UrlFetchPolicy>): Server {
  const state = new ServiceState({
    device: 'cpu',
    limits: DEFAULT_LIMITS,
    maxBatch: 4,
    tempDir: tempRoot,
    ...(policy ? { urlFetch: { allowHosts: [], maxBytes: 5_000_000, timeoutMs: 5_000, maxRedirects: 5, ...policy } } : {}),
  });
  state.setRegistry(registry);
  return createApp(state).listen(0);
}

/** Names resolve as the test says; 127.0.0.1 counts as public, 10/8 as private. */
const lab = (names: Record<string, string>): Partial<UrlFetchPolicy> => ({
  resolve: async (host) => (names[host] ? [{ address: names[host]!, family: 4 }] : Promise.reject(new Error('ENOTFOUND'))),
  forbidAddress: (address) => address.startsWith('10.'),
});

async function classifyUrl(server: Server, url: string) {
  return request(server).post('/classify').query({ url, protocol: 'fast' });
}

describe('video by URL', () => {
  it('is off by default', async () => {
    const server = serve();
    try {
      expectError(await classifyUrl(server, `http://127.0.0.1:${port}/clip.mp4`), 'POST', '/classify', 400, 'url_disabled');
      // GET /models says so (the page offers no URL field then).
      expect((await request(server).get('/models')).body.videoUrls).toBe(false);
    } finally {
      server.close();
    }
  });

  it('fetches from an allowed host, connecting to the checked address (the name exists only in the test resolver)', async () => {
    const server = serve({ allowHosts: ['videos.example'], ...lab({ 'videos.example': '127.0.0.1' }) });
    try {
      const models = await request(server).get('/models');
      expectMatchesSpec(models, 'GET', '/models');
      expect(models.body.videoUrls).toBe(true);
      const res = await classifyUrl(server, `http://videos.example:${port}/clip.mp4`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expectMatchesSpec(res, 'POST', '/classify');
      expect(res.body.labels.length).toBeGreaterThan(0);
      // As a form field too, for the job endpoints' shape.
      const form = await request(server).post('/classify').field('url', `http://videos.example:${port}/clip.mp4`).field('protocol', 'fast');
      expect(form.status).toBe(200);
      expect(readdirSync(tempRoot)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('refuses hosts off the allowlist, other schemes, credentials, and a URL beside an upload', async () => {
    const server = serve({
      allowHosts: ['videos.example', '*.cdn.example'],
      ...lab({ 'videos.example': '127.0.0.1', 'a.cdn.example': '127.0.0.1' }),
    });
    try {
      expectError(await classifyUrl(server, `http://other.example:${port}/clip.mp4`), 'POST', '/classify', 400, 'url_not_allowed');
      expectError(await classifyUrl(server, `http://cdn.example.evil:${port}/clip.mp4`), 'POST', '/classify', 400, 'url_not_allowed');
      expect((await classifyUrl(server, `http://a.cdn.example:${port}/clip.mp4`)).status).toBe(200);
      for (const url of ['file:///etc/passwd', `ftp://videos.example:${port}/x`, 'gopher://videos.example/x']) {
        expectError(await classifyUrl(server, url), 'POST', '/classify', 400, 'url_not_allowed');
      }
      expectError(await classifyUrl(server, `http://user:pw@videos.example:${port}/clip.mp4`), 'POST', '/classify', 400, 'url_not_allowed');
      expectError(await classifyUrl(server, 'not a url'), 'POST', '/classify', 400, 'invalid_parameter');
      const both = await request(server)
        .post('/classify')
        .query({ url: `http://videos.example:${port}/clip.mp4` })
        .attach('video', videos.pattern('b.mp4', 1));
      expectError(both, 'POST', '/classify', 400, 'invalid_parameter');
    } finally {
      server.close();
    }
  });

  it('refuses loopback, private, link-local, metadata and mapped addresses with the real rule', async () => {
    const hosts = [
      '127.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '169.254.169.254',
      '10.0.0.7',
      '192.168.1.1',
      '[fd00::1]',
      '[fe80::1]',
      'localhost',
    ];
    const server = serve({ allowHosts: hosts.map((h) => h.replace(/^\[|\]$/g, '')) });
    try {
      const before = hits.length;
      for (const host of hosts) {
        const res = await classifyUrl(server, `http://${host}:${port}/clip.mp4`);
        expectError(res, 'POST', '/classify', 400, 'url_forbidden_address');
        expect(res.body.error.parameter).toBe('url');
      }
      expect(hits.length).toBe(before); // nothing was ever fetched
    } finally {
      server.close();
    }
  });

  it('re-checks every redirect: to a host off the list, to a private address, and more than 5', async () => {
    const server = serve({
      allowHosts: ['videos.example', 'inside.example'],
      ...lab({ 'videos.example': '127.0.0.1', 'inside.example': '10.0.0.5' }),
    });
    try {
      expect((await classifyUrl(server, `http://videos.example:${port}/redirect`)).status).toBe(200);
      expectError(
        await classifyUrl(
          server,
          `http://videos.example:${port}/redirect?to=${encodeURIComponent(`http://elsewhere.example:${port}/clip.mp4`)}`,
        ),
        'POST',
        '/classify',
        400,
        'url_not_allowed',
      );
      expectError(
        await classifyUrl(
          server,
          `http://videos.example:${port}/redirect?to=${encodeURIComponent(`http://inside.example:${port}/clip.mp4`)}`,
        ),
        'POST',
        '/classify',
        400,
        'url_forbidden_address',
      );
      expectError(
        await classifyUrl(server, `http://videos.example:${port}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`),
        'POST',
        '/classify',
        400,
        'url_not_allowed',
      );
      const before = hits.filter((h) => h.startsWith('/loop')).length;
      expectError(await classifyUrl(server, `http://videos.example:${port}/loop0`), 'POST', '/classify', 400, 'too_many_redirects');
      expect(hits.filter((h) => h.startsWith('/loop')).length - before).toBe(6); // the first request + 5 redirects
    } finally {
      server.close();
    }
  });

  it('caps size (declared or streamed) and time, leaving no file behind', async () => {
    const server = serve({
      allowHosts: ['videos.example'],
      maxBytes: 1_000_000,
      timeoutMs: 800,
      ...lab({ 'videos.example': '127.0.0.1' }),
    });
    try {
      expectError(await classifyUrl(server, `http://videos.example:${port}/big`), 'POST', '/classify', 413, 'url_too_large');
      expectError(await classifyUrl(server, `http://videos.example:${port}/big-chunked`), 'POST', '/classify', 413, 'url_too_large');
      const started = performance.now();
      expectError(await classifyUrl(server, `http://videos.example:${port}/stall`), 'POST', '/classify', 504, 'url_fetch_timeout');
      expect(performance.now() - started).toBeLessThan(3_000);
      expectError(await classifyUrl(server, `http://videos.example:${port}/missing`), 'POST', '/classify', 502, 'url_fetch_failed');
      await new Promise((r) => setTimeout(r, 50));
      expect(readdirSync(tempRoot)).toEqual([]);
    } finally {
      server.close();
    }
  });
});
