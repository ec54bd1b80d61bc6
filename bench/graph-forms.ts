/**
 * ViT-S at 16x224x224 in the four exported graph forms (float32 or int8, plain or fused
 * attention) through the serving path's worker runner, all loaded at once and run interleaved,
 * so machine noise hits every form alike. Each round runs every form (rotating the order); the
 * speedup of a form is the median over rounds of median(float32 plain) / median(form) in that
 * round. Used by bench/run.ts (`npm run bench`, or `npm run bench -- --graph-forms` for this
 * section alone).
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportModelFolder } from '../src/kinds/index.js';
import type { ExportOptions } from '../src/onnx/export-model.js';
import { float32Tensor } from '../src/runtime/tensor.js';
import { WorkerRunner } from '../src/runtime/worker-runner.js';
import { median } from './report.js';

export const GRAPH_FORMS: ReadonlyArray<{ readonly name: string; readonly options: ExportOptions }> = [
  { name: 'float32, plain attention', options: {} },
  { name: 'float32, fused attention', options: { attention: 'fused' } },
  { name: 'int8, plain attention', options: { int8: true } },
  { name: 'int8, fused attention', options: { int8: true, attention: 'fused' } },
];

export interface GraphFormResult {
  readonly name: string;
  /** Median seconds per clip over every run. */
  readonly medianS: number;
  /** Per round: median(float32 plain) / median(this form). */
  readonly ratios: number[];
}

/** `modelDir` holds the float32 folder; each form is exported into a copy beside it under `work`. */
export async function benchGraphForms(
  modelDir: string,
  work: string,
  threads: number,
  rounds: number,
  runsPerRound: number,
): Promise<GraphFormResult[]> {
  const dirs = await Promise.all(
    GRAPH_FORMS.map(async (form, i) => {
      const dir = join(work, 'graph-forms', String(i));
      if (!existsSync(join(dir, 'model.onnx'))) {
        mkdirSync(dir, { recursive: true });
        cpSync(modelDir, dir, { recursive: true, filter: (s) => !s.endsWith('.onnx') && !s.endsWith('.onnx.data') });
        await exportModelFolder(dir, form.options);
      }
      return dir;
    }),
  );
  const runners: WorkerRunner[] = [];
  try {
    for (const dir of dirs) runners.push(await WorkerRunner.create(join(dir, 'model.onnx'), { device: 'cpu', threads }));
    const data = new Float32Array(3 * 16 * 224 * 224);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 2;
    const feeds = { video: float32Tensor(data, [1, 3, 16, 224, 224]) };
    for (const runner of runners) await runner.run(feeds, ['logits']);
    const runs: number[][] = GRAPH_FORMS.map(() => []);
    const ratios: number[][] = GRAPH_FORMS.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const roundRuns: number[][] = GRAPH_FORMS.map(() => []);
      for (let k = 0; k < GRAPH_FORMS.length; k++) {
        const i = (k + round) % GRAPH_FORMS.length;
        for (let r = 0; r < runsPerRound; r++) {
          const started = performance.now();
          await runners[i]!.run(feeds, ['logits']);
          roundRuns[i]!.push((performance.now() - started) / 1000);
        }
      }
      roundRuns.forEach((times, i) => {
        runs[i]!.push(...times);
        ratios[i]!.push(median(roundRuns[0]!) / median(times));
      });
      console.log(`graph forms round ${round + 1}/${rounds}`, roundRuns.map((t) => median(t).toFixed(3)).join(' '));
    }
    return GRAPH_FORMS.map((form, i) => ({ name: form.name, medianS: median(runs[i]!), ratios: ratios[i]! }));
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}
