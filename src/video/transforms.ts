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
 * `frameRange` limits the work to frames [from, to), so a caller can pack a clip in slices.
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
  frameRange: { from: number; to: number } = { from: 0, to: frames.length },
): void {
  packRegion(frames, frameSize, { x: box.x, y: box.y, width: box.size, height: box.size }, norm, out, offset, frameRange);
}

/** Whole frames as one clip, float32 `[3, T, H, W]` (the full-frame input of the detection path). */
export function packFrames(frames: readonly Uint8Array[], frameSize: Size, norm: Normalization): Float32Array {
  const out = new Float32Array(3 * frames.length * frameSize.width * frameSize.height);
  packRegion(frames, frameSize, { x: 0, y: 0, ...frameSize }, norm, out, 0, { from: 0, to: frames.length });
  return out;
}

/**
 * Whole frames of `content` size, normalized, at the top left of a zero canvas of `padded` size:
 * float32 `[3, T, H, W]` (the official collate pads after normalization, so padding is 0).
 */
export function packFramesPadded(frames: readonly Uint8Array[], content: Size, padded: Size, norm: Normalization): Float32Array {
  const packed = packFrames(frames, content, norm);
  if (padded.width === content.width && padded.height === content.height) return packed;
  if (padded.width < content.width || padded.height < content.height) {
    throw new RangeError(`padded size ${padded.width}x${padded.height} is smaller than the frames ${content.width}x${content.height}`);
  }
  const out = new Float32Array(3 * frames.length * padded.width * padded.height);
  const planes = 3 * frames.length;
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < content.height; y++) {
      const src = (p * content.height + y) * content.width;
      out.set(packed.subarray(src, src + content.width), (p * padded.height + y) * padded.width);
    }
  }
  return out;
}

function packRegion(
  frames: readonly Uint8Array[],
  frameSize: Size,
  region: { x: number; y: number; width: number; height: number },
  norm: Normalization,
  out: Float32Array,
  offset: number,
  frameRange: { from: number; to: number },
): void {
  const { width, height } = region;
  const t = frames.length;
  const plane = width * height;
  const channelStride = t * plane;
  if (offset + 3 * channelStride > out.length) {
    throw new RangeError(`clip of ${3 * channelStride} values does not fit at offset ${offset} of ${out.length}`);
  }
  // (v / 255 - mean) / std == v * scale + bias, with the constants hoisted out of the loop.
  const s0 = 1 / (255 * norm.std[0]);
  const s1 = 1 / (255 * norm.std[1]);
  const s2 = 1 / (255 * norm.std[2]);
  const b0 = -norm.mean[0] / norm.std[0];
  const b1 = -norm.mean[1] / norm.std[1];
  const b2 = -norm.mean[2] / norm.std[2];
  const rowBytes = frameSize.width * 3;
  for (let ti = frameRange.from; ti < frameRange.to; ti++) {
    const frame = frames[ti]!;
    let dst = offset + ti * plane;
    for (let y = 0; y < height; y++) {
      let src = (region.y + y) * rowBytes + region.x * 3;
      const end = dst + width;
      for (; dst < end; dst++, src += 3) {
        out[dst] = frame[src]! * s0 + b0;
        out[dst + channelStride] = frame[src + 1]! * s1 + b1;
        out[dst + 2 * channelStride] = frame[src + 2]! * s2 + b2;
      }
    }
  }
}
