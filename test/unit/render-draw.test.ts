/**
 * The drawing kernels and overlays of annotated videos, pixel by pixel on small RGB frames:
 * rectangles clipped to the frame, box outlines inside the box, glyphs of the bitmap font, labels
 * kept inside the frame, and what each task's result draws at a given time.
 */
import { describe, expect, it } from 'vitest';
import { drawLabel, drawText, fillRect, strokeRect, textWidth, type Rgb, type RgbImage } from '../../src/render/draw.js';
import { ADVANCE, GLYPH_HEIGHT, glyphColumns } from '../../src/render/font.js';
import { fontScale, marksAt, nearestKeyframe, paintMarks, PALETTE } from '../../src/render/overlays.js';

function image(width: number, height: number, fill = 0): RgbImage {
  return { data: new Uint8Array(width * height * 3).fill(fill), width, height };
}

const px = (img: RgbImage, x: number, y: number): number[] =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

/** The pixels equal to `color`, as "x,y". */
function painted(img: RgbImage, color: Rgb): Set<string> {
  const out = new Set<string>();
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) if (px(img, x, y).every((v, c) => v === color[c])) out.add(`${x},${y}`);
  return out;
}

const RED: Rgb = [255, 0, 0];

describe('fillRect and strokeRect', () => {
  it('fill exactly the pixels asked for, clipped to the frame', () => {
    const img = image(6, 4);
    fillRect(img, -2, 1, 3, 9, RED);
    expect([...painted(img, RED)].sort()).toEqual(['0,1', '0,2', '0,3', '1,1', '1,2', '1,3', '2,1', '2,2', '2,3']);
  });

  it('blends alpha of the colour over what is there', () => {
    const img = image(2, 1, 100);
    fillRect(img, 0, 0, 1, 1, [200, 0, 100], 0.5);
    expect(px(img, 0, 0)).toEqual([150, 50, 100]);
    expect(px(img, 1, 0)).toEqual([100, 100, 100]);
  });

  it('outline a box inside its bounds, leaving the inside and outside alone', () => {
    const img = image(10, 8);
    strokeRect(img, [2, 1, 8, 7], RED, 2);
    const red = painted(img, RED);
    // Edges two pixels wide inside [2, 8) x [1, 7): 6 x 6 minus the 2 x 2 hole.
    expect(red.size).toBe(36 - 4);
    for (const inside of ['4,3', '5,3', '4,4', '5,4']) expect(red.has(inside)).toBe(false);
    for (const edge of ['2,1', '7,6', '3,3', '6,3', '4,1', '4,6']) expect(red.has(edge)).toBe(true);
    for (const outside of ['1,1', '8,1', '2,0', '2,7']) expect(red.has(outside)).toBe(false);
  });

  it('fill a box thinner than twice the line', () => {
    const img = image(5, 5);
    strokeRect(img, [1, 1, 3, 4], RED, 4);
    expect(painted(img, RED).size).toBe(2 * 3);
  });
});

describe('the bitmap font', () => {
  it('draws a glyph as its columns say, at a scale', () => {
    const img = image(12, 16);
    drawText(img, 1, 0, 'T', RED, 2);
    const red = painted(img, RED);
    // 'T': the top row lit in all 5 columns (the outer ones a row deeper), the middle column 7 rows down.
    const expected = new Set<string>();
    const columns = glyphColumns('T');
    for (let col = 0; col < 5; col++)
      for (let row = 0; row < GLYPH_HEIGHT; row++)
        if (columns[col]! & (1 << row))
          for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) expected.add(`${1 + col * 2 + dx},${row * 2 + dy}`);
    expect(red).toEqual(expected);
    expect(red.has('1,0') && red.has('10,1') && red.has('5,12')).toBe(true);
    expect(red.has('1,4') || red.has('3,2')).toBe(false);
  });

  it('has a glyph for every printable character, distinct from its neighbours, and ? for the rest', () => {
    const seen = new Set<string>();
    for (let code = 0x21; code <= 0x7e; code++) {
      const columns = glyphColumns(String.fromCharCode(code));
      expect(columns.some((c) => c !== 0)).toBe(true);
      seen.add(Array.from(columns).join(','));
    }
    expect(seen.size).toBe(0x7e - 0x21 + 1);
    expect(glyphColumns('é')).toEqual(glyphColumns('?'));
    expect(textWidth('abc')).toBe(3 * ADVANCE - 1);
  });

  it('keeps a label inside the frame when it would stick out', () => {
    const img = image(40, 20);
    drawLabel(img, 35, -5, 'ab', [255, 255, 255], RED);
    const red = painted(img, RED);
    // 2 chars: 11 px of text + 2 x 2 padding = 15 wide, 12 high, pushed to x 25..40, y 0..12.
    expect(red.has('25,0') && red.has('39,11')).toBe(true);
    expect(red.has('24,0') || red.has('25,12')).toBe(false);
  });
});

describe('marksAt', () => {
  const size = { width: 200, height: 100 };

  it('captions the top labels of a classification at every time', () => {
    const labels = [
      { index: 1, label: 'a', score: 0.5 },
      { index: 2, label: 'b', score: 0.3 },
      { index: 3, label: 'c', score: 0.1 },
      { index: 4, label: 'd', score: 0.05 },
    ];
    const marks = marksAt({ task: 'classification', result: { labels } }, 12.3, size);
    expect(marks).toEqual([
      {
        kind: 'caption',
        at: 'top',
        lines: [
          { text: 'a 0.50', color: [255, 255, 255] },
          { text: 'b 0.30', color: [255, 255, 255] },
          { text: 'c 0.10', color: [255, 255, 255] },
        ],
      },
    ]);
  });

  it('captions the temporal segments under way, best first, coloured by class', () => {
    const segments = [
      { label: 'jump', labelIndex: 0, start: 1, end: 3, score: 0.4 },
      { label: 'spin', labelIndex: 1, start: 2, end: 4, score: 0.7 },
    ];
    const at = (t: number) => marksAt({ task: 'temporal-detection', result: { segments } }, t, size);
    expect(at(0.5)).toEqual([]);
    expect(at(1)).toEqual([{ kind: 'caption', at: 'bottom', lines: [{ text: 'jump 0.40', color: PALETTE[0] }] }]);
    expect(at(2.5)[0]).toMatchObject({ lines: [{ text: 'spin 0.70', color: PALETTE[1] }, { text: 'jump 0.40' }] });
    expect(at(3)[0]).toMatchObject({ lines: [{ text: 'spin 0.70' }] });
    expect(at(4)).toEqual([]);
  });

  it('boxes the people of the nearest keyframe with their top actions, in frame pixels', () => {
    const person = (x: number, actions: Array<{ label: string; score: number }>) => ({
      box: [x, 0.2, x + 0.2, 0.8] as [number, number, number, number],
      boxPixels: [0, 0, 0, 0] as [number, number, number, number],
      score: 0.9,
      actions: actions.map((a, id) => ({ id, ...a })),
    });
    const keyframes = [
      { time: 1, frame: 25, people: [person(0.1, [{ label: 'stand', score: 0.8 }]), person(0.5, [])] },
      { time: 3, frame: 75, people: [] },
    ];
    const at = (t: number) => marksAt({ task: 'spatiotemporal-detection', result: { keyframes } }, t, size);
    expect(at(1.9)).toEqual([
      { kind: 'box', box: [20, 20, 60, 80], color: PALETTE[0], labels: ['stand 0.80'] },
      { kind: 'box', box: [100, 20, 140, 80], color: PALETTE[1], labels: ['person 0.90'] },
    ]);
    expect(at(2.1)).toEqual([]);
    expect(nearestKeyframe([], 1)).toBeUndefined();
  });
});

describe('paintMarks', () => {
  it('draws a box outline and its label above it, and captions at the bottom', () => {
    const img = image(120, 80, 128);
    paintMarks(img, [{ kind: 'box', box: [20, 30, 60, 70], color: RED, labels: ['x 0.50'] }], 1);
    const red = painted(img, RED);
    // Outline 3 px wide (2 + scale), inside the box.
    for (const edge of ['20,69', '59,50', '40,67', '22,50']) expect(red.has(edge)).toBe(true);
    expect(red.has('40,50') || red.has('40,70') || red.has('19,50')).toBe(false);
    // The label's background is the box colour, from 12 px above the box to its top.
    expect(red.has('20,18') && red.has('20,29')).toBe(true);
    expect(red.has('20,17')).toBe(false);

    const captioned = image(120, 80, 128);
    paintMarks(captioned, [{ kind: 'caption', at: 'bottom', lines: [{ text: 'go', color: RED }] }], 1);
    expect(px(captioned, 0, 79)).toEqual([0, 0, 0]);
    expect(px(captioned, 0, 67)).toEqual([128, 128, 128]);
    expect(painted(captioned, RED).size).toBeGreaterThan(5);
  });

  it('scales the font with the frame', () => {
    expect(fontScale({ width: 64, height: 48 })).toBe(1);
    expect(fontScale({ width: 768, height: 576 })).toBe(2);
    expect(fontScale({ width: 1920, height: 1080 })).toBe(5);
  });
});
