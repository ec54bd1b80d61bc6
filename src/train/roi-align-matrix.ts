/**
 * RoiAlign as a linear map, so the AVA head can be trained end to end with the 2-D matmuls every
 * TF.js backend differentiates: for one box, S [bins, H*W] with pooled = S @ plane, plane being
 * the [H*W, D] token map. It follows the ONNX operator the serving graph runs, which is
 * torchvision's roi_align: `aligned` (half_pixel) shifts the box by half a cell; not aligned
 * (output_half_pixel, torchvision aligned=False, the official AVA head) does not and makes the box
 * at least one cell wide and high. Each bin averages gridH x gridW bilinear samples, the grid
 * being `samplingRatio` per side, or ceil(box / bins) per side when it is 0 (adaptive); samples
 * beyond one cell outside the map count zero.
 */

export interface RoiAlignSettings {
  readonly height: number;
  readonly width: number;
  /** Output bins per side (7). */
  readonly size: number;
  /** Samples per bin per side; 0 = adaptive. */
  readonly samplingRatio: number;
  /** Map cells per input pixel (1 / patch). */
  readonly spatialScale: number;
  /** Half-pixel shift (default true, aligned=True); false for torchvision aligned=False. */
  readonly aligned?: boolean;
}

/** Rows bin-major (ph, pw), columns y * W + x. `box` is [x1, y1, x2, y2] in input pixels. */
export function roiAlignMatrix(box: ArrayLike<number>, s: RoiAlignSettings): Float32Array {
  const { height: H, width: W, size } = s;
  const aligned = s.aligned ?? true;
  const offset = aligned ? 0.5 : 0;
  const out = new Float32Array(size * size * H * W);
  const startX = box[0]! * s.spatialScale - offset;
  const startY = box[1]! * s.spatialScale - offset;
  let roiW = box[2]! * s.spatialScale - offset - startX;
  let roiH = box[3]! * s.spatialScale - offset - startY;
  if (!aligned) {
    roiW = Math.max(roiW, 1);
    roiH = Math.max(roiH, 1);
  }
  const binW = roiW / size;
  const binH = roiH / size;
  const gridH = s.samplingRatio > 0 ? s.samplingRatio : Math.ceil(roiH / size);
  const gridW = s.samplingRatio > 0 ? s.samplingRatio : Math.ceil(roiW / size);
  const share = 1 / Math.max(gridH * gridW, 1);
  for (let ph = 0; ph < size; ph++) {
    for (let pw = 0; pw < size; pw++) {
      const row = (ph * size + pw) * H * W;
      for (let iy = 0; iy < gridH; iy++) {
        const yIn = startY + ph * binH + ((iy + 0.5) * binH) / gridH;
        for (let ix = 0; ix < gridW; ix++) {
          const xIn = startX + pw * binW + ((ix + 0.5) * binW) / gridW;
          if (yIn < -1 || yIn > H || xIn < -1 || xIn > W) continue;
          let y = Math.max(yIn, 0);
          let x = Math.max(xIn, 0);
          let y0 = Math.floor(y);
          let x0 = Math.floor(x);
          let y1 = y0 + 1;
          let x1 = x0 + 1;
          if (y0 >= H - 1) {
            y0 = y1 = H - 1;
            y = y0;
          }
          if (x0 >= W - 1) {
            x0 = x1 = W - 1;
            x = x0;
          }
          const ly = y - y0;
          const lx = x - x0;
          out[row + y0 * W + x0]! += share * (1 - ly) * (1 - lx);
          out[row + y0 * W + x1]! += share * (1 - ly) * lx;
          out[row + y1 * W + x0]! += share * ly * (1 - lx);
          out[row + y1 * W + x1]! += share * ly * lx;
        }
      }
    }
  }
  return out;
}
