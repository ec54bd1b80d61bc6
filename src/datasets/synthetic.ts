/**
 * `videomae make-dataset synthetic`: writes real encoded videos (H.264 MP4 through ffmpeg) and
 * CSV manifests (path,label) for train and val, deterministic from a seed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { encodeRawFrames } from '../video/ffmpeg.js';
import { mixSeed, seededUniform } from '../weights/random-init.js';
import { renderSyntheticClip, SYNTHETIC_CLASSES, type SyntheticClass } from './synthetic-render.js';
import { writeDatasetManifest, LABELS_FILE } from './manifest.js';

export interface SyntheticOptions {
  readonly out: string;
  readonly classes?: readonly string[];
  /** Videos per class (train + val). */
  readonly videosPerClass: number;
  readonly valFraction?: number;
  readonly seed?: number;
  readonly width?: number;
  readonly height?: number;
  readonly frames?: number;
  readonly fps?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SyntheticDataset {
  readonly train: string;
  readonly val: string;
  readonly labels: string;
  readonly videos: number;
}

export function parseSyntheticClasses(classes: readonly string[] | undefined): SyntheticClass[] {
  if (!classes || classes.length === 0) return [...SYNTHETIC_CLASSES];
  for (const name of classes) {
    if (!(SYNTHETIC_CLASSES as readonly string[]).includes(name)) {
      throw new InvalidParameterError('classes', name, `is not a synthetic class; choose from ${SYNTHETIC_CLASSES.join(', ')}`);
    }
  }
  return [...new Set(classes)] as SyntheticClass[];
}

export async function makeSyntheticDataset(options: SyntheticOptions): Promise<SyntheticDataset> {
  const classes = parseSyntheticClasses(options.classes);
  if (!Number.isInteger(options.videosPerClass) || options.videosPerClass < 2) {
    throw new InvalidParameterError('videos', options.videosPerClass, 'must be an integer of at least 2 (videos per class, train + val)');
  }
  const seed = options.seed ?? 0;
  const size = { width: options.width ?? 112, height: options.height ?? 112, frames: options.frames ?? 32 };
  const fps = options.fps ?? 16;
  const valCount = Math.max(1, Math.round(options.videosPerClass * (options.valFraction ?? 0.25)));
  const videosDir = join(options.out, 'videos');
  mkdirSync(videosDir, { recursive: true });
  const train: Array<{ path: string; label: string }> = [];
  const val: Array<{ path: string; label: string }> = [];
  const jobs: Array<() => Promise<void>> = [];
  classes.forEach((label, c) => {
    for (let i = 0; i < options.videosPerClass; i++) {
      const path = `videos/${label}_${String(i).padStart(4, '0')}.mp4`;
      (i < valCount ? val : train).push({ path, label });
      // Each video has its own stream: the same seed gives the same video whatever the count.
      const uniform = seededUniform(mixSeed(seed, c, i));
      jobs.push(() => encodeRawFrames({ file: join(options.out, path), ...size, fps, frames: renderSyntheticClip(label, size, uniform) }));
    }
  });
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      await job();
      options.onProgress?.(++done, train.length + val.length);
    }
  };
  await Promise.all([worker(), worker()]);
  writeFileSync(join(options.out, LABELS_FILE), classes.join('\n') + '\n');
  writeDatasetManifest(join(options.out, 'train.csv'), train);
  writeDatasetManifest(join(options.out, 'val.csv'), val);
  writeFileSync(
    join(options.out, 'dataset.json'),
    JSON.stringify(
      { kind: 'synthetic', seed, classes, videosPerClass: options.videosPerClass, valPerClass: valCount, ...size, fps },
      null,
      2,
    ) + '\n',
  );
  return {
    train: join(options.out, 'train.csv'),
    val: join(options.out, 'val.csv'),
    labels: join(options.out, LABELS_FILE),
    videos: train.length + val.length,
  };
}
