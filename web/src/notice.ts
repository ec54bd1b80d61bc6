/** The page's one error box: every error shows its message and its code (and HTTP status). */
import { byId } from './dom.js';
import { ApiError, describeError } from './lib/errors.js';

export function showError(error: unknown): void {
  const e = error instanceof ApiError ? error : new ApiError(0, 'page_error', (error as Error)?.message ?? String(error));
  byId('error-code').textContent = e.code;
  byId('error-message').textContent = describeError(e);
  byId('error').hidden = false;
}

export function clearError(): void {
  byId('error').hidden = true;
}
