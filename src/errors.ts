/**
 * The one error hierarchy of the service. Every failure a user can cause carries an HTTP status,
 * a stable machine-readable code, and a message that names the offending parameter and value.
 * Rooms below http/ throw these; http/ turns them into the shared error body.
 */

export interface ErrorDetails {
  /** The request parameter (or file field) the error is about, e.g. `topK` or `video`. */
  readonly parameter?: string;
  /** The offending value as received, when it is safe and short enough to echo back. */
  readonly value?: unknown;
}

export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: a request parameter is missing, malformed or out of range. */
export class InvalidParameterError extends ServiceError {
  constructor(parameter: string, value: unknown, reason: string, code = 'invalid_parameter') {
    super(400, code, `parameter '${parameter}' ${reason} (got ${describeValue(value)})`, { parameter, value });
  }
}

/** 404: a named resource (model, job) does not exist. */
export class NotFoundError extends ServiceError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(404, code, message, details);
  }
}

/** 413: the upload or the video it holds exceeds a configured limit. */
export class TooLargeError extends ServiceError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(413, code, message, details);
  }
}

/** 413: decoding what the request asks for would cost more than the decode budget (limits.ts). */
export class DecodeBudgetError extends TooLargeError {
  constructor(message: string, pixels: number) {
    super('decode_budget_exceeded', message, { parameter: 'video', value: Math.round(pixels) });
  }
}

/** 415: the upload is not a video we can decode. */
export class UnsupportedMediaError extends ServiceError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(415, code, message, details);
  }
}

/** 503: the service cannot take the request now (models loading, overloaded, shutting down). */
export class UnavailableError extends ServiceError {
  /** Seconds the client should wait before trying again (the Retry-After header), when known. */
  constructor(
    code: string,
    message: string,
    readonly retryAfterSec?: number,
  ) {
    super(503, code, message);
  }
}

/** 504: the request's deadline passed before its answer was ready; its work was stopped. */
export class DeadlineError extends ServiceError {
  constructor(deadlineMs: number) {
    super(
      504,
      'deadline_exceeded',
      `the request took longer than its deadline of ${(deadlineMs / 1000).toFixed(1)} s; its work was stopped`,
    );
  }
}

/** The client went away (or a deadline passed) and the work was stopped; nobody reads the answer. */
export class AbortedError extends ServiceError {
  constructor(reason: string) {
    super(499, 'request_aborted', `request aborted: ${reason}`);
  }
}

/** An invariant of our own code broke; never the user's fault. */
export class InternalError extends ServiceError {
  constructor(message: string) {
    super(500, 'internal_error', message);
  }
}

/** 507: the disk that holds uploads or jobs is full; nothing half-written was kept. */
export class InsufficientStorageError extends ServiceError {
  constructor(what: string) {
    super(
      507,
      'insufficient_storage',
      `the server has no room left to store ${what}; nothing was kept; retry later or on another instance`,
    );
  }
}

/** ENOSPC / EDQUOT from the file system, SQLITE_FULL from the job database. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** Renders a value for an error message without dumping large or nested input. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Throws an InternalError with a lazily built message when `condition` is false. */
export function assert(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new InternalError(message());
}
