/** Uploads driven byte by byte: a multipart body held open after its first bytes, raw requests. */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldUpload {
  /** Sends the rest of the body. */
  finish(): void;
  /** Stops sending and closes the connection, as a client that gives up. */
  abort(): void;
  /** The client request, for its own events. */
  request: ClientRequest;
  response: Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
}

/** The port a test server listens on, from the server or its URL. */
export function portOf(server: Server | string): number {
  return typeof server === 'string' ? Number(new URL(server).port) : (server.address() as AddressInfo).port;
}

/**
 * A multipart upload of `file` to `path` whose body is held open after its first bytes: it stays
 * admitted (the server is reading its upload) until `finish` sends the rest.
 */
export function heldUpload(server: Server | string, file: string, path = '/classify?protocol=fast', agent?: Agent): HeldUpload {
  const boundary = 'held-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="video"; filename="held.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const video = readFileSync(file);
  const req = httpRequest({
    host: '127.0.0.1',
    port: portOf(server),
    method: 'POST',
    path,
    agent,
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': head.length + video.length + tail.length },
  });
  const response = new Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>(
    (resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', reject);
    },
  );
  req.write(head);
  req.write(video.subarray(0, 100));
  return {
    finish: () => {
      req.end(Buffer.concat([video.subarray(100), tail]));
    },
    abort: () => {
      req.destroy();
    },
    request: req,
    response,
  };
}

/** One request on `agent` (so a kept-alive connection can be reused), answered in full. */
export function send(
  server: Server | string,
  method: string,
  path: string,
  agent: Agent,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: portOf(server),
        method,
        path,
        agent,
        headers: body ? { 'Content-Length': String(body.length), ...headers } : headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
