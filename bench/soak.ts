/**
 * `npm run bench:soak`: 500 sequential POST /classify requests to a server in its own process
 * (bundled default model, k400 protocol), its resident memory read with ps every 10 requests.
 * Records start (after a 20-request warm-up), end, peak and the trend; writes the `soak` section
 * of docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineDescription, ROOT, table, writeSection } from './report.js';
import { multipartBody, startServerProcess } from './server-process.js';

const REQUESTS = Number(process.env.BENCH_SOAK_REQUESTS ?? 500);
const WARMUP = 20;
const work = mkdtempSync(join(tmpdir(), 'videomae-bench-soak-'));
const clip = join(work, 'clip.mp4');
execFileSync('ffmpeg', [
  '-hide_banner',
  '-loglevel',
  'error',
  '-f',
  'lavfi',
  '-i',
  'testsrc2=size=320x240:rate=25:duration=2',
  '-c:v',
  'libx264',
  '-pix_fmt',
  'yuv420p',
  clip,
]);
const { body, contentType } = multipartBody(clip);
const rssMiB = (pid: number): number => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;

const samples: Array<{ request: number; rss: number }> = [];
const statuses = new Map<number, number>();
const started = Date.now();
const server = await startServerProcess(['--models', join(ROOT, 'models'), '--device', 'cpu']);
try {
  for (let i = 1; i <= WARMUP + REQUESTS; i++) {
    const res = await fetch(`${server.url}/classify?protocol=k400`, { method: 'POST', headers: { 'content-type': contentType }, body });
    await res.arrayBuffer();
    if (i > WARMUP) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (i >= WARMUP && (i - WARMUP) % 10 === 0) samples.push({ request: i - WARMUP, rss: rssMiB(server.pid) });
  }
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
const seconds = (Date.now() - started) / 1000;
const start = samples[0]!.rss;
const end = samples.at(-1)!.rss;
const peak = Math.max(...samples.map((s) => s.rss));
// Least-squares slope over the run, in MiB per 100 requests.
const n = samples.length;
const mx = samples.reduce((s, p) => s + p.request, 0) / n;
const my = samples.reduce((s, p) => s + p.rss, 0) / n;
const slope = samples.reduce((s, p) => s + (p.request - mx) * (p.rss - my), 0) / samples.reduce((s, p) => s + (p.request - mx) ** 2, 0);
const secondHalf = samples.slice(Math.floor(n / 2));
const mx2 = secondHalf.reduce((s, p) => s + p.request, 0) / secondHalf.length;
const my2 = secondHalf.reduce((s, p) => s + p.rss, 0) / secondHalf.length;
const slope2 =
  secondHalf.reduce((s, p) => s + (p.request - mx2) * (p.rss - my2), 0) / secondHalf.reduce((s, p) => s + (p.request - mx2) ** 2, 0);
console.log({ start, end, peak, slope, slope2, statuses: Object.fromEntries(statuses), seconds });
const every = samples.filter((s) => s.request % 100 === 0);
writeSection(
  'soak',
  `## Soak (issue 7)

Machine: ${machineDescription()}. Command: \`npm run bench:soak\`, ${new Date().toISOString().slice(0, 10)}.
${REQUESTS} sequential POST /classify requests (2 s 320x240 H.264 clip, default model, k400 protocol: 15 views) to a server in its own
process, after ${WARMUP} warm-up requests; its resident set read with \`ps\` every 10 requests. ${seconds.toFixed(0)} s in all;
answers: ${[...statuses].map(([s, c]) => `${c} x ${s}`).join(', ')}.

| start (MiB) | end (MiB) | peak (MiB) | trend, whole run (MiB / 100 requests) | trend, second half |
| --- | --- | --- | --- | --- |
| ${start.toFixed(1)} | ${end.toFixed(1)} | ${peak.toFixed(1)} | ${(slope * 100).toFixed(2)} | ${(slope2 * 100).toFixed(2)} |

${table(
  ['after request', 'RSS MiB'],
  every.map((s) => [s.request, s.rss.toFixed(1)]),
)}
`,
);
