/**
 * Crop, normalize and pack RGB24 frames into the model's channel-first float layout.
 * Pure functions on typed arrays.
 */
import type { CropBox, Size } from './geometry.js';

export interface Normalization {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * Writes one clip as float32 `[3, T, S, S]` at `offset` of `out`:
 * out[c, t, y, x] = (frame_t[box.y + y, box.x + x, c] / 255 - mean[c]) / std[c].
 *
 * @example
 * packClip([frame0, frame1], { width: 4, height: 4 }, { x: 1, y: 1, size: 2 }, IMAGENET, out, 0)
 */
export function packClip(
  frames: readonly Uint8Array[],
  frameSize: Size,
  box: CropBox,
  norm: Normalization,
  out: Float32Array,
  offset: number,
): void {
  const { size } = box;
  const t = frames.length;
  const plane = size * size;
  const channelStride = t * plane;
  if (offset + 3 * channelStride > out.length) {
    throw new RangeError(`clip of ${3 * channelStride} values does not fit at offset ${offset} of ${out.length}`);
  }
  const scale = norm.std.map((s) => 1 / (255 * s));
  const bias = norm.mean.map((m, c) => -m / norm.std[c]!);
  const rowBytes = frameSize.width * 3;
  for (let ti = 0; ti < t; ti++) {
    const frame = frames[ti]!;
    for (let y = 0; y < size; y++) {
      let src = (box.y + y) * rowBytes + box.x * 3;
      let dst = offset + ti * plane + y * size;
      for (let x = 0; x < size; x++, src += 3, dst++) {
        out[dst] = frame[src]! * scale[0]! + bias[0]!;
        out[dst + channelStride] = frame[src + 1]! * scale[1]! + bias[1]!;
        out[dst + 2 * channelStride] = frame[src + 2]! * scale[2]! + bias[2]!;
      }
    }
  }
}
