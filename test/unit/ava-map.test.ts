/**
 * AVA frame mAP against hand-worked cases, and the CSV readers behind `videomae evaluate ava`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAvaClassIds, readAvaDetections } from '../../src/datasets/ava.js';
import { evaluateAva, frameKey } from '../../src/eval/ava-map.js';
import { boxIoU, type Box } from '../../src/postprocess/boxes.js';

const gt = (video: string, timestamp: number, box: Box, actionId: number) => ({ video, timestamp, box, actionId });
const det = (video: string, timestamp: number, box: Box, actionId: number, score: number) => ({ video, timestamp, box, actionId, score });
const A: Box = [0, 0, 0.5, 1];
const B: Box = [0.5, 0, 1, 1];

describe('evaluateAva', () => {
  it('a perfect detection is AP 1; IoU is intersection over union of normalized boxes', () => {
    expect(evaluateAva([gt('v', 902, A, 12)], [det('v', 902, A, 12, 0.9)], { classes: [12] })).toMatchObject({
      mAP: 1,
      apPerClass: { 12: 1 },
      frames: 1,
    });
    expect(boxIoU([0, 0, 1, 1], [0, 0, 0.5, 1])).toBeCloseTo(0.5, 12);
    expect(boxIoU(A, B)).toBe(0);
  });

  it('a second detection of a found person is a false positive: precision [1, 1/2, 2/3], recall [1/2, 1/2, 1] -> AP 5/6', () => {
    const result = evaluateAva(
      [gt('v', 902, A, 12), gt('v', 902, B, 12)],
      [det('v', 902, A, 12, 0.9), det('v', 902, [0, 0, 0.5, 0.95], 12, 0.8), det('v', 902, B, 12, 0.7)],
      { classes: [12] },
    );
    expect(result.apPerClass['12']).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
  });

  it('needs IoU 0.5, matches within the same frame and class only', () => {
    const result = evaluateAva(
      [gt('v', 902, A, 12), gt('v', 903, A, 80)],
      [det('v', 902, [0, 0, 0.5, 0.4], 12, 0.9), det('v', 903, A, 12, 0.8), det('w', 903, A, 80, 0.7)],
      { classes: [12, 80] },
    );
    expect(result.apPerClass).toEqual({ 12: 0, 80: 0 });
  });

  it('ignores classes outside the evaluated list and classes without ground truth; the mean is over the rest', () => {
    const result = evaluateAva([gt('v', 902, A, 12), gt('v', 902, B, 5)], [det('v', 902, A, 12, 0.9), det('v', 902, B, 7, 0.9)], {
      classes: [12, 5, 7, 2],
    });
    expect(result.apPerClass).toEqual({ 5: 0, 12: 1 });
    expect(result.mAP).toBe(0.5);
    expect(evaluateAva([gt('v', 902, A, 12)], [], { classes: [13] }).classesEvaluated).toBe(0);
  });

  it('leaves excluded frames out on both sides', () => {
    const result = evaluateAva([gt('v', 902, A, 12), gt('v', 905, A, 12)], [det('v', 902, A, 12, 0.9), det('v', 905, B, 12, 0.95)], {
      classes: [12],
      excluded: new Set([frameKey('v', 905)]),
    });
    expect(result.apPerClass['12']).toBe(1);
    expect(frameKey('v', 905.4)).toBe('v,0905');
  });

  it('keeps the 50 best detections of a frame, as the official reader does', () => {
    const noise = Array.from({ length: 50 }, (_, i) => det('v', 902, B, 12, 0.9 - i * 0.001));
    const hit = det('v', 902, A, 12, 0.1);
    expect(evaluateAva([gt('v', 902, A, 12)], [...noise, hit], { classes: [12] }).apPerClass['12']).toBe(0);
    expect(evaluateAva([gt('v', 902, A, 12)], [...noise, hit], { classes: [12], detectionsPerFrame: 51 }).apPerClass['12']).toBeCloseTo(
      1 / 51,
      12,
    );
  });
});

describe('AVA files and videomae evaluate ava', () => {
  const dir = mkdtempSync(join(tmpdir(), 'videomae-ava-eval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(import.meta.dirname, '..', '..');

  it('reads the class lists and refuses malformed rows naming the line', () => {
    writeFileSync(
      join(dir, 'list.pbtxt'),
      'item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\nitem {\n  name: "crouch/kneel"\n  id: 3\n}\n',
    );
    expect(readAvaClassIds(join(dir, 'list.pbtxt'))).toEqual([1, 3]);
    expect(readAvaClassIds(join(root, 'models', 'labels', 'ava_v2.2_evaluated_60.txt'))).toHaveLength(60);
    writeFileSync(join(dir, 'bad.csv'), 'v,0902,0.1,0.1,0.5,0.9,12,0.9\nv,0902,0.1,0.1,1.5,0.9,12,0.9\n');
    expect(() => readAvaDetections(join(dir, 'bad.csv'))).toThrow(/bad\.csv' line 2: has box \[0\.1, 0\.1, 1\.5, 0\.9\]/);
  });

  it('prints the frame mAP of a detections CSV against a ground-truth CSV', () => {
    writeFileSync(join(dir, 'gt.csv'), 'vid,0902,0.0,0.0,0.5,1.0,12,0\nvid,0902,0.5,0.0,1.0,1.0,12,1\nvid,0903,0.0,0.0,0.5,1.0,80,0\n');
    writeFileSync(
      join(dir, 'pred.csv'),
      'vid,0902,0.0,0.0,0.5,1.0,12,0.9\nvid,0902,0.0,0.0,0.5,0.95,12,0.8\nvid,0902,0.5,0.0,1.0,1.0,12,0.7\n',
    );
    const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
    const result = spawnSync(
      process.execPath,
      [...cli, 'evaluate', 'ava', '--ground-truth', join(dir, 'gt.csv'), '--predictions', join(dir, 'pred.csv')],
      { encoding: 'utf8' },
    );
    expect(result.status, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    // Class 12 as in the hand-worked case (5/6); class 80 has ground truth but no detection (0).
    expect(out.apPerClass['12']).toBeCloseTo(5 / 6, 10);
    expect(out.apPerClass['80']).toBe(0);
    expect(out.mAP).toBeCloseTo(5 / 12, 10);
  });
});
