/**
 * `videomae make-dataset synthetic-temporal`: long untrimmed videos (real H.264 MP4s) in which one
 * object rests in a still, grainy scene and now and then performs one of the synthetic motions,
 * with every instance's start and end written as ActivityNet-style annotations (seconds).
 * Deterministic from the seed: each video has its own random stream.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { encodeRawFrames } from '../video/ffmpeg.js';
import { mixSeed, seededUniform } from '../weights/random-init.js';
import { LABELS_FILE } from './manifest.js';
import { renderSyntheticTimeline, TIMELINE_CLASSES, type TimelineClass } from './synthetic-render.js';

export interface SyntheticTemporalOptions {
  readonly out: string;
  readonly videos: number;
  readonly valFraction?: number;
  readonly seed?: number;
  readonly size?: number;
  readonly fps?: number;
  /** Length of each video. */
  readonly seconds?: number;
  readonly classes?: readonly string[];
  /** Instance length range, seconds. */
  readonly minInstance?: number;
  readonly maxInstance?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SyntheticTemporalDataset {
  readonly annotations: string;
  readonly videoList: string;
  readonly labels: string;
  readonly videos: number;
  readonly instances: number;
}

export async function makeSyntheticTemporalDataset(options: SyntheticTemporalOptions): Promise<SyntheticTemporalDataset> {
  const classes = (options.classes?.length ? options.classes : TIMELINE_CLASSES) as TimelineClass[];
  for (const c of classes) {
    if (!(TIMELINE_CLASSES as readonly string[]).includes(c))
      throw new InvalidParameterError('classes', c, `is not a temporal synthetic class; choose from ${TIMELINE_CLASSES.join(', ')}`);
  }
  if (!Number.isInteger(options.videos) || options.videos < 2)
    throw new InvalidParameterError('videos', options.videos, 'must be an integer of at least 2 (train + val)');
  const seed = options.seed ?? 0;
  const fps = options.fps ?? 8;
  const side = options.size ?? 64;
  const seconds = options.seconds ?? 40;
  const size = { width: side, height: side, frames: Math.round(seconds * fps) };
  const minLength = Math.round((options.minInstance ?? 1.5) * fps);
  const maxLength = Math.round((options.maxInstance ?? 4) * fps);
  const plan = { minGap: Math.round(1 * fps), maxGap: Math.round(4 * fps), minLength, maxLength, classes };
  const valCount = Math.max(1, Math.round(options.videos * (options.valFraction ?? 0.2)));
  mkdirSync(join(options.out, 'videos'), { recursive: true });
  const database: Record<
    string,
    { subset: string; duration: number; fps: number; annotations: Array<{ segment: [number, number]; label: string }> }
  > = {};
  const ids: string[] = [];
  let instances = 0;
  let done = 0;
  const pending = Array.from({ length: options.videos }, (_, v) => v);
  const worker = async (): Promise<void> => {
    for (let v = pending.shift(); v !== undefined; v = pending.shift()) {
      const id = `video_${String(v).padStart(4, '0')}`;
      const { frames, events } = renderSyntheticTimeline(size, seededUniform(mixSeed(seed, 7919, v)), plan);
      await encodeRawFrames({ file: join(options.out, 'videos', `${id}.mp4`), ...size, fps, frames });
      database[id] = {
        subset: v < options.videos - valCount ? 'training' : 'validation',
        duration: size.frames / fps,
        fps,
        annotations: events.map((e) => ({ segment: [e.start / fps, e.end / fps], label: e.label })),
      };
      instances += events.length;
      options.onProgress?.(++done, options.videos);
    }
  };
  await Promise.all([worker(), worker()]);
  for (let v = 0; v < options.videos; v++) ids.push(`video_${String(v).padStart(4, '0')}`);
  const sorted = Object.fromEntries(ids.map((id) => [id, database[id]!]));
  const annotations = join(options.out, 'annotations.json');
  writeFileSync(annotations, `${JSON.stringify({ version: 'synthetic-temporal', database: sorted }, null, 1)}\n`);
  const videoList = join(options.out, 'videos.txt');
  writeFileSync(videoList, ids.map((id) => `videos/${id}.mp4`).join('\n') + '\n');
  writeFileSync(join(options.out, LABELS_FILE), classes.join('\n') + '\n');
  writeFileSync(
    join(options.out, 'dataset.json'),
    `${JSON.stringify({ kind: 'synthetic-temporal', seed, classes, videos: options.videos, validation: valCount, size: side, fps, seconds, instanceSeconds: [minLength / fps, maxLength / fps] }, null, 2)}\n`,
  );
  return { annotations, videoList, labels: join(options.out, LABELS_FILE), videos: options.videos, instances };
}
