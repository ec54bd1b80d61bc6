/**
 * `npm run bench:features`: sliding-clip feature extraction (16/8-frame clips every 4 frames,
 * streamed decode) on long generated videos: seconds of video per second, clips per second, and
 * peak resident memory for a 1-minute and a 10-minute video (memory must not grow with length).
 * Writes the `features` section of docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineDescription, ROOT, table, writeSection } from './report.js';

const work = mkdtempSync(join(tmpdir(), 'videomae-bench-features-'));
const rows: Array<Array<string | number>> = [];

function video(name: string, seconds: number): string {
  const file = join(work, name);
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=640x360:rate=25:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    file,
  ]);
  return file;
}

const detectRows: Array<Array<string | number>> = [];

function run(label: string, file: string, seconds: number, modelDir: string, temporalDir?: string): void {
  const args = ['--import', 'tsx', join(ROOT, 'bench', 'features-child.ts'), file, modelDir, '4', ...(temporalDir ? [temporalDir] : [])];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
  const r = JSON.parse(out.trim().split('\n').pop()!) as {
    seconds: number;
    clips: number;
    frames: number;
    maxRssMiB: number;
    segments?: number;
    timings?: Record<string, number>;
  };
  console.log(`${label}, ${seconds} s video: ${r.clips} clips in ${r.seconds.toFixed(1)} s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  if (r.timings) {
    const t = r.timings;
    detectRows.push([
      label,
      `${seconds} s`,
      r.clips,
      t.probeMs!,
      t.featuresMs!,
      t.detectMs!,
      t.postprocessMs!,
      t.totalMs!,
      r.segments!,
      r.maxRssMiB.toFixed(0),
    ]);
    return;
  }
  rows.push([
    label,
    `${seconds} s (${r.frames} frames)`,
    r.clips,
    r.seconds.toFixed(1),
    (seconds / r.seconds).toFixed(2),
    (r.clips / r.seconds).toFixed(1),
    r.maxRssMiB.toFixed(0),
  ]);
}

try {
  const oneMinute = video('1min.mp4', 60);
  const tenMinutes = video('10min.mp4', 600);
  const defaultModel = join(ROOT, 'models', 'default');
  run('default (vit_mini, 8x64x64)', oneMinute, 60, defaultModel);
  run('default (vit_mini, 8x64x64)', tenMinutes, 600, defaultModel);
  const temporal = join(ROOT, 'models', 'temporal');
  run('default + temporal (ActionFormer)', oneMinute, 60, defaultModel, temporal);
  run('default + temporal (ActionFormer)', tenMinutes, 600, defaultModel, temporal);
  // An untrained ViT-S at the official clip size, for the cost of a real backbone.
  const vitS = join(work, 'vit-s');
  execFileSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'init-model', '--arch', 'vit_small_patch16_224', '--labels', 'k400', '--out', vitS],
    { cwd: ROOT, stdio: 'ignore' },
  );
  run('vit_small_patch16_224 (16x224x224, untrained)', video('20s.mp4', 20), 20, vitS);
} finally {
  rmSync(work, { recursive: true, force: true });
}

writeSection(
  'features',
  `## Temporal features from long videos (issue 5)

Machine: ${machineDescription()}. Command: \`npm run bench:features\`, ${new Date().toISOString().slice(0, 10)}.
\`testsrc2\` videos, 640x360 at 25 fps, H.264. Clips of the backbone's length every 4 frames from frame 0, frames streamed
through a pipe at their own size and resized to the backbone's input as they arrive (OpenCV's INTER_LINEAR; only the last
clip's frames are held), batches of 4 clips,
one ONNX Runtime run in flight while the next batch is decoded. Each run in its own process; peak RSS is its maxrss.

${table(['backbone', 'video', 'clips', 'seconds', 'x real time', 'clips / s', 'peak RSS MiB'], rows)}

The whole temporal detection pipeline (what a \`/detect-temporal\` job runs: probe, streamed features, ActionFormer on the
whole sequence as one ONNX run, decoding + Soft-NMS), milliseconds:

${table(['models', 'video', 'feature steps', 'probe', 'features', 'ActionFormer', 'post-process', 'total', 'segments', 'peak RSS MiB'], detectRows)}
`,
);
