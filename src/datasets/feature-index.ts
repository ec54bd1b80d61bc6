/**
 * The features folder `videomae extract-features` writes (tasks/temporal/extract.ts) and the
 * temporal dataset reads (datasets/temporal.ts): `features.json` naming the backbone, the
 * settings and each video's `<id>.npy` ([T, D] float32) with its fps, duration and clip count.
 */

/** `unit`: pixels / 255, the official TAD extraction; `imagenet`: the classification normalization. */
export type FeatureNormalization = 'unit' | 'imagenet';

export interface FeatureSettings {
  /** Frames per clip: the backbone's clip length. */
  readonly numFrames: number;
  /** Frames between clip starts. */
  readonly featureStride: number;
  /** Frames are resized to size x size (aspect ratio not kept, as the official extraction). */
  readonly size: number;
  readonly normalization: FeatureNormalization;
}

export interface FeatureIndexEntry {
  readonly file: string;
  readonly fps: number;
  readonly durationSec: number;
  readonly frames: number;
  readonly clips: number;
  readonly dim: number;
  readonly seconds: number;
}

export interface FeatureIndex {
  readonly backbone: string;
  readonly settings: FeatureSettings;
  videos: Record<string, FeatureIndexEntry>;
}

export const FEATURE_INDEX = 'features.json';
