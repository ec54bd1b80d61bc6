/**
 * Cutting clips into tube patches in the data path (typed arrays), so the training graph never
 * runs a high-rank transpose. A clip is Float32 [3, T, H, W], normalized; tokens are in the
 * backbone's order (t, h, w).
 */
export interface PatchGeometry {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly tubelet: number;
  readonly patch: number;
}

export function patchVectorLength(g: PatchGeometry): number {
  return 3 * g.tubelet * g.patch * g.patch;
}

function tokenOrigin(g: PatchGeometry, token: number): { t0: number; y0: number; x0: number } {
  const gw = g.width / g.patch;
  const gh = g.height / g.patch;
  const wi = token % gw;
  const hi = Math.floor(token / gw) % gh;
  const ti = Math.floor(token / (gw * gh));
  return { t0: ti * g.tubelet, y0: hi * g.patch, x0: wi * g.patch };
}

/**
 * Encoder input patches for the given tokens, each flattened in (c, dt, dy, dx) order: the
 * layout of the Conv3d weight [D, 3, tubelet, p, p], so patch_embed becomes one matmul.
 */
export function inputPatches(clip: Float32Array, g: PatchGeometry, tokens: ArrayLike<number>, out: Float32Array, outOffset = 0): void {
  const { patch: p, tubelet } = g;
  const plane = g.height * g.width;
  const channel = g.frames * plane;
  let o = outOffset;
  for (let n = 0; n < tokens.length; n++) {
    const { t0, y0, x0 } = tokenOrigin(g, tokens[n]!);
    for (let c = 0; c < 3; c++) {
      for (let dt = 0; dt < tubelet; dt++) {
        for (let dy = 0; dy < p; dy++) {
          const row = c * channel + (t0 + dt) * plane + (y0 + dy) * g.width + x0;
          for (let dx = 0; dx < p; dx++) out[o++] = clip[row + dx]!;
        }
      }
    }
  }
}

/**
 * Pretraining targets for the given tokens: pixels un-normalized back to [0, 1], each patch cut
 * as (dt, dy, dx, c), then normalized per patch and per channel with the mean and the unbiased
 * standard deviation (+1e-6), as the official `normlize_target` path does.
 */
export function targetPatches(
  clip: Float32Array,
  g: PatchGeometry,
  tokens: ArrayLike<number>,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array,
  outOffset = 0,
): void {
  const { patch: p, tubelet } = g;
  const plane = g.height * g.width;
  const channel = g.frames * plane;
  const pixels = tubelet * p * p;
  const values = new Float64Array(pixels);
  for (let n = 0; n < tokens.length; n++) {
    const { t0, y0, x0 } = tokenOrigin(g, tokens[n]!);
    const base = outOffset + n * pixels * 3;
    for (let c = 0; c < 3; c++) {
      let k = 0;
      for (let dt = 0; dt < tubelet; dt++) {
        for (let dy = 0; dy < p; dy++) {
          const row = c * channel + (t0 + dt) * plane + (y0 + dy) * g.width + x0;
          for (let dx = 0; dx < p; dx++) values[k++] = clip[row + dx]! * std[c]! + mean[c]!;
        }
      }
      let sum = 0;
      for (let i = 0; i < pixels; i++) sum += values[i]!;
      const m = sum / pixels;
      let ss = 0;
      for (let i = 0; i < pixels; i++) ss += (values[i]! - m) ** 2;
      const sd = Math.sqrt(ss / (pixels - 1)) + 1e-6;
      for (let i = 0; i < pixels; i++) out[base + i * 3 + c] = (values[i]! - m) / sd;
    }
  }
}
