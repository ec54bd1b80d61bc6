/**
 * `videomae extract-features`: sliding-clip features of each video written as `<name>.npy`
 * (`[T, D]` float32, the files ActionFormer trains on), plus `features.json` recording the
 * backbone, the settings and each video's fps, duration, frames and clip count.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { LoadedModel } from '../../runtime/model-registry.js';
import { checkLimits, type VideoLimits } from '../../video/limits.js';
import { probeVideo } from '../../video/probe.js';
import { writeNpy } from '../../weights/npy.js';
import { extractFeatures, type FeatureSettings } from './features.js';

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

/** The video id of a file: its name without extension (ActivityNet annotations key videos by it). */
export function videoId(file: string): string {
  return basename(file, extname(file));
}

export async function extractFeaturesToFolder(options: {
  videos: readonly string[];
  model: LoadedModel;
  out: string;
  settings: FeatureSettings;
  maxBatch: number;
  limits: VideoLimits;
  onVideo?: (id: string, entry: FeatureIndexEntry) => void;
}): Promise<FeatureIndex> {
  mkdirSync(options.out, { recursive: true });
  const indexFile = join(options.out, FEATURE_INDEX);
  const previous = existsSync(indexFile) ? (JSON.parse(readFileSync(indexFile, 'utf8')) as FeatureIndex) : undefined;
  const sameSettings = previous && previous.backbone === options.model.name && JSON.stringify(previous.settings) === JSON.stringify(options.settings);
  const index: FeatureIndex = { backbone: options.model.name, settings: options.settings, videos: sameSettings ? previous.videos : {} };
  for (const video of options.videos) {
    const started = performance.now();
    const info = await probeVideo(video);
    checkLimits(info, options.limits);
    const result = await extractFeatures({ file: video, source: info, model: options.model, settings: options.settings, maxBatch: options.maxBatch });
    const id = videoId(video);
    const file = `${id}.npy`;
    writeNpy(join(options.out, file), result.features, [result.clips, result.dim]);
    const entry: FeatureIndexEntry = {
      file, fps: info.fps, durationSec: info.durationSec, frames: result.frames, clips: result.clips, dim: result.dim,
      seconds: (performance.now() - started) / 1000,
    };
    index.videos[id] = entry;
    writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
    options.onVideo?.(id, entry);
  }
  return index;
}
