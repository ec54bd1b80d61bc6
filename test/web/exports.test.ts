import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readActivityNetResults } from '../../src/datasets/activitynet.js';
import { downloadName, toActivityNetClassification, toActivityNetDetections, videoIdOf } from '../../web/src/lib/exports.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-web-exports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const segments = [
  { label: 'jump', labelIndex: 0, start: 1.5, end: 3.25, score: 0.9 },
  { label: 'spin', labelIndex: 1, start: 4, end: 9, score: 0.05 },
];

describe('videoIdOf', () => {
  it('is the file name without its extension, as the server names videos', () => {
    expect(videoIdOf('vtest.avi')).toBe('vtest');
    expect(videoIdOf('C:\\clips\\a.b.mp4')).toBe('a.b');
    expect(videoIdOf('/x/y/clip')).toBe('clip');
    expect(videoIdOf('.hidden')).toBe('.hidden');
    expect(videoIdOf('')).toBe('video');
  });
});

describe('toActivityNetDetections', () => {
  it('writes ActivityNet results that videomae evaluate temporal reads back as the same segments', () => {
    const file = join(dir, 'results.json');
    const out = toActivityNetDetections({ segments }, 'vtest');
    expect(out).toEqual({
      version: 'VERSION 1.3',
      results: {
        vtest: [
          { label: 'jump', score: 0.9, segment: [1.5, 3.25] },
          { label: 'spin', score: 0.05, segment: [4, 9] },
        ],
      },
      external_data: {},
    });
    writeFileSync(file, JSON.stringify(out));
    expect(readActivityNetResults(file)).toEqual(
      segments.map(({ label, start, end, score }) => ({ video: 'vtest', label, start, end, score })),
    );
  });

  it('keeps only the segments at or above the threshold shown', () => {
    expect(toActivityNetDetections({ segments }, 'v', 0.5).results.v!.map((r) => r.label)).toEqual(['jump']);
  });
});

describe('toActivityNetClassification', () => {
  it('writes the ranked labels as the kit’s classification results', () => {
    expect(toActivityNetClassification({ labels: [{ index: 3, label: 'still', score: 0.4 }] }, 'v')).toEqual({
      version: 'VERSION 1.3',
      results: { v: [{ label: 'still', score: 0.4 }] },
      external_data: {},
    });
  });
});

describe('downloadName', () => {
  it('makes a safe file name from the video id', () => {
    expect(downloadName('vtest', 'activitynet', 'json')).toBe('vtest.activitynet.json');
    expect(downloadName('my clip/../x', 'ava', 'csv')).toBe('my_clip_.._x.ava.csv');
  });
});
