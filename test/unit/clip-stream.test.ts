import { describe, expect, it } from 'vitest';
import { clipsInOrder, neededFrames } from '../../src/tasks/spatiotemporal/clip-stream.js';
import type { DecodedFrame } from '../../src/video/decode.js';

async function* decoded(indices: number[]): AsyncGenerator<DecodedFrame> {
  for (const index of indices) {
    yield { index, rgb: Uint8Array.of(index & 255, index >> 8) };
  }
}

const frameIndex = (f: Uint8Array): number => f[0]! + 256 * f[1]!;

const collect = async (frames: AsyncIterable<DecodedFrame>, clips: number[][]) => {
  const out: Array<{ clip: number; frames: number[] }> = [];
  for await (const c of clipsInOrder(frames, clips)) out.push({ clip: c.clip, frames: c.frames.map(frameIndex) });
  return out;
};

describe('clipsInOrder', () => {
  it('hands out each clip once its last frame is in, in order', async () => {
    const clips = [
      [0, 2, 4],
      [2, 4, 6],
      [10, 12, 14],
    ];
    expect(neededFrames(clips)).toEqual([0, 2, 4, 6, 10, 12, 14]);
    const out = await collect(decoded(neededFrames(clips)), clips);
    expect(out).toEqual([
      { clip: 0, frames: [0, 2, 4] },
      { clip: 1, frames: [2, 4, 6] },
      { clip: 2, frames: [10, 12, 14] },
    ]);
  });

  it('repeats the last frame that came when the video ends early', async () => {
    const clips = [
      [0, 2, 4],
      [8, 10, 12],
    ];
    const out = await collect(decoded([0, 2, 4, 8, 10]), clips);
    expect(out).toEqual([
      { clip: 0, frames: [0, 2, 4] },
      { clip: 1, frames: [8, 10, 10] },
    ]);
    expect(await collect(decoded([]), clips)).toEqual([]);
  });

  it('keeps up over a long run of clips, each with its own frames', async () => {
    const clips = Array.from({ length: 200 }, (_, k) => [10 * k, 10 * k + 2, 10 * k + 4]);
    const generator = clipsInOrder(decoded(neededFrames(clips)), clips);
    let count = 0;
    for await (const c of generator) {
      expect(c.frames.map(frameIndex)).toEqual(clips[c.clip]);
      count++;
    }
    expect(count).toBe(200);
  });
});
