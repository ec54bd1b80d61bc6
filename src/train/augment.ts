/**
 * Training-time sampling and augmentation, pure functions on typed arrays: random frame choice,
 * crop boxes (random resized crop for fine-tuning, multi-scale crop for pretraining), and the
 * bilinear crop-resize-normalize that writes a clip [3, T, S, S].
 */
import type { SamplingProtocol } from '../video/sampling.js';
import { randomInt, type Uniform } from '../weights/random-init.js';

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Training frame indices: `segments` draws one random frame in each of T equal segments
 * (TSN, as the official SSv2 loader); `stride` takes T frames at the stride from a random start.
 */
export function trainFrameIndices(protocol: SamplingProtocol, frameCount: number, uniform: Uniform): number[] {
  const t = protocol.numFrames;
  if (protocol.temporal === 'segments') {
    const segment = frameCount / t;
    return Array.from({ length: t }, (_, i) => Math.min(frameCount - 1, Math.floor(segment * i + uniform() * segment)));
  }
  const span = (t - 1) * protocol.samplingRate + 1;
  const start = span >= frameCount ? 0 : randomInt(uniform, frameCount - span + 1);
  return Array.from({ length: t }, (_, i) => Math.min(frameCount - 1, start + i * protocol.samplingRate));
}

/** torchvision RandomResizedCrop.get_params: area in `scale`, aspect in `ratio` (log-uniform). */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  uniform: Uniform,
): Box {
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + uniform() * (scale[1] - scale[0]));
    const aspect = Math.exp(logRatio[0] + uniform() * (logRatio[1] - logRatio[0]));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { x: randomInt(uniform, width - w + 1), y: randomInt(uniform, height - h + 1), width: w, height: h };
    }
  }
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), width: side, height: side };
}

/**
 * GroupMultiScaleCrop (VideoMAE pretraining): crop sides from the short side x [1, .875, .75, .66]
 * with at most one step of distortion between width and height, placed at one of the 13 fixed
 * offsets (corners, centre, edge midpoints, quarter points).
 */
export function multiScaleCropBox(
  width: number,
  height: number,
  uniform: Uniform,
  scales: readonly number[] = [1, 0.875, 0.75, 0.66],
): Box {
  const base = Math.min(width, height);
  const sizes = scales.map((s) => Math.trunc(base * s));
  const pairs: Array<[number, number]> = [];
  sizes.forEach((h, i) =>
    sizes.forEach((w, j) => {
      if (Math.abs(i - j) <= 1) pairs.push([w, h]);
    }),
  );
  const [w, h] = pairs[randomInt(uniform, pairs.length)]!;
  const sx = (width - w) / 4;
  const sy = (height - h) / 4;
  const offsets: Array<[number, number]> = [
    [0, 0],
    [4, 0],
    [0, 4],
    [4, 4],
    [2, 2],
    [0, 2],
    [4, 2],
    [2, 4],
    [2, 0],
    [1, 1],
    [3, 1],
    [1, 3],
    [3, 3],
  ];
  const [ox, oy] = offsets[randomInt(uniform, offsets.length)]!;
  return { x: Math.trunc(ox * sx), y: Math.trunc(oy * sy), width: w, height: h };
}

export interface FrameStack {
  readonly width: number;
  readonly height: number;
  /** RGB24 frames. */
  readonly frames: readonly Uint8Array[];
}

/** Per-clip colour change: output channel c = gain[c] x input channel source[c] + bias[c] (0..255 scale). */
export interface ColourTransform {
  readonly source: readonly [number, number, number];
  readonly gain: readonly [number, number, number];
  readonly bias: readonly [number, number, number];
}

export const IDENTITY_COLOUR: ColourTransform = { source: [0, 1, 2], gain: [1, 1, 1], bias: [0, 0, 0] };

const CHANNEL_ORDERS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/**
 * Colour augmentation of strength s in [0, 1]: a random channel order (when s > 0), per-channel
 * gain in 1 +- 0.4 s and shift in +-40 s, and inversion with probability 0.25 s. It keeps motion
 * and shape and takes colour away as a cue, which a model could otherwise memorize.
 */
export function randomColourTransform(strength: number, uniform: Uniform): ColourTransform {
  if (strength <= 0) return IDENTITY_COLOUR;
  const source = CHANNEL_ORDERS[randomInt(uniform, CHANNEL_ORDERS.length)]!;
  const invert = uniform() < 0.25 * strength;
  const gain = [0, 1, 2].map(() => (1 + (uniform() * 2 - 1) * 0.4 * strength) * (invert ? -1 : 1)) as [number, number, number];
  const bias = [0, 1, 2].map(() => (invert ? 255 : 0) + (uniform() * 2 - 1) * 40 * strength) as [number, number, number];
  return { source, gain, bias };
}

/**
 * Crops `box` of the chosen frames, resizes it bilinearly (half-pixel centres, as ffmpeg and
 * OpenCV) to size x size, optionally mirrors it, changes its colours, normalizes, and writes
 * [3, T, size, size].
 */
export function cropResizeNormalize(
  video: FrameStack,
  indices: readonly number[],
  box: Box,
  size: number,
  flip: boolean,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array,
  colour: ColourTransform = IDENTITY_COLOUR,
): void {
  const t = indices.length;
  const plane = size * size;
  const sx = box.width / size;
  const sy = box.height / size;
  const xs = new Int32Array(size * 2);
  const fx = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const src = Math.min(Math.max((i + 0.5) * sx - 0.5, 0), box.width - 1);
    const x0 = Math.floor(src);
    xs[2 * i] = box.x + x0;
    xs[2 * i + 1] = box.x + Math.min(x0 + 1, box.width - 1);
    fx[i] = src - x0;
  }
  const scale = [1 / (255 * std[0]!), 1 / (255 * std[1]!), 1 / (255 * std[2]!)];
  const shift = [mean[0]! / std[0]!, mean[1]! / std[1]!, mean[2]! / std[2]!];
  for (let f = 0; f < t; f++) {
    const frame = video.frames[indices[f]!]!;
    for (let oy = 0; oy < size; oy++) {
      const src = Math.min(Math.max((oy + 0.5) * sy - 0.5, 0), box.height - 1);
      const y0 = Math.floor(src);
      const wy = src - y0;
      const row0 = (box.y + y0) * video.width * 3;
      const row1 = (box.y + Math.min(y0 + 1, box.height - 1)) * video.width * 3;
      for (let ox = 0; ox < size; ox++) {
        const tx = flip ? size - 1 - ox : ox;
        const a = xs[2 * tx]! * 3;
        const b = xs[2 * tx + 1]! * 3;
        const wx = fx[tx]!;
        for (let c = 0; c < 3; c++) {
          const k = colour.source[c]!;
          const top = frame[row0 + a + k]! * (1 - wx) + frame[row0 + b + k]! * wx;
          const bottom = frame[row1 + a + k]! * (1 - wx) + frame[row1 + b + k]! * wx;
          const value = Math.min(255, Math.max(0, (top * (1 - wy) + bottom * wy) * colour.gain[c]! + colour.bias[c]!));
          out[c * t * plane + f * plane + oy * size + ox] = value * scale[c]! - shift[c]!;
        }
      }
    }
  }
}

/** Marsaglia-Tsang gamma(shape, 1), for Beta draws of mixup. */
function gamma(shape: number, uniform: Uniform): number {
  if (shape < 1) return gamma(shape + 1, uniform) * uniform() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function betaSample(alpha: number, uniform: Uniform): number {
  const a = gamma(alpha, uniform);
  const b = gamma(alpha, uniform);
  return a / (a + b);
}
