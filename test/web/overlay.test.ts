import { describe, expect, it } from 'vitest';
import { contentRect, nearestKeyframe, personCaption, scaleBox } from '../../web/src/lib/overlay.js';

describe('contentRect (object-fit: contain)', () => {
  it('letterboxes a 4:3 video in a wide box and pillarboxes it in a tall one', () => {
    expect(contentRect(800, 300, 768, 576)).toEqual({ x: 200, y: 0, width: 400, height: 300 });
    expect(contentRect(400, 600, 768, 576)).toEqual({ x: 0, y: 150, width: 400, height: 300 });
    expect(contentRect(768, 576, 768, 576)).toEqual({ x: 0, y: 0, width: 768, height: 576 });
  });

  it('fills the box when the video size is not known', () => {
    expect(contentRect(640, 360, 0, 0)).toEqual({ x: 0, y: 0, width: 640, height: 360 });
  });
});

describe('scaleBox', () => {
  const content = { x: 200, y: 0, width: 400, height: 300 };

  it('maps a normalized [x1, y1, x2, y2] box into the content rectangle', () => {
    expect(scaleBox([0.5, 0, 1, 0.5], content)).toEqual({ x: 400, y: 0, width: 200, height: 150 });
    expect(scaleBox([0, 0, 1, 1], content)).toEqual(content);
  });

  it('clips to the frame and orders swapped corners', () => {
    expect(scaleBox([-0.5, 0.5, 1.5, 0.25], content)).toEqual({ x: 200, y: 75, width: 400, height: 75 });
  });

  it('refuses a box that is not four finite numbers, naming it', () => {
    expect(() => scaleBox([0, 0, 1], content)).toThrow('a box is [x1, y1, x2, y2] (got [0, 0, 1])');
    expect(() => scaleBox([0, 0, Number.NaN, 1], content)).toThrow(RangeError);
  });
});

describe('nearestKeyframe', () => {
  const keyframes = [{ time: 1 }, { time: 3 }, { time: 7 }];

  it('gives the keyframe nearest in time, the earlier on a tie', () => {
    expect(nearestKeyframe(keyframes, 0)?.time).toBe(1);
    expect(nearestKeyframe(keyframes, 2.4)?.time).toBe(3);
    expect(nearestKeyframe(keyframes, 2)?.time).toBe(1);
    expect(nearestKeyframe(keyframes, 100)?.time).toBe(7);
    expect(nearestKeyframe([], 1)).toBeUndefined();
  });
});

describe('personCaption', () => {
  it('names the best actions with their scores', () => {
    const actions = [
      { id: 1, label: 'walk', score: 0.2 },
      { id: 2, label: 'stand', score: 0.91 },
      { id: 3, label: 'talk', score: 0.5 },
    ];
    expect(personCaption({ actions }, 2)).toBe('stand 0.91, talk 0.50');
    expect(personCaption({ actions: [] })).toBe('no action');
  });
});
