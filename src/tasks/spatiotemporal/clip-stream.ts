/**
 * Keyframe clips from one decoding pass: the needed frames arrive in index order, a clip is
 * handed out as soon as its last frame has come, and a frame is dropped once no later clip needs
 * it, so memory holds about one clip's frames whatever the video's length. When the video holds
 * fewer frames than probed, the clips still owed repeat the last frame that came.
 */
import type { DecodedFrame } from '../../video/decode.js';

/** The frame indices every clip needs, sorted and unique (what to decode). */
export function neededFrames(clips: readonly (readonly number[])[]): number[] {
  return [...new Set(clips.flat())].sort((a, b) => a - b);
}

/** `clips` must be in order of their first frame (keyframe order). Yields each clip's frames once. */
export async function* clipsInOrder(
  frames: AsyncIterable<DecodedFrame>,
  clips: readonly (readonly number[])[],
): AsyncGenerator<{ clip: number; frames: Uint8Array[] }> {
  const held = new Map<number, Uint8Array>();
  let next = 0;
  for await (const f of frames) {
    held.set(f.index, f.rgb);
    while (next < clips.length && Math.max(...clips[next]!) <= f.index) {
      // A frame the decoder never produced (damage) is stood in for by the newest one.
      yield { clip: next, frames: clips[next]!.map((i) => held.get(i) ?? f.rgb) };
      next++;
      const keepFrom = next < clips.length ? Math.min(...clips[next]!) : Infinity;
      for (const index of held.keys()) if (index < keepFrom) held.delete(index);
    }
  }
  const last = Math.max(-1, ...held.keys());
  if (last < 0) return;
  for (; next < clips.length; next++) yield { clip: next, frames: clips[next]!.map((i) => held.get(Math.min(i, last)) ?? held.get(last)!) };
}
