/**
 * Optional API keys: with keys configured, every route but liveness, readiness and the page
 * (GET / and its assets, which hold no data) needs `Authorization: Bearer <key>` (401
 * `unauthorized` otherwise). Keys are compared in constant
 * time, as digests so their lengths do not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ServiceError } from '../errors.js';
import { isPagePath } from './routes/page.js';

/** Paths a load balancer or orchestrator probes without credentials. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

const AUTHENTICATED = 'authenticated';

/** Whether the request carried a valid key (always true when the server has none). */
export function isAuthenticated(res: Response): boolean {
  return res.locals[AUTHENTICATED] === true;
}

export function requireApiKey(keys: readonly string[]) {
  const digests = keys.map(digest);
  return (req: Request, res: Response, next: NextFunction): void => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const given = match ? digest(match[1]!) : undefined;
    // Every key is compared, so the time does not say which one nearly matched.
    let ok = digests.length === 0;
    for (const d of digests) if (given && timingSafeEqual(given, d)) ok = true;
    res.locals[AUTHENTICATED] = ok;
    if (ok || OPEN_PATHS.has(req.path) || (req.method === 'GET' && isPagePath(req.path))) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="videomae"');
    next(
      new ServiceError(
        401,
        'unauthorized',
        match ? 'the API key in the Authorization header is not valid' : 'this server needs an API key: send Authorization: Bearer <key>',
        { parameter: 'Authorization' },
      ),
    );
  };
}
