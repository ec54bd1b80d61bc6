/**
 * A temporal detection dataset on disk: a features folder written by `videomae extract-features`
 * (features.json + one [T, D] .npy per video) and ActivityNet-style annotations in seconds.
 * Segments are converted to feature steps the way ActionFormer does:
 * x = (t x fps - 0.5 x numFrames) / featureStride, the inverse of the serving-time conversion.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { readNpy } from '../weights/npy.js';
import { readActivityNetAnnotations, type ActivityNetAnnotations } from './activitynet.js';
import { FEATURE_INDEX, type FeatureIndex } from './feature-index.js';

export interface TemporalSample {
  readonly video: string;
  /** [T, D] */
  readonly features: Float32Array;
  readonly length: number;
  readonly fps: number;
  readonly durationSec: number;
  /** [N, 2] in feature steps. */
  readonly segments: Float32Array;
  readonly labels: Int32Array;
}

export interface TemporalDataset {
  readonly index: FeatureIndex;
  readonly labels: string[];
  readonly train: TemporalSample[];
  readonly val: TemporalSample[];
  readonly annotations: ActivityNetAnnotations;
}

export function readFeatureIndex(dir: string, field: string): FeatureIndex {
  const file = join(dir, FEATURE_INDEX);
  if (!existsSync(file)) throw new InvalidParameterError(field, dir, "has no features.json (write it with 'videomae extract-features')");
  return JSON.parse(readFileSync(file, 'utf8')) as FeatureIndex;
}

export function loadTemporalDataset(options: {
  featuresDir: string;
  annotationsFile: string;
  trainSubset: string;
  valSubset: string;
  labels?: string[];
  field: string;
}): TemporalDataset {
  const index = readFeatureIndex(options.featuresDir, `${options.field}.data.features`);
  if (!existsSync(options.annotationsFile))
    throw new InvalidParameterError(`${options.field}.data.annotations`, options.annotationsFile, 'does not exist');
  const annotations = readActivityNetAnnotations(options.annotationsFile);
  const inSubset = (subset: string, wanted: string) => subset.toLowerCase() === wanted.toLowerCase();
  const labels =
    options.labels ??
    [
      ...new Set(
        Object.values(annotations.database)
          .filter((v) => inSubset(v.subset, options.trainSubset))
          .flatMap((v) => v.annotations.map((a) => a.label)),
      ),
    ].sort();
  if (labels.length === 0)
    throw new InvalidParameterError(
      `${options.field}.data.annotations`,
      options.annotationsFile,
      `has no annotations in subset '${options.trainSubset}'`,
    );
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const { numFrames, featureStride } = index.settings;

  const load = (subset: string): TemporalSample[] =>
    Object.entries(annotations.database)
      .filter(([, v]) => inSubset(v.subset, subset))
      .map(([video, v]) => {
        const entry = index.videos[video];
        if (!entry)
          throw new InvalidParameterError(
            `${options.field}.data.features`,
            options.featuresDir,
            `has no features for video '${video}' of subset '${subset}'`,
          );
        const { data, shape } = readNpy(join(options.featuresDir, entry.file));
        const fps = v.fps ?? entry.fps;
        const kept = v.annotations.filter((a) => labelIndex.has(a.label));
        const segments = new Float32Array(kept.length * 2);
        kept.forEach((a, i) => {
          segments[2 * i] = (a.segment[0] * fps - 0.5 * numFrames) / featureStride;
          segments[2 * i + 1] = (a.segment[1] * fps - 0.5 * numFrames) / featureStride;
        });
        return {
          video,
          features: data,
          length: shape[0]!,
          fps,
          durationSec: v.duration,
          segments,
          labels: Int32Array.from(kept.map((a) => labelIndex.get(a.label)!)),
        };
      });
  const train = load(options.trainSubset);
  if (train.length === 0) throw new InvalidParameterError(`${options.field}.data.trainSubset`, options.trainSubset, 'has no videos');
  return { index, labels, train, val: load(options.valSubset), annotations };
}
