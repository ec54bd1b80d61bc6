/**
 * The page's HTTP client: the API key (kept for the tab in sessionStorage) on every request,
 * uploads with progress and abort (XMLHttpRequest), and a job's events read from a fetch stream
 * (EventSource cannot send Authorization), reconnecting as EventSource would.
 */
import { ApiError, apiErrorFrom } from './lib/errors.js';
import { SseParser } from './lib/sse.js';
import type { Job, JobProgressEvent, JobStageEvent } from './lib/types.js';

const KEY_STORAGE = 'videomae.apiKey';

export class Api {
  key: string | undefined = sessionStorage.getItem(KEY_STORAGE) ?? undefined;

  setKey(key: string | undefined): void {
    this.key = key || undefined;
    if (this.key) sessionStorage.setItem(KEY_STORAGE, this.key);
    else sessionStorage.removeItem(KEY_STORAGE);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.key ? { ...extra, authorization: `Bearer ${this.key}` } : extra;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers: this.headers(init.headers as Record<string, string> | undefined) });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw new ApiError(0, 'aborted', 'the request was stopped');
      throw new ApiError(0, 'network_error', `the server could not be reached: ${(error as Error).message}`);
    }
    if (!res.ok) throw apiErrorFrom(res.status, await res.text());
    return res;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(path, init);
    return (await res.json()) as T;
  }

  /**
   * POSTs a multipart form; `onUpload` gets the fraction of the body sent. Resolves with the
   * status and parsed body of a 2xx answer; rejects with an ApiError otherwise.
   */
  upload(
    path: string,
    form: FormData,
    onUpload: (fraction: number) => void,
    signal: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path);
      for (const [name, value] of Object.entries(this.headers())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) onUpload(e.loaded / e.total);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) as unknown });
          } catch {
            reject(new ApiError(xhr.status, 'invalid_response', `the server's answer is not JSON: ${xhr.responseText.slice(0, 200)}`));
          }
        } else reject(apiErrorFrom(xhr.status, xhr.responseText));
      };
      xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload failed: the server could not be reached'));
      xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'the request was cancelled'));
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(form);
    });
  }

  /**
   * Follows GET /jobs/{id}/events until the job's final event; a stream that ends without one
   * (deadline, server restart) is opened again after the server's `retry`. Resolves with the
   * finished job.
   */
  async followJob(
    id: string,
    handlers: { progress(e: JobProgressEvent): void; stage(e: JobStageEvent): void },
    signal: AbortSignal,
  ): Promise<Job> {
    for (;;) {
      const parser = new SseParser();
      const res = await this.request(`/jobs/${encodeURIComponent(id)}/events`, { headers: { accept: 'text/event-stream' }, signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const e of parser.feed(value)) {
            const data = JSON.parse(e.data) as unknown;
            if (e.event === 'progress') handlers.progress(data as JobProgressEvent);
            else if (e.event === 'stage') handlers.stage(data as JobStageEvent);
            else if (e.event === 'result' || e.event === 'failure') return data as Job;
          }
        }
      } catch (error) {
        if (signal.aborted) throw new ApiError(0, 'aborted', 'stopped following the job');
        throw new ApiError(0, 'network_error', `the job's event stream broke: ${(error as Error).message}`);
      } finally {
        reader.releaseLock();
      }
      await new Promise((r) => setTimeout(r, parser.retryMs ?? 2000));
      if (signal.aborted) throw new ApiError(0, 'aborted', 'stopped following the job');
    }
  }
}
