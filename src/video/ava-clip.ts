/**
 * What an AVA model's manifest says about its input, as pure functions shared by serving and the
 * training stage: the clip's frames around a keyframe, the frame geometry (resized content and
 * the padded backbone input), the normalization, and the person boxes as RoIs in content pixels.
 * The official VideoMAE-Action-Detection test path is: TemporalCrop (offsets -31..+29 step 4 of a
 * 64-frame window at 30 fps), Resize (short side 256, long side floored, cv2 bilinear), Normalize
 * (mean 122.77/115.95/102.98, std 57.375 on 0-255), zero-pad to a multiple of 16, boxes clipped,
 * scaled, enlarged by test_ext (0.1, 0.05) with the +1 px width convention and clipped again.
 */
import type { SpatiotemporalManifest } from '../config/manifest.js';
import { resizeShortSide, fullFrameInputSize, type Size } from './geometry.js';
import type { Normalization } from './transforms.js';

/** The official AVA pixel statistics (data/transforms.py TransformsCfg), on 0-255. */
export const OFFICIAL_AVA_PIXEL_MEAN: readonly [number, number, number] = [122.7717, 115.9465, 102.9801];
export const OFFICIAL_AVA_PIXEL_STD: readonly [number, number, number] = [57.375, 57.375, 57.375];
/** test_ext of the official model: boxes grow by 10% of their width and 5% of their height. */
export const OFFICIAL_AVA_BOX_ENLARGE: readonly [number, number] = [0.1, 0.05];
/** box_thresh of the official evaluation. */
export const OFFICIAL_AVA_PERSON_THRESHOLD = 0.8;

export type AvaClipSpec = Pick<SpatiotemporalManifest['clip'], 'numFrames' | 'rate' | 'shortSide' | 'resize'> &
  Partial<Pick<SpatiotemporalManifest['clip'], 'frameOffsets' | 'padMultiple' | 'normalization'>>;
export type AvaBoxSpec = SpatiotemporalManifest['boxes'];

/**
 * The official TemporalCrop offsets: a window of numFrames x rate frames, the keyframe its
 * (right-)centre, starting (rate - 1) // 2 frames in.
 *
 * @example
 * officialFrameOffsets(16, 4) // -> [-31, -27, ..., 29]
 */
export function officialFrameOffsets(numFrames: number, rate: number): number[] {
  const start = -Math.floor((numFrames * rate) / 2) + Math.floor((rate - 1) / 2);
  return Array.from({ length: numFrames }, (_, i) => start + i * rate);
}

/** The clip's offsets from the keyframe: the manifest's, else numFrames at rate from floor(numFrames / 2) * rate before. */
export function frameOffsetsOf(clip: AvaClipSpec): number[] {
  if (clip.frameOffsets) return [...clip.frameOffsets];
  const start = -Math.floor(clip.numFrames / 2) * clip.rate;
  return Array.from({ length: clip.numFrames }, (_, i) => start + i * clip.rate);
}

/** Frame indices of the clip around `keyframe`, clamped to the video (np.clip in the official crop). */
export function clipFrames(keyframe: number, offsets: readonly number[], frameCount: number): number[] {
  return offsets.map((o) => Math.min(Math.max(keyframe + o, 0), frameCount - 1));
}

export interface AvaFrameGeometry {
  /** The resized frame (what the decoder produces). */
  readonly content: Size;
  /** The backbone input: content plus zero padding right and bottom. */
  readonly input: Size;
}

/**
 * @example
 * avaFrameGeometry({ width: 768, height: 576 }, { resize: 'floor-pad', shortSide: 256, padMultiple: 16 }, 16)
 * // -> { content: { width: 341, height: 256 }, input: { width: 352, height: 256 } }
 */
export function avaFrameGeometry(
  frame: Size,
  clip: Pick<AvaClipSpec, 'resize' | 'shortSide' | 'padMultiple'>,
  patchSize: number,
): AvaFrameGeometry {
  if (clip.resize === 'round-to-patch') {
    const size = fullFrameInputSize(frame, clip.shortSide, patchSize);
    return { content: size, input: size };
  }
  const content =
    Math.min(frame.width, frame.height) === clip.shortSide
      ? { width: frame.width, height: frame.height }
      : resizeShortSide(frame, clip.shortSide);
  const multiple = clip.padMultiple ?? patchSize;
  const up = (v: number): number => Math.ceil(v / multiple) * multiple;
  return { content, input: { width: up(content.width), height: up(content.height) } };
}

/** Normalization as packFrames takes it (0-1 units), from the manifest's 0-255 statistics or the backbone's. */
export function clipNormalization(clip: AvaClipSpec, backbone: Normalization): Normalization {
  const n = clip.normalization;
  if (!n) return backbone;
  return { mean: n.mean.map((v) => v / 255) as [number, number, number], std: n.std.map((v) => v / 255) as [number, number, number] };
}

/**
 * Normalized [x1, y1, x2, y2] boxes of the original frame (flat) -> RoIs in pixels of the resized
 * content. 'official': a box is taken as BoxList xyxy pixels (x * W, y * H) of the original
 * frame, clipped to [0, W - 1] x [0, H - 1], scaled to the content, enlarged by `enlarge` with
 * widths counted +1 px, and clipped to the content's [0, w - 1] x [0, h - 1].
 */
export function avaRois(boxes: Float32Array, original: Size, content: Size, spec: AvaBoxSpec): Float32Array {
  const rois = new Float32Array(boxes.length);
  const [ex, ey] = spec.enlarge;
  for (let i = 0; i < boxes.length; i += 4) {
    if (spec.convention === 'plain') {
      let [x1, y1, x2, y2] = [
        boxes[i]! * content.width,
        boxes[i + 1]! * content.height,
        boxes[i + 2]! * content.width,
        boxes[i + 3]! * content.height,
      ];
      const px = (ex * (x2 - x1)) / 2;
      const py = (ey * (y2 - y1)) / 2;
      x1 -= px;
      x2 += px;
      y1 -= py;
      y2 += py;
      rois.set([x1, y1, x2, y2], i);
      continue;
    }
    const clamp = (v: number, max: number): number => Math.min(Math.max(v, 0), max);
    const rx = content.width / original.width;
    const ry = content.height / original.height;
    const x1 = clamp(boxes[i]! * original.width, original.width - 1) * rx;
    const y1 = clamp(boxes[i + 1]! * original.height, original.height - 1) * ry;
    const x2 = clamp(boxes[i + 2]! * original.width, original.width - 1) * rx;
    const y2 = clamp(boxes[i + 3]! * original.height, original.height - 1) * ry;
    const px = (ex * (x2 - x1 + 1)) / 2;
    const py = (ey * (y2 - y1 + 1)) / 2;
    rois.set(
      [
        clamp(x1 - px, content.width - 1),
        clamp(y1 - py, content.height - 1),
        clamp(x2 + px, content.width - 1),
        clamp(y2 + py, content.height - 1),
      ],
      i,
    );
  }
  return rois;
}
