/**
 * `videomae make-dataset synthetic-ava`: videos in which several actors (textured shapes) rest or
 * move, grow, shrink and turn, sometimes two at once, with each actor's box and actions at every
 * keyframe (each second) written as AVA CSV (`video_id, timestamp, x1, y1, x2, y2, action_id,
 * person_id`, boxes normalized) and the classes as `id: name` lines. Deterministic from the seed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { encodeRawFrames } from '../video/ffmpeg.js';
import { mixSeed, seededUniform } from '../weights/random-init.js';
import { ACTOR_CLASSES, renderSyntheticActors } from './synthetic-render.js';

export interface SyntheticAvaOptions {
  readonly out: string;
  readonly videos: number;
  readonly valFraction?: number;
  readonly seed?: number;
  readonly size?: number;
  readonly fps?: number;
  readonly seconds?: number;
  readonly actors?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SyntheticAvaDataset {
  readonly train: string;
  readonly val: string;
  readonly labels: string;
  readonly videos: number;
  readonly keyframes: number;
}

export const SYNTHETIC_AVA_LABELS = ACTOR_CLASSES.map((name, i) => `${i + 1}: ${name}`);

export async function makeSyntheticAvaDataset(options: SyntheticAvaOptions): Promise<SyntheticAvaDataset> {
  if (!Number.isInteger(options.videos) || options.videos < 2)
    throw new InvalidParameterError('videos', options.videos, 'must be an integer of at least 2 (train + val)');
  const seed = options.seed ?? 0;
  const fps = options.fps ?? 8;
  const side = options.size ?? 64;
  const seconds = options.seconds ?? 12;
  const actors = options.actors ?? 3;
  const size = { width: side, height: side, frames: Math.round(seconds * fps) };
  const valCount = Math.max(1, Math.round(options.videos * (options.valFraction ?? 0.2)));
  mkdirSync(join(options.out, 'videos'), { recursive: true });
  const rows: Record<'train' | 'val', string[][]> = { train: [], val: [] };
  let keyframes = 0;
  for (let v = 0; v < options.videos; v++) {
    const id = `ava_${String(v).padStart(4, '0')}`;
    const { frames, keyframes: keys } = renderSyntheticActors(size, fps, actors, seededUniform(mixSeed(seed, 4241, v)));
    await encodeRawFrames({ file: join(options.out, 'videos', `${id}.mp4`), ...size, fps, frames });
    options.onProgress?.(v + 1, options.videos);
    const split = v < options.videos - valCount ? 'train' : 'val';
    rows[split].push([id]);
    for (const key of keys) {
      keyframes++;
      for (const person of key.people) {
        for (const label of person.labels) {
          rows[split].push([
            id,
            String(key.frame / fps),
            ...person.box.map((x) => x.toFixed(4)),
            String(ACTOR_CLASSES.indexOf(label) + 1),
            String(person.actor),
          ]);
        }
      }
    }
  }
  const write = (split: 'train' | 'val') => {
    const videos = rows[split].filter((r) => r.length === 1).map((r) => `videos/${r[0]}.mp4`);
    writeFileSync(join(options.out, `${split}_videos.txt`), videos.join('\n') + '\n');
    writeFileSync(
      join(options.out, `${split}.csv`),
      rows[split]
        .filter((r) => r.length > 1)
        .map((r) => r.join(','))
        .join('\n') + '\n',
    );
  };
  write('train');
  write('val');
  writeFileSync(join(options.out, 'labels.txt'), SYNTHETIC_AVA_LABELS.join('\n') + '\n');
  writeFileSync(
    join(options.out, 'dataset.json'),
    `${JSON.stringify({ kind: 'synthetic-ava', seed, videos: options.videos, validation: valCount, size: side, fps, seconds, actors, classes: ACTOR_CLASSES }, null, 2)}\n`,
  );
  return {
    train: join(options.out, 'train.csv'),
    val: join(options.out, 'val.csv'),
    labels: join(options.out, 'labels.txt'),
    videos: options.videos,
    keyframes,
  };
}
