/**
 * `npm run bench:import`: imports ViT-S- and ViT-B-sized official-layout checkpoints (random
 * weights, made by tools/make_checkpoint_fixtures.py with PyTorch) in child processes, and
 * records wall time, peak resident memory against the checkpoint size, and ONNX Runtime's
 * logits against PyTorch's. Writes the `import` section of docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../src/weights/safetensors.js';
import { machineDescription, ROOT, table, writeSection } from './report.js';

const SIZES = (process.env.BENCH_IMPORT_SIZES ?? 'small,base').split(',');
const ARCH: Record<string, string> = { small: 'vit_small_patch16_224', base: 'vit_base_patch16_224' };
const MiB = 2 ** 20;

function child(args: string[]): { seconds: number; maxRssMiB: number } {
  const output = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'import-child.ts'), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  return JSON.parse(output.trim().split('\n').pop()!);
}

async function parity(dir: string, io: string): Promise<{ maxAbsDiff: number; maxAbsLogit: number; top5Same: boolean }> {
  const tensors = readSafetensors(io).tensors;
  const video = tensors.get('video')!;
  const expected = tensors.get('logits')!;
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 2 });
  try {
    const { logits } = await session.run({ video: new ort.Tensor('float32', video.data, video.shape as number[]) });
    const actual = logits!.data as Float32Array;
    let maxAbsDiff = 0;
    for (let i = 0; i < actual.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i]! - expected.data[i]!));
    const maxAbsLogit = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const classes = expected.shape[1]!;
    const top5 = (a: ArrayLike<number>, b: number) =>
      Array.from({ length: classes }, (_, i) => i)
        .sort((x, y) => a[b * classes + y]! - a[b * classes + x]!)
        .slice(0, 5)
        .join();
    return { maxAbsDiff, maxAbsLogit, top5Same: [0, 1].every((b) => top5(actual, b) === top5(expected.data, b)) };
  } finally {
    await session.release();
  }
}

const baseline = child(['baseline']);
console.log(`baseline (node + modules): ${baseline.maxRssMiB.toFixed(0)} MiB`);
const rows: Array<Array<string | number>> = [];
const work = mkdtempSync(join(tmpdir(), 'videomae-bench-import-'));
try {
  for (const size of SIZES) {
    const fixture = join(ROOT, 'data', 'fixtures', `vit-${size}`);
    const checkpoint = join(fixture, 'finetune-module.pth');
    if (!existsSync(checkpoint)) {
      console.log(`making ${checkpoint} with PyTorch (tools/make_checkpoint_fixtures.py ${size})`);
      execFileSync('/usr/bin/python3', [join(ROOT, 'tools', 'make_checkpoint_fixtures.py'), size], { stdio: 'inherit' });
    }
    const checkpointMiB = statSync(checkpoint).size / MiB;
    for (const fp16 of [false, true]) {
      const out = join(work, `${size}${fp16 ? '-fp16' : ''}`);
      const run = child([checkpoint, out, ARCH[size]!, ...(fp16 ? ['--fp16'] : [])]);
      const onnxMiB = statSync(join(out, 'model.onnx')).size / MiB;
      const check = fp16 ? undefined : await parity(out, join(fixture, 'io.safetensors'));
      console.log(
        `${size}${fp16 ? ' --fp16' : ''}: ${run.seconds.toFixed(1)} s, peak RSS ${run.maxRssMiB.toFixed(0)} MiB, checkpoint ${checkpointMiB.toFixed(0)} MiB${check ? `, max |logit diff| ${check.maxAbsDiff.toExponential(1)}` : ''}`,
      );
      rows.push([
        `${ARCH[size]}${fp16 ? ' --fp16' : ''}`,
        checkpointMiB.toFixed(0),
        run.seconds.toFixed(1),
        run.maxRssMiB.toFixed(0),
        (run.maxRssMiB / checkpointMiB).toFixed(2),
        ((run.maxRssMiB - baseline.maxRssMiB) / checkpointMiB).toFixed(2),
        onnxMiB.toFixed(0),
        check
          ? `${check.maxAbsDiff.toExponential(1)} (logits up to ${check.maxAbsLogit.toFixed(1)}), top-5 ${check.top5Same ? 'same' : 'DIFFERENT'}`
          : 'n/a',
      ]);
      rmSync(out, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

writeSection(
  'import',
  `## Checkpoint import (issue 4)

Machine: ${machineDescription()}. Command: \`npm run bench:import\`, ${new Date().toISOString().slice(0, 10)}.
Checkpoints in the official layout (\`{'module': state_dict}\`, float32, 710-class head, random weights) made by
\`tools/make_checkpoint_fixtures.py small|base\` with Debian's PyTorch. Each import runs in its own process: read +
check + write weights.safetensors + model.json + ONNX export. Peak RSS is the process's maxrss; a process that only
loads the modules peaks at ${baseline.maxRssMiB.toFixed(0)} MiB. Parity: ONNX Runtime's logits on 2 clips against
PyTorch's (float64 maths on the same weights; random weights of std 0.15 give logits far larger than a trained
model's, so the float32 rounding of 12 blocks shows in absolute terms).

${table(['checkpoint', 'size MiB', 'import s', 'peak RSS MiB', 'RSS / size', '(RSS - baseline) / size', 'model.onnx MiB', 'max abs logit diff'], rows)}
`,
);
