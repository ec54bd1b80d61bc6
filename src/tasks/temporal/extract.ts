/**
 * `videomae extract-features`: sliding-clip features of each video written as `<name>.npy`
 * (`[T, D]` float32, the files ActionFormer trains on), plus `features.json` recording the
 * backbone, the settings and each video's fps, duration, frames and clip count.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FEATURE_INDEX, type FeatureIndex, type FeatureIndexEntry, type FeatureSettings } from '../../datasets/feature-index.js';
import type { LoadedModel } from '../../runtime/model-registry.js';
import { checkLimits, type VideoLimits } from '../../video/limits.js';
import { probeVideo } from '../../video/probe.js';
import { npyDataOffset, writeNpy } from '../../weights/npy.js';
import { extractFeatures } from './features.js';

/** The video id of a file: its name without extension (ActivityNet annotations key videos by it). */
export function videoId(file: string): string {
  return basename(file, extname(file));
}

/** A feature file written in full: its size is the .npy header plus clips x dim float32. */
function isComplete(file: string, entry: FeatureIndexEntry): boolean {
  if (!existsSync(file)) return false;
  const header = npyDataOffset(file);
  return header !== undefined && statSync(file).size === header + 4 * entry.clips * entry.dim;
}

export async function extractFeaturesToFolder(options: {
  videos: readonly string[];
  model: LoadedModel;
  out: string;
  settings: FeatureSettings;
  maxBatch: number;
  limits: VideoLimits;
  /** Recompute videos the folder already holds with the same backbone and settings. */
  force?: boolean;
  onVideo?: (id: string, entry: FeatureIndexEntry, done: number, total: number) => void;
  onSkip?: (id: string, done: number, total: number) => void;
}): Promise<FeatureIndex> {
  mkdirSync(options.out, { recursive: true });
  const indexFile = join(options.out, FEATURE_INDEX);
  const previous = existsSync(indexFile) ? (JSON.parse(readFileSync(indexFile, 'utf8')) as FeatureIndex) : undefined;
  const sameSettings =
    previous && previous.backbone === options.model.name && JSON.stringify(previous.settings) === JSON.stringify(options.settings);
  const index: FeatureIndex = { backbone: options.model.name, settings: options.settings, videos: sameSettings ? previous.videos : {} };
  let done = 0;
  for (const video of options.videos) {
    const started = performance.now();
    const known = index.videos[videoId(video)];
    if (!options.force && known && isComplete(join(options.out, known.file), known)) {
      options.onSkip?.(videoId(video), ++done, options.videos.length);
      continue;
    }
    const info = await probeVideo(video);
    checkLimits(info, options.limits);
    const result = await extractFeatures({
      file: video,
      source: info,
      model: options.model,
      settings: options.settings,
      maxBatch: options.maxBatch,
    });
    const id = videoId(video);
    const file = `${id}.npy`;
    writeNpy(join(options.out, file), result.features, [result.clips, result.dim]);
    const entry: FeatureIndexEntry = {
      file,
      fps: info.fps,
      durationSec: info.durationSec,
      frames: result.frames,
      clips: result.clips,
      dim: result.dim,
      seconds: (performance.now() - started) / 1000,
    };
    index.videos[id] = entry;
    writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
    options.onVideo?.(id, entry, ++done, options.videos.length);
  }
  return index;
}
