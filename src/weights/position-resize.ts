/**
 * The positional table at another spatial token grid, as the detection backbones of VideoMAE
 * (MMAction2's ViT, AlphAction's) do for full frames: each temporal slot's [H0, W0, D] plane is
 * resized bicubically to [H, W, D], the way `F.interpolate(mode='bicubic', align_corners=False)`
 * does (A = -0.75, half-pixel centres, reads clamped to the border). The ONNX backbone does the
 * same with Resize (cubic, half_pixel) so that training and serving agree.
 */

const A = -0.75;

/** The four cubic-convolution weights for fractional offset t in [0, 1). */
function cubicWeights(t: number): [number, number, number, number] {
  const near = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1;
  const far = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** For each output index: the 4 clamped source indices and their weights. */
function taps(inSize: number, outSize: number): Array<{ index: number[]; weight: number[] }> {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const real = scale * (o + 0.5) - 0.5;
    const base = Math.floor(real);
    const weight = cubicWeights(real - base);
    const index = [-1, 0, 1, 2].map((k) => Math.min(Math.max(base + k, 0), inSize - 1));
    return { index, weight };
  });
}

export interface GridResize {
  readonly t: number;
  readonly from: { readonly h: number; readonly w: number };
  readonly to: { readonly h: number; readonly w: number };
}

/**
 * Table [t*H0*W0, D] (tokens ordered t, h, w) -> [t*H*W, D]. The same grid returns a copy
 * (bicubic at offset 0 is the identity).
 *
 * @example
 * resizePositionTable(sinusoidTable(2 * 4 * 4, 8), 8, { t: 2, from: { h: 4, w: 4 }, to: { h: 5, w: 7 } })
 */
export function resizePositionTable(table: Float32Array, dim: number, grid: GridResize): Float32Array {
  const { t, from, to } = grid;
  if (table.length !== t * from.h * from.w * dim)
    throw new RangeError(`table of ${table.length} values is not ${t}x${from.h}x${from.w}x${dim}`);
  const rows = taps(from.h, to.h);
  const cols = taps(from.w, to.w);
  const out = new Float32Array(t * to.h * to.w * dim);
  // Columns first into a float64 scratch [H0, W, D], then rows.
  const wide = new Float64Array(from.h * to.w * dim);
  for (let s = 0; s < t; s++) {
    const src = s * from.h * from.w * dim;
    wide.fill(0);
    for (let y = 0; y < from.h; y++) {
      for (let x = 0; x < to.w; x++) {
        const o = (y * to.w + x) * dim;
        const { index, weight } = cols[x]!;
        for (let k = 0; k < 4; k++) {
          const i = src + (y * from.w + index[k]!) * dim;
          const wk = weight[k]!;
          for (let j = 0; j < dim; j++) wide[o + j]! += wk * table[i + j]!;
        }
      }
    }
    const dst = s * to.h * to.w * dim;
    for (let y = 0; y < to.h; y++) {
      const { index, weight } = rows[y]!;
      for (let x = 0; x < to.w; x++) {
        const o = dst + (y * to.w + x) * dim;
        for (let k = 0; k < 4; k++) {
          const i = (index[k]! * to.w + x) * dim;
          const wk = weight[k]!;
          for (let j = 0; j < dim; j++) out[o + j]! += wk * wide[i + j]!;
        }
      }
    }
  }
  return out;
}
