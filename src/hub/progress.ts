/**
 * Download progress on stderr: a redrawn bar (bytes, rate) when it is a terminal, one plain line
 * at the start and one at the end of each file otherwise (logs, CI).
 */
import type { DownloadProgress } from './client.js';

interface Sink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export function progressOn(stream: Sink, now: () => number = () => performance.now()): DownloadProgress {
  let file = '';
  let total = 0;
  let done = 0;
  let resumed = 0;
  let started = 0;
  let drawn = 0;
  const rate = () => (done - resumed) / Math.max(1e-3, (now() - started) / 1000);
  const draw = () => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 60));
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    stream.write(`\r${file} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${mib(done)} / ${mib(total)} ${mib(rate())}/s\x1b[K`);
    drawn = now();
  };
  return {
    start(name, size, from) {
      file = name;
      total = size;
      done = from;
      resumed = from;
      started = now();
      if (stream.isTTY) draw();
      else stream.write(`downloading ${name} (${mib(size)}${from > 0 ? `, resuming at ${mib(from)}` : ''})\n`);
    },
    advance(bytes) {
      done += bytes;
      if (stream.isTTY && now() - drawn > 100) draw();
    },
    finish() {
      if (stream.isTTY) {
        draw();
        stream.write('\n');
        return;
      }
      stream.write(
        `${done === total ? 'downloaded' : 'stopped'} ${file}: ${mib(done)} of ${mib(total)} in ${((now() - started) / 1000).toFixed(1)} s (${mib(rate())}/s)\n`,
      );
    },
  };
}

/** For library callers and tests that want no output. */
export const silentProgress: DownloadProgress = { start() {}, advance() {}, finish() {} };
