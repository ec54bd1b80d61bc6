/**
 * Listening, with the reasons a listen fails said plainly (a port in use, a port that needs
 * privileges, an address not on this machine) instead of a stack trace.
 */
import type { Server } from 'node:http';

export class ListenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

const REASONS: Record<string, (where: string) => string> = {
  EADDRINUSE: (where) => `cannot listen on ${where}: the port is already in use by another process; stop it or choose another --port`,
  EACCES: (where) => `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another --port`,
  EADDRNOTAVAIL: (where) => `cannot listen on ${where}: that address is not on this machine; choose another --host`,
};

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason = REASONS[error.code ?? ''];
      reject(reason ? new ListenError(error.code!, reason(`${host}:${port}`)) : error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
