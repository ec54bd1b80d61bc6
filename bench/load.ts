/**
 * `npm run bench:load`: the server in its own process (bundled models), driven by autocannon from
 * this one at rising concurrency: throughput, p50/p99 latency and refusals (503 at capacity);
 * then batching across requests off and on at concurrency 1, 4, 16. Writes the `load` section
 * of docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { machineDescription, ROOT, table, writeSection } from './report.js';
import { multipartBody, startServerProcess } from './server-process.js';

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const work = mkdtempSync(join(tmpdir(), 'videomae-bench-load-'));
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
const models = join(ROOT, 'models');

interface Row {
  label: string;
  concurrency: number;
  ok: number;
  rps: number;
  p50: number;
  p99: number;
  refused: number;
  other: number;
}

const percentile = (sorted: number[], q: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;

async function drive(url: string, concurrency: number, label: string): Promise<Row> {
  // Latency of the answered requests only (a refusal takes about a millisecond).
  const okTimes: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: concurrency,
        duration: SECONDS,
        timeout: 120,
        requests: [{ method: 'POST', path: '/classify?protocol=k400', headers: { 'content-type': contentType }, body }],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) okTimes.push(responseTime);
    });
  });
  okTimes.sort((a, b) => a - b);
  const codes = result.statusCodeStats as Record<string, { count: number }> | undefined;
  const count = (code: string): number => codes?.[code]?.count ?? 0;
  const ok = count('200');
  const refused = count('503');
  const total = Object.values(codes ?? {}).reduce((s, c) => s + c.count, 0);
  return {
    label,
    concurrency,
    ok,
    rps: ok / SECONDS,
    p50: Math.round(percentile(okTimes, 0.5)),
    p99: Math.round(percentile(okTimes, 0.99)),
    refused,
    other: total - ok - refused + result.errors + result.timeouts,
  };
}

const rows: Row[] = [];
try {
  // Capacity: 2 in flight, 8 waiting (the defaults): beyond 10 concurrent, refusals.
  const server = await startServerProcess(['--models', models, '--device', 'cpu', '--max-in-flight', '2', '--max-waiting', '8']);
  try {
    await drive(server.url, 2, 'warm-up');
    for (const c of [1, 4, 16, 64]) {
      const r = await drive(server.url, c, 'default (2 in flight, 8 waiting)');
      rows.push(r);
      console.log(r);
    }
  } finally {
    await server.stop();
  }
  for (const batching of [false, true]) {
    const flags = [
      '--models',
      models,
      '--device',
      'cpu',
      '--max-in-flight',
      '16',
      '--max-waiting',
      '16',
      '--max-batch',
      '4',
      ...(batching ? ['--batch-across-requests', '--batch-max', '16', '--batch-wait-ms', '5'] : []),
    ];
    const server = await startServerProcess(flags);
    try {
      await drive(server.url, 2, 'warm-up');
      for (const c of [1, 4, 16]) {
        const r = await drive(server.url, c, batching ? 'batching across requests (max 16 views, 5 ms)' : 'no cross-request batching');
        rows.push(r);
        console.log(r);
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const fmt = (r: Row) => [r.label, r.concurrency, r.ok, r.rps.toFixed(2), r.p50, r.p99, r.refused, r.other];
const gain = (c: number): string => {
  const off = rows.find((r) => r.label.startsWith('no cross') && r.concurrency === c)!;
  const on = rows.find((r) => r.label.startsWith('batching') && r.concurrency === c)!;
  return `${c}: ${(on.rps / off.rps).toFixed(2)}x`;
};
writeSection(
  'load',
  `## Load (issue 7)

Machine: ${machineDescription()}. Command: \`npm run bench:load\`, ${new Date().toISOString().slice(0, 10)}.
The server runs in its own process (\`videomae serve\`, bundled models, CPU); autocannon drives POST /classify from this one
for ${SECONDS} s per row: a 2 s 320x240 H.264 clip, k400 protocol on the default model (5 clips x 3 crops = 15 views).
Latency in ms of the 200 answers; "refused" are 503 \`overloaded\` with Retry-After. autocannon does not honour Retry-After: a
refused connection asks again at once, so beyond capacity it floods the server with requests that are refused in about a
millisecond each, and on two cores those refusals take CPU from the admitted work (the 16 and 64 rows).

${table(['server', 'concurrency', '200s', 'req/s', 'p50 ms', 'p99 ms', 'refused (503)', 'other'], rows.map(fmt))}

Throughput of batching across requests relative to none, same run: ${[1, 4, 16].map(gain).join(', ')}. On this 2-core CPU one
ONNX Runtime run already uses both cores and decoding competes with it, so sharing runs buys little; the knob is for GPUs,
where a bigger batch is nearly free.
`,
);
