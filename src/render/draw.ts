/**
 * Drawing on RGB24 frames in place: filled and outlined rectangles and bitmap text, clipped to
 * the frame. Pure functions on typed arrays (no canvas, no I/O), so each is tested pixel by pixel.
 */
import { ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyphColumns } from './font.js';

/** An RGB24 frame: `height` rows of `width * 3` bytes. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type Rgb = readonly [number, number, number];

/**
 * Fills the pixels x0 <= x < x1, y0 <= y < y1 (clipped), blending `alpha` of `color` over them.
 *
 * @example
 * fillRect(frame, 0, 0, 4, 2, [255, 0, 0]); // the top-left 4x2 pixels turn red
 */
export function fillRect(image: RgbImage, x0: number, y0: number, x1: number, y1: number, color: Rgb, alpha = 1): void {
  const left = Math.max(0, Math.round(x0));
  const top = Math.max(0, Math.round(y0));
  const right = Math.min(image.width, Math.round(x1));
  const bottom = Math.min(image.height, Math.round(y1));
  const { data, width } = image;
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const at = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) data[at + c] = alpha >= 1 ? color[c]! : Math.round(data[at + c]! * (1 - alpha) + color[c]! * alpha);
    }
  }
}

/**
 * Outlines the box [x1, y1, x2, y2] (pixels, x2/y2 exclusive) with lines `thickness` wide drawn
 * inside it, so a box at the frame's edge stays fully visible.
 */
export function strokeRect(image: RgbImage, box: readonly [number, number, number, number], color: Rgb, thickness = 2): void {
  const [x1, y1, x2, y2] = box.map(Math.round) as [number, number, number, number];
  const t = Math.max(1, Math.min(thickness, Math.ceil((x2 - x1) / 2), Math.ceil((y2 - y1) / 2)));
  fillRect(image, x1, y1, x2, y1 + t, color);
  fillRect(image, x1, y2 - t, x2, y2, color);
  fillRect(image, x1, y1 + t, x1 + t, y2 - t, color);
  fillRect(image, x2 - t, y1 + t, x2, y2 - t, color);
}

/** Width in pixels of `text` at `scale` (no trailing gap). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale;
}

export const textHeight = (scale = 1): number => GLYPH_HEIGHT * scale;

/** Draws `text` with its top-left corner at (x, y), each font pixel a `scale` x `scale` square. */
export function drawText(image: RgbImage, x: number, y: number, text: string, color: Rgb, scale = 1): void {
  for (let i = 0; i < text.length; i++) {
    const columns = glyphColumns(text[i]!);
    const left = x + i * ADVANCE * scale;
    for (let col = 0; col < GLYPH_WIDTH; col++) {
      const bits = columns[col]!;
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        if (bits & (1 << row)) fillRect(image, left + col * scale, y + row * scale, left + (col + 1) * scale, y + (row + 1) * scale, color);
      }
    }
  }
}

/** Pixels of background around a label's text. */
export const LABEL_PADDING = 2;

/** Height of a label drawn by drawLabel. */
export const labelHeight = (scale = 1): number => textHeight(scale) + 2 * LABEL_PADDING;

/**
 * Text on a solid background box whose top-left corner is (x, y), moved inside the frame when it
 * would stick out (a label above a box at the top edge goes inside it, and so on).
 */
export function drawLabel(image: RgbImage, x: number, y: number, text: string, color: Rgb, background: Rgb, scale = 1): void {
  const w = textWidth(text, scale) + 2 * LABEL_PADDING;
  const h = labelHeight(scale);
  const left = Math.max(0, Math.min(Math.round(x), image.width - w));
  const top = Math.max(0, Math.min(Math.round(y), image.height - h));
  fillRect(image, left, top, left + w, top + h, background);
  drawText(image, left + LABEL_PADDING, top + LABEL_PADDING, text, color, scale);
}
