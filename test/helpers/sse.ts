/**
 * A Server-Sent Events client for the tests: opens a stream over a real socket and parses its
 * frames as they arrive (event name, JSON data; comments and `retry` kept apart).
 */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

export interface SseStream {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** The next event, or undefined once the stream has ended. */
  next(): Promise<SseEvent | undefined>;
  /** Every event until the stream ends. */
  rest(): Promise<SseEvent[]>;
  /** The `retry` values and comment lines seen so far. */
  readonly meta: { retry: number[]; comments: string[] };
  /** The body when the answer was not a stream (an error). */
  json(): Promise<unknown>;
  /** Hangs up, as a browser tab that is closed. */
  close(): void;
}

/** Parses complete frames out of `buffer`; returns the events and what is left over. */
export function parseFrames(buffer: string, meta: SseStream['meta']): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  let end: number;
  while ((end = rest.indexOf('\n\n')) >= 0) {
    const frame = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = 'message';
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) meta.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
      else if (line.startsWith('retry: ')) meta.retry.push(Number(line.slice(7)));
    }
    if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return { events, rest };
}

export function openEvents(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8');
      const meta: SseStream['meta'] = { retry: [], comments: [] };
      const queue: SseEvent[] = [];
      const waiting: Array<(e: SseEvent | undefined) => void> = [];
      let buffer = '';
      let raw = '';
      let ended = false;
      res.on('data', (chunk: string) => {
        raw += chunk;
        const parsed = parseFrames(buffer + chunk, meta);
        buffer = parsed.rest;
        for (const e of parsed.events) {
          const wake = waiting.shift();
          if (wake) wake(e);
          else queue.push(e);
        }
      });
      const finish = (): void => {
        ended = true;
        for (const wake of waiting.splice(0)) wake(undefined);
      };
      res.on('end', finish);
      res.on('close', finish);
      const next = (): Promise<SseEvent | undefined> =>
        queue.length ? Promise.resolve(queue.shift()) : ended ? Promise.resolve(undefined) : new Promise((r) => waiting.push(r));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        meta,
        next,
        async rest() {
          const all: SseEvent[] = [];
          for (let e = await next(); e; e = await next()) all.push(e);
          return all;
        },
        async json() {
          if (!ended) await new Promise((r) => res.once('end', r));
          return JSON.parse(raw) as unknown;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (error) => {
      // A hang-up of our own after the answer came is no failure.
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}
