/**
 * Spatial arithmetic of the official test transforms: short-side resize (get_resize_sizes) and
 * the centre crop or the crops spread along the long side (uniform three-crop).
 */
import { InvalidParameterError } from '../errors.js';

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface CropBox {
  readonly x: number;
  readonly y: number;
  readonly size: number;
}

/**
 * Size after resizing so that the short side equals `shortSide`; the long side is truncated, as
 * int(size * long / short) in the official code.
 *
 * @example
 * resizeShortSide({ width: 320, height: 240 }, 224) // -> { width: 298, height: 224 }
 */
export function resizeShortSide(size: Size, shortSide: number): Size {
  if (size.width < size.height) {
    return { width: shortSide, height: Math.trunc((shortSide * size.height) / size.width) };
  }
  return { width: Math.trunc((shortSide * size.width) / size.height), height: shortSide };
}

/**
 * The whole frame at short side `shortSide`, each side rounded to a multiple of the patch so the
 * backbone sees every pixel (the aspect moves by at most half a patch): the full-frame input of
 * the detection backbones.
 *
 * @example
 * fullFrameInputSize({ width: 768, height: 576 }, 256, 16) // -> { width: 336, height: 256 }
 */
export function fullFrameInputSize(frame: Size, shortSide: number, multiple: number): Size {
  const scale = shortSide / Math.min(frame.width, frame.height);
  const round = (v: number): number => Math.max(multiple, Math.round((v * scale) / multiple) * multiple);
  return { width: round(frame.width), height: round(frame.height) };
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Square crops of a resized frame: one centred crop, or `numCrops` crops spread evenly along the
 * long side (top/centre/bottom or left/centre/right for three) and centred on the short side.
 */
export function cropBoxes(frame: Size, cropSize: number, numCrops: number): CropBox[] {
  if (cropSize > frame.width || cropSize > frame.height) {
    throw new InvalidParameterError('cropSize', cropSize, `must fit in the resized frame ${frame.width}x${frame.height}`);
  }
  if (numCrops === 1) {
    return [{ x: roundHalfEven((frame.width - cropSize) / 2), y: roundHalfEven((frame.height - cropSize) / 2), size: cropSize }];
  }
  const tall = frame.height >= frame.width;
  const long = tall ? frame.height : frame.width;
  const short = tall ? frame.width : frame.height;
  const step = (long - cropSize) / (numCrops - 1);
  const across = roundHalfEven((short - cropSize) / 2);
  return Array.from({ length: numCrops }, (_, i) => {
    const along = Math.trunc(i * step);
    return tall ? { x: across, y: along, size: cropSize } : { x: along, y: across, size: cropSize };
  });
}
