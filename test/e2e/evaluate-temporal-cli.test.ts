/**
 * `videomae evaluate temporal` as a user runs it: ActivityNet-style files in, mAP JSON out;
 * bad files and flags refused with the field named.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
const videomae = (args: string[]) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const dir = mkdtempSync(join(tmpdir(), 'videomae-eval-temporal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const golden = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'temporal-map-golden.json'), 'utf8'));
const database: Record<string, { subset: string; duration: number; annotations: Array<{ segment: number[]; label: string }> }> = {};
for (const g of golden.groundTruth) {
  database[g.video] ??= { subset: 'Validation', duration: 120, annotations: [] };
  database[g.video]!.annotations.push({ segment: [g.start, g.end], label: g.label });
}
database.training_only = { subset: 'training', duration: 60, annotations: [{ segment: [0, 5], label: 'jump' }] };
const results: Record<string, Array<{ segment: number[]; label: string; score: number }>> = {};
for (const p of golden.predictions) (results[p.video] ??= []).push({ segment: [p.start, p.end], label: p.label, score: p.score });
const gtFile = join(dir, 'gt.json');
const predFile = join(dir, 'pred.json');
writeFileSync(gtFile, JSON.stringify({ version: 'test', database }));
writeFileSync(predFile, JSON.stringify({ results }));

describe('videomae evaluate temporal', () => {
  it('prints AP per class, mAP per tIoU and their average, over the chosen subset', () => {
    const result = videomae([
      'evaluate',
      'temporal',
      '--ground-truth',
      gtFile,
      '--predictions',
      predFile,
      '--subset',
      'validation',
      '--tiou',
      '0.3:0.7:0.1',
    ]);
    expect(result.status, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.tiou).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(out.averageMAP).toBeCloseTo(golden.expected.averageMAP, 10);
    expect(out.groundTruthCount).toBe(golden.groundTruth.length); // the training video is left out
  });

  it('refuses a missing flag, a bad threshold and a malformed file, naming them', () => {
    const missing = videomae(['evaluate', 'temporal', '--predictions', predFile]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/missing_parameter: evaluate temporal needs --ground-truth <file>/);
    const badTiou = videomae(['evaluate', 'temporal', '--ground-truth', gtFile, '--predictions', predFile, '--tiou', '0.5:0.3:0.1']);
    expect(badTiou.stderr).toMatch(/invalid_parameter: parameter '--tiou' tIoU range '0.5:0.3:0.1' needs from <= to/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ results: { v: [{ segment: [5, 1], label: 'a', score: 1 }] } }));
    const bad = videomae(['evaluate', 'temporal', '--ground-truth', gtFile, '--predictions', broken]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /invalid_dataset_file: '.*broken\.json' is invalid at 'results\.v\.0\.segment': segment end must not precede its start/,
    );
  });
});
