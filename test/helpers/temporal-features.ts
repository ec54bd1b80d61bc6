/**
 * A small temporal detection dataset made of feature files directly (no video): background noise,
 * and during each action instance a class-specific direction added to the features, so a working
 * detector can find when and what. Written as `videomae extract-features` would (features.json +
 * .npy) with ActivityNet-style annotations in seconds.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../src/weights/npy.js';
import { seededUniform } from '../../src/weights/random-init.js';

export const FEATURE_TIMING = { fps: 8, featureStride: 4, numFrames: 8 };
export const TEMPORAL_CLASSES = ['jump', 'spin', 'wave'];

export function writeSyntheticFeatureDataset(
  dir: string,
  options: { train: number; val: number; dim?: number; seed?: number },
): { featuresDir: string; annotations: string } {
  const dim = options.dim ?? 16;
  const uniform = seededUniform(options.seed ?? 1);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const directions = TEMPORAL_CLASSES.map(() => Float32Array.from({ length: dim }, () => normal()));
  const featuresDir = join(dir, 'features');
  mkdirSync(featuresDir, { recursive: true });
  const videos: Record<string, unknown> = {};
  const database: Record<string, unknown> = {};
  const { fps, featureStride, numFrames } = FEATURE_TIMING;
  const seconds = (step: number) => (step * featureStride + 0.5 * numFrames) / fps;
  for (let v = 0; v < options.train + options.val; v++) {
    const id = `video_${String(v).padStart(3, '0')}`;
    const length = 80 + Math.floor(uniform() * 60);
    const features = Float32Array.from({ length: length * dim }, () => 0.5 * normal());
    const annotations: Array<{ segment: [number, number]; label: string }> = [];
    let t = 4 + Math.floor(uniform() * 10);
    while (t < length - 12) {
      const duration = 4 + Math.floor(uniform() * 14);
      const c = Math.floor(uniform() * TEMPORAL_CLASSES.length);
      for (let s = t; s < Math.min(length, t + duration); s++)
        for (let k = 0; k < dim; k++) features[s * dim + k] = features[s * dim + k]! + 2 * directions[c]![k]!;
      annotations.push({ segment: [seconds(t), seconds(t + duration)], label: TEMPORAL_CLASSES[c]! });
      t += duration + 8 + Math.floor(uniform() * 20);
    }
    writeNpy(join(featuresDir, `${id}.npy`), features, [length, dim]);
    const frames = length * featureStride + numFrames;
    videos[id] = { file: `${id}.npy`, fps, durationSec: frames / fps, frames, clips: length, dim, seconds: 0 };
    database[id] = { subset: v < options.train ? 'training' : 'validation', duration: frames / fps, fps, annotations };
  }
  writeFileSync(
    join(featuresDir, 'features.json'),
    JSON.stringify({ backbone: 'synthetic', settings: { numFrames, featureStride, size: 64, normalization: 'unit' }, videos }),
  );
  const annotations = join(dir, 'annotations.json');
  writeFileSync(annotations, JSON.stringify({ version: 'synthetic', database }));
  return { featuresDir, annotations };
}
