/**
 * Per-request facts every layer may need: an id (taken from a sane X-Request-Id or made here,
 * echoed in the response header and in every log line), and one AbortSignal that fires when the
 * client disconnects or the request's deadline passes. Work below http/ only sees the signal:
 * aborting it kills ffmpeg and drops queued runs.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AbortedError, DeadlineError } from '../errors.js';

export interface RequestContext {
  readonly id: string;
  readonly startedAt: number;
  /** performance.now() at which the deadline passes (Infinity without one). */
  readonly deadlineAt: number;
  readonly signal: AbortSignal;
  /** Set once the deadline has passed (the answer is then a 504). */
  readonly deadlineExceeded: () => boolean;
}

const CONTEXT_KEY = 'requestContext';
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(deadlineMs: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get('x-request-id');
    const id = given && CLIENT_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    const controller = new AbortController();
    let exceeded = false;
    const timer =
      deadlineMs > 0
        ? setTimeout(() => {
            exceeded = true;
            controller.abort(new DeadlineError(deadlineMs));
          }, deadlineMs)
        : undefined;
    timer?.unref();
    const onClose = (): void => {
      clearTimeout(timer);
      if (!res.writableFinished) controller.abort(new AbortedError('client disconnected'));
    };
    res.once('close', onClose);
    res.once('finish', () => clearTimeout(timer));
    const startedAt = performance.now();
    const context: RequestContext = {
      id,
      startedAt,
      deadlineAt: deadlineMs > 0 ? startedAt + deadlineMs : Infinity,
      signal: controller.signal,
      deadlineExceeded: () => exceeded,
    };
    res.locals[CONTEXT_KEY] = context;
    next();
  };
}

export function contextOf(res: Response): RequestContext {
  const context = res.locals[CONTEXT_KEY] as RequestContext | undefined;
  if (!context) throw new Error('request context middleware is not installed');
  return context;
}
