/**
 * The AVA input semantics as pure functions (src/tasks/spatiotemporal/ava-clip.ts): the official
 * TemporalCrop offsets, the floor resize + padding, the box transform; and the older behaviour
 * that folders without the new fields keep.
 */
import { describe, expect, it } from 'vitest';
import { SpatiotemporalManifestSchema } from '../../src/config/manifest.js';
import {
  avaFrameGeometry,
  avaRois,
  clipFrames,
  clipNormalization,
  frameOffsetsOf,
  officialFrameOffsets,
} from '../../src/video/ava-clip.js';

describe('AVA clip semantics', () => {
  it('TemporalCrop: 16 x 4 -> -31 ... +29; 8 x 2 -> -8 ... +6; the default without offsets is the older centring', () => {
    expect(officialFrameOffsets(16, 4)).toEqual(Array.from({ length: 16 }, (_, i) => -31 + 4 * i));
    expect(officialFrameOffsets(8, 2)).toEqual([-8, -6, -4, -2, 0, 2, 4, 6]);
    expect(frameOffsetsOf({ numFrames: 16, rate: 4, shortSide: 256, resize: 'floor-pad' })).toEqual(
      Array.from({ length: 16 }, (_, i) => -32 + 4 * i),
    );
    expect(clipFrames(10, [-31, -27, 29], 30)).toEqual([0, 0, 29]);
  });

  it('floor-pad: short side 256, long side floored, padded up to 16; round-to-patch as before', () => {
    expect(avaFrameGeometry({ width: 768, height: 576 }, { resize: 'floor-pad', shortSide: 256, padMultiple: 16 }, 16)).toEqual({
      content: { width: 341, height: 256 },
      input: { width: 352, height: 256 },
    });
    expect(avaFrameGeometry({ width: 480, height: 854 }, { resize: 'floor-pad', shortSide: 256 }, 16)).toEqual({
      content: { width: 256, height: 455 },
      input: { width: 256, height: 464 },
    });
    expect(avaFrameGeometry({ width: 400, height: 256 }, { resize: 'floor-pad', shortSide: 256, padMultiple: 32 }, 16)).toEqual({
      content: { width: 400, height: 256 },
      input: { width: 416, height: 256 },
    });
    expect(avaFrameGeometry({ width: 768, height: 576 }, { resize: 'round-to-patch', shortSide: 256 }, 16)).toEqual({
      content: { width: 336, height: 256 },
      input: { width: 336, height: 256 },
    });
  });

  it('boxes: official clip, scale, enlarge with +1 px widths and clip; plain scales only', () => {
    const box = Float32Array.of(0.5, 0.25, 1, 0.75);
    const [x1, y1, x2, y2] = avaRois(
      box,
      { width: 100, height: 100 },
      { width: 50, height: 50 },
      { enlarge: [0.1, 0.05], convention: 'official' },
    );
    // Clipped to 99 before scaling: x2 = 49.5; width 24.5 + 1 -> pad 1.275; height 25 + 1 -> pad 0.65.
    expect(x1).toBeCloseTo(25 - 1.275, 5);
    expect(x2).toBeCloseTo(49, 5); // 50.775 clipped to 49
    expect(y1).toBeCloseTo(12.5 - 0.65, 5);
    expect(y2).toBeCloseTo(37.5 + 0.65, 5);
    expect([...avaRois(box, { width: 100, height: 100 }, { width: 50, height: 50 }, { enlarge: [0, 0], convention: 'plain' })]).toEqual([
      25, 12.5, 50, 37.5,
    ]);
  });

  it("normalization on 0-255 becomes packFrames units; absent, the backbone's", () => {
    const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
    const n = clipNormalization(
      { numFrames: 1, rate: 1, shortSide: 1, resize: 'floor-pad', normalization: { mean: [127.5, 127.5, 127.5], std: [51, 51, 51] } },
      imagenet,
    );
    expect(n.mean).toEqual([0.5, 0.5, 0.5]);
    expect(n.std).toEqual([0.2, 0.2, 0.2]);
    expect(clipNormalization({ numFrames: 1, rate: 1, shortSide: 1, resize: 'floor-pad' }, imagenet)).toBe(imagenet);
  });

  it('a manifest without the new fields parses to the older behaviour; offsets must match numFrames', () => {
    const old = {
      schemaVersion: 1,
      name: 'old',
      task: 'spatiotemporal-detection',
      head: { embedDim: 8, numClasses: 2, roiSize: 7, samplingRatio: 2, patchSize: 16, temporalTokens: 4 },
      backbone: 'b',
      clip: { numFrames: 8, rate: 2, shortSide: 64 },
      labels: { file: 'labels.txt', set: 's' },
      files: { weights: { path: 'w', sha256: '0'.repeat(64) }, onnx: { path: 'm' } },
      provenance: { source: 'training', trained: true },
    };
    const parsed = SpatiotemporalManifestSchema.parse(old);
    expect(parsed.head).toMatchObject({ aligned: true, finalNorm: false });
    expect(parsed.clip.resize).toBe('round-to-patch');
    expect(parsed.boxes).toEqual({ enlarge: [0, 0], convention: 'plain' });
    expect(parsed.postprocess.personScoreThreshold).toBe(0);
    expect(SpatiotemporalManifestSchema.safeParse({ ...old, clip: { ...old.clip, frameOffsets: [0, 1] } }).success).toBe(false);
  });
});
