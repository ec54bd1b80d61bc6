import { describe, expect, it } from 'vitest';
import { cropBoxes, fullFrameInputSize, resizeShortSide, roundHalfEven } from '../../src/video/geometry.js';

describe('resizeShortSide (get_resize_sizes)', () => {
  it('truncates the long side', () => {
    expect(resizeShortSide({ width: 320, height: 240 }, 224)).toEqual({ width: 298, height: 224 });
    expect(resizeShortSide({ width: 768, height: 576 }, 224)).toEqual({ width: 298, height: 224 });
    expect(resizeShortSide({ width: 1080, height: 1920 }, 224)).toEqual({ width: 224, height: 398 });
  });

  it('keeps square frames square', () => {
    expect(resizeShortSide({ width: 100, height: 100 }, 224)).toEqual({ width: 224, height: 224 });
  });
});

describe('cropBoxes', () => {
  it('takes left, centre and right crops of a wide frame', () => {
    expect(cropBoxes({ width: 298, height: 224 }, 224, 3)).toEqual([
      { x: 0, y: 0, size: 224 },
      { x: 37, y: 0, size: 224 },
      { x: 74, y: 0, size: 224 },
    ]);
  });

  it('takes top, centre and bottom crops of a tall frame', () => {
    expect(cropBoxes({ width: 224, height: 398 }, 224, 3)).toEqual([
      { x: 0, y: 0, size: 224 },
      { x: 0, y: 87, size: 224 },
      { x: 0, y: 174, size: 224 },
    ]);
  });

  it('centres a single crop with Python rounding', () => {
    // (299 - 224) / 2 = 37.5 -> 38 (even); (225 - 224) / 2 = 0.5 -> 0
    expect(cropBoxes({ width: 299, height: 225 }, 224, 1)).toEqual([{ x: 38, y: 0, size: 224 }]);
  });

  it('refuses a crop larger than the frame', () => {
    expect(() => cropBoxes({ width: 200, height: 100 }, 224, 1)).toThrow(/cropSize/);
  });

  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3]);
  });
});

describe('fullFrameInputSize', () => {
  it('keeps the aspect at the short side, sides rounded to the patch', () => {
    expect(fullFrameInputSize({ width: 768, height: 576 }, 256, 16)).toEqual({ width: 336, height: 256 });
    expect(fullFrameInputSize({ width: 1920, height: 1080 }, 256, 16)).toEqual({ width: 448, height: 256 });
    expect(fullFrameInputSize({ width: 480, height: 854 }, 256, 16)).toEqual({ width: 256, height: 448 });
    expect(fullFrameInputSize({ width: 64, height: 64 }, 64, 16)).toEqual({ width: 64, height: 64 });
    // A very thin frame still gets one patch on its short side.
    expect(fullFrameInputSize({ width: 2000, height: 10 }, 8, 16)).toEqual({ width: 1600, height: 16 });
  });
});
