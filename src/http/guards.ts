/**
 * The middleware that keeps a bad day contained: admission before the upload is read, the open
 * request count a graceful shutdown waits on, refusal of new work while draining, and the 504
 * when a deadline passes.
 */
import type { NextFunction, Request, Response } from 'express';
import { DeadlineError, UnavailableError } from '../errors.js';
import { errorBody } from './error-mapping.js';
import { contextOf } from './request-context.js';
import type { ServiceState } from './service-state.js';

/** Admission before the upload is read: a refused request costs the server nothing. */
export function admit(state: ServiceState) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    try {
      res.once('close', state.admission.admit());
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** Open requests, so a graceful shutdown knows when the work in flight is done. */
export function countOpen(state: ServiceState) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    state.openRequests++;
    res.once('close', () => { state.openRequests--; });
    next();
  };
}

/** While shutting down, new work is refused; reads (jobs, models, health) still answer. */
export function refuseWhileDraining(state: ServiceState) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (state.draining && req.method === 'POST') next(new UnavailableError('shutting_down', 'the service is shutting down and takes no new work; retry on another instance', 5));
    else next();
  };
}

/** When the deadline passes, the client gets its 504 now, even if the work is still unwinding. */
export function answerAtDeadline(deadlineMs: number) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const context = contextOf(res);
    context.signal.addEventListener('abort', () => {
      if (!context.deadlineExceeded() || res.headersSent) return;
      res.setHeader('Connection', 'close');
      res.status(504).json(errorBody(new DeadlineError(deadlineMs)));
    }, { once: true });
    next();
  };
}
