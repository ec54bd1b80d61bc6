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

/**
 * Open requests, so a graceful shutdown knows when the work in flight is done. A request is open
 * until its answer is sent and its body is over: read to the end (Node reads a refused upload's
 * body off a kept-alive connection, so its client gets the answer, not a reset), never coming
 * (an `Expect: 100-continue` request answered without a 100), or cut off by the client.
 */
export function countOpen(state: ServiceState) {
  return (req: Request, res: Response, next: NextFunction): void => {
    state.openRequests++;
    const socket = req.socket;
    let answered = false;
    let closed = false;
    const bodyOver = (): boolean =>
      req.complete ||
      req.readableEnded ||
      req.destroyed ||
      socket.destroyed ||
      (req.headers.expect?.toLowerCase() === '100-continue' && res.locals.continueSent !== true);
    const check = (): void => {
      if (closed || !answered || !bodyOver()) return;
      closed = true;
      state.openRequests--;
      socket.off('close', check);
      // While draining, a connection is not kept for another request once this one is done.
      if (state.draining && !socket.destroyed) socket.end();
    };
    res.once('close', () => {
      answered = true;
      check();
    });
    req.once('end', check);
    req.once('close', check);
    socket.on('close', check);
    next();
  };
}

/** While shutting down, new work is refused; reads (jobs, models, health) still answer. */
export function refuseWhileDraining(state: ServiceState) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!state.draining) {
      next();
      return;
    }
    // A read is answered, and its connection closed after it so clients move to another instance.
    if (req.method !== 'POST') res.setHeader('Connection', 'close');
    if (req.method === 'POST')
      next(new UnavailableError('shutting_down', 'the service is shutting down and takes no new work; retry on another instance', 5));
    else next();
  };
}

/** When the deadline passes, the client gets its 504 now, even if the work is still unwinding. */
export function answerAtDeadline(deadlineMs: number) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const context = contextOf(res);
    context.signal.addEventListener(
      'abort',
      () => {
        if (!context.deadlineExceeded() || res.headersSent) return;
        res.setHeader('Connection', 'close');
        res.status(504).json(errorBody(new DeadlineError(deadlineMs)));
      },
      { once: true },
    );
    next();
  };
}
