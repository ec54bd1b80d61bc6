/**
 * GET / and GET /web/{file}: the results page (web/, bundled by `npm run build:web` into
 * dist/web/). The page and its two assets hold no data, so they are served without an API key;
 * the page asks for one when the API answers 401.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import { NotFoundError, ServiceError } from '../../errors.js';

/** Where the bundle is: dist/web/ at the repository root, from src/http/routes or dist/http/routes alike. */
export const WEB_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/** The bundle's files, by the name they are served under. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Paths of the page, open without an API key. */
export function isPagePath(path: string): boolean {
  return path === '/' || (path.startsWith('/web/') && Object.hasOwn(ASSETS, path.slice('/web/'.length)));
}

// The page loads only its own script and style; the player plays an object URL of the upload
// (or, for a video given by URL, that URL), and the API is on the same origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: http: https:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function notBuilt(dir: string): ServiceError {
  return new ServiceError(503, 'page_not_built', `the page is not built (no ${dir}): run npm run build:web (npm run build runs it)`);
}

function send(res: Response, dir: string, file: string, type: string): void {
  const path = join(dir, file);
  if (!existsSync(path)) throw notBuilt(dir);
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.sendFile(path);
}

export function pageHandler(dir = WEB_DIR) {
  return (_req: Request, res: Response): void => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    send(res, dir, 'index.html', 'text/html; charset=utf-8');
  };
}

export function assetHandler(dir = WEB_DIR) {
  return (req: Request, res: Response): void => {
    const name = String(req.params.file);
    const type = ASSETS[name];
    if (!Object.hasOwn(ASSETS, name) || !type)
      throw new NotFoundError('not_found', `'${name}' is not a file of the page (${Object.keys(ASSETS).join(', ')})`, {
        parameter: 'file',
      });
    send(res, dir, name, type);
  };
}
