import { describe, expect, it } from 'vitest';
import { chartTop, clipChart } from '../../web/src/lib/chart.js';

describe('clipChart', () => {
  const clips = [
    { index: 1, start: 4, end: 6, scores: [0.25, 0.75] },
    { index: 0, start: 0, end: 2, scores: [0.5, 0] },
  ];

  it('puts each clip at the centre of its span, score 1 at the top, one series per label', () => {
    const series = clipChart(clips, ['jump', 'spin'], 10, 100, 50);
    expect(series.map((s) => s.label)).toEqual(['jump', 'spin']);
    // Clips in time order, whatever order they came in.
    expect(series[0]!.points).toBe('10,25 50,37.5');
    expect(series[1]!.points).toBe('10,50 50,12.5');
    expect(series[0]!.dots.map((d) => d.time)).toEqual([1, 5]);
  });

  it('clamps scores and times into the chart', () => {
    const [s] = clipChart([{ index: 0, start: 8, end: 14, scores: [1.5] }], ['x'], 10, 100, 50);
    expect(s!.points).toBe('100,0');
  });

  it('spans the clips when the duration is not known', () => {
    const [s] = clipChart(clips, ['jump'], 0, 60, 10);
    expect(s!.dots.map((d) => d.x)).toEqual([10, 50]);
  });
});

describe('chartTop', () => {
  it('is the smallest axis top that holds every score', () => {
    expect(chartTop([{ index: 0, start: 0, end: 1, scores: [0.227, 0.1] }])).toBe(0.25);
    expect(chartTop([{ index: 0, start: 0, end: 1, scores: [0.2] }])).toBe(0.2);
    expect(chartTop([{ index: 0, start: 0, end: 1, scores: [0.003] }])).toBe(0.01);
    expect(chartTop([{ index: 0, start: 0, end: 1, scores: [0.9] }])).toBe(1);
    expect(chartTop([])).toBe(0.01);
  });

  it('scales the chart to it', () => {
    const [s] = clipChart([{ index: 0, start: 0, end: 2, scores: [0.125] }], ['jump'], 2, 100, 40, 0.25);
    expect(s!.points).toBe('50,20');
  });
});
