/**
 * GET / and GET /web/{file}: the page's bundle served by the app (built here first), open
 * without an API key while the API behind it is not, and clear errors for a file that is not
 * the page's or a bundle that was never built.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.mjs';
import { createApp, loadOpenApiDocument } from '../../src/http/app.js';
import { ServiceState } from '../../src/http/service-state.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { expectError } from '../helpers/openapi.js';

const root = mkdtempSync(join(tmpdir(), 'videomae-page-'));
const webDir = join(root, 'web');

beforeAll(async () => {
  await buildWeb(webDir);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const app = (config: Partial<ConstructorParameters<typeof ServiceState>[0]> = {}) =>
  createApp(new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, webDir, ...config }));

describe('GET / and GET /web/{file}', () => {
  it('serves the page, its script and its style, with a policy that loads nothing from elsewhere', async () => {
    const page = await request(app()).get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const paths = loadOpenApiDocument().paths as Record<string, { get: { responses: Record<string, { content?: object }> } }>;
    expect(Object.keys(paths['/']!.get.responses['200']!.content!)).toEqual(['text/html']);
    expect(page.text).toContain('<script type="module" src="/web/app.js"></script>');
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");

    const script = await request(app()).get('/web/app.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // The bundle holds the page's code (no import of anything at run time).
    expect(script.text).toContain('/jobs/');
    expect(script.text).not.toMatch(/\bimport\s*[({"']/);
    const style = await request(app()).get('/web/app.css');
    expect(style.status).toBe(200);
    expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('serves the page without a key on a server with keys; the API stays closed', async () => {
    const keyed = app({ apiKeys: ['sesame'] });
    expect((await request(keyed).get('/')).status).toBe(200);
    expect((await request(keyed).get('/web/app.js')).status).toBe(200);
    expectError(await request(keyed).get('/models'), 'GET', '/models', 401, 'unauthorized');
    // Only GET, only the page's own files.
    expectError(await request(keyed).get('/web/secret.txt'), 'GET', '/web/{file}', 401, 'unauthorized');
  });

  it('answers 404 for a file that is not the page', async () => {
    const res = await request(app()).get('/web/server.js');
    expectError(res, 'GET', '/web/{file}', 404, 'not_found');
    expect(res.body.error.message).toContain("'server.js' is not a file of the page");
  });

  it('answers 503 page_not_built when the bundle is missing, saying how to build it', async () => {
    const res = await request(app({ webDir: join(root, 'missing') })).get('/');
    expectError(res, 'GET', '/', 503, 'page_not_built');
    expect(res.body.error.message).toContain('npm run build:web');
  });
});
