/**
 * One error shape for everything the page shows: the server's error body, a job's error, a
 * network failure or a cancelled request all become an ApiError with a status and a code.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The ApiError of an HTTP answer that was not a success: the server's `{error: {...}}` body when
 * it is one, else the status and the start of whatever came back.
 *
 * @example
 * apiErrorFrom(404, '{"error":{"status":404,"code":"model_not_found","message":"no model x"}}').code // 'model_not_found'
 * apiErrorFrom(502, '<html>Bad gateway</html>').code // 'http_502'
 */
export function apiErrorFrom(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { status?: unknown; code?: unknown; message?: unknown; parameter?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string')
      return new ApiError(
        typeof e.status === 'number' ? e.status : status,
        e.code,
        e.message,
        typeof e.parameter === 'string' ? e.parameter : undefined,
      );
  } catch {
    // not JSON: described below
  }
  const text = body.trim().slice(0, 200);
  return new ApiError(
    status,
    `http_${status}`,
    text ? `the server answered ${status}: ${text}` : `the server answered ${status} with no body`,
  );
}

/** The one line the page shows for an error: its message, then its code and status. */
export function describeError(error: ApiError): string {
  return `${error.message} (${error.code}${error.status ? `, HTTP ${error.status}` : ''})`;
}
