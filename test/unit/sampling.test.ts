/**
 * Golden indices printed by the official formulas (kinetics.py / ssv2.py test mode, run in
 * numpy) for the same frame counts.
 */
import { describe, expect, it } from 'vitest';
import { clipFrameIndices, PROTOCOLS, resolveProtocol } from '../../src/video/sampling.js';

const range = (start: number, count: number, step: number) => Array.from({ length: count }, (_, i) => start + i * step);

describe('k400 stride sampling', () => {
  it('spreads 5 clips of 16 frames at stride 4 over 300 frames', () => {
    expect(clipFrameIndices(PROTOCOLS.k400, 300)).toEqual([
      range(0, 16, 4),
      range(56, 16, 4),
      range(116, 16, 4),
      range(176, 16, 4),
      range(236, 16, 4),
    ]);
  });

  it('spreads them over 795 frames (vtest.avi)', () => {
    expect(clipFrameIndices(PROTOCOLS.k400, 795)).toEqual([
      range(0, 16, 4),
      range(180, 16, 4),
      range(364, 16, 4),
      range(548, 16, 4),
      range(732, 16, 4),
    ]);
  });

  it('repeats the last sample when the video is shorter than one clip (10 frames)', () => {
    const clip = [0, 4, 8, ...Array(13).fill(8)];
    expect(clipFrameIndices(PROTOCOLS.k400, 10)).toEqual(Array(5).fill(clip));
  });

  it('takes the centred clip for one clip', () => {
    // 100 frames -> 25 samples, 9 spare -> start int(9 / 2) = 4
    expect(clipFrameIndices(PROTOCOLS.fast, 100)).toEqual([range(16, 16, 4)]);
  });

  it('keeps every index inside the video for a single frame', () => {
    expect(clipFrameIndices(PROTOCOLS.fast, 1)).toEqual([Array(16).fill(0)]);
  });
});

describe('ssv2 segment sampling', () => {
  it('takes segment starts then segment middles (97 frames)', () => {
    expect(clipFrameIndices(PROTOCOLS.ssv2, 97)).toEqual([range(0, 16, 6), range(3, 16, 6)]);
  });

  it('matches the official interleaved lists on a 10-frame video', () => {
    expect(clipFrameIndices(PROTOCOLS.ssv2, 10)).toEqual([
      [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 6, 7, 8, 8, 9],
      [0, 0, 1, 2, 2, 3, 4, 4, 5, 5, 6, 7, 7, 8, 9, 9],
    ]);
  });
});

describe('resolveProtocol', () => {
  it('applies explicit parameters over a preset', () => {
    expect(resolveProtocol('k400', { numClips: 2, numCrops: 1, samplingRate: 2 })).toEqual({
      name: 'k400',
      temporal: 'stride',
      numClips: 2,
      numCrops: 1,
      numFrames: 16,
      samplingRate: 2,
    });
  });

  it('rejects a non-positive parameter by name', () => {
    expect(() => resolveProtocol('fast', { numClips: 0 })).toThrow(/numClips/);
  });
});
