/**
 * Structured JSON logs (pino). Every request gets a child logger carrying its request id, so
 * each line of that request can be found by the id the client got in X-Request-Id. Stack traces
 * go to the log, never into a response.
 */
import type { NextFunction, Request, Response } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { ServiceMetrics } from './metrics.js';
import { contextOf } from './request-context.js';

export type { Logger } from 'pino';

export function createLogger(destination?: DestinationStream, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const options = { level, base: { service: 'videomae' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}

export const SILENT_LOGGER: Logger = pino({ level: 'silent' });

const LOG_KEY = 'log';

/** The request's logger (its lines carry `reqId`). */
export function logOf(res: Response): Logger {
  return (res.locals[LOG_KEY] as Logger | undefined) ?? SILENT_LOGGER;
}

/** One line per request when it ends, and the request metrics. Needs requestContext first. */
export function requestLogging(logger: Logger, metrics: ServiceMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const context = contextOf(res);
    const log = logger.child({ reqId: context.id });
    res.locals[LOG_KEY] = log;
    log.debug({ method: req.method, path: req.path }, 'request received');
    res.once('close', () => {
      // The matched route pattern keeps label cardinality bounded (/jobs/:id, not every id).
      const route = req.route?.path ? String(req.route.path) : 'unmatched';
      const status = res.headersSent ? res.statusCode : 499;
      const seconds = (performance.now() - context.startedAt) / 1000;
      metrics.requests.inc({ route, method: req.method, status: String(status) });
      metrics.requestSeconds.observe({ route }, seconds);
      const fields = {
        method: req.method,
        route,
        path: req.path,
        status,
        ms: Math.round(seconds * 1000),
        ...(res.writableFinished ? {} : { clientGone: true }),
      };
      if (status >= 500) log.error(fields, 'request failed');
      else log.info(fields, 'request done');
    });
    next();
  };
}
