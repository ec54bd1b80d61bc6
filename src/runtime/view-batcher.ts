/**
 * Batching across requests: views that concurrent requests submit to one model share ONNX
 * Runtime runs. A run takes the waiting views (same shape, up to `maxBatch`); while it runs, new
 * views gather for the next one, and an idle batcher waits at most `maxWaitMs` for company
 * before it runs what it has. Each request gets its own rows of the logits back.
 */
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import type { InferenceRunner } from './inference-runner.js';
import { float32Tensor, type Float32Tensor } from './tensor.js';

export interface BatcherOptions {
  /** Views per run at most. */
  readonly maxBatch: number;
  /** How long an idle batcher waits for more views before running. */
  readonly maxWaitMs: number;
}

export interface BatchedResult {
  /** Logits [n, C] of the submitted views. */
  readonly logits: Float32Array;
  readonly classes: number;
  /** Views that shared the run (metrics). */
  readonly runViews: number;
}

interface Pending {
  readonly video: Float32Tensor;
  readonly views: number;
  readonly shapeKey: string;
  readonly resolve: (result: BatchedResult) => void;
  readonly reject: (error: unknown) => void;
}

export class ViewBatcher {
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  /** `onRun` is told the views of every run (metrics). */
  constructor(
    private readonly runner: InferenceRunner,
    readonly options: BatcherOptions,
    private readonly onRun?: (views: number) => void,
  ) {}

  /** Queues views [n, 3, T, H, W]; resolves with their logits once their run is done. */
  submit(video: Float32Tensor, signal?: AbortSignal): Promise<BatchedResult> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const entry: Pending = { video, views: video.dims[0]!, shapeKey: video.dims.slice(1).join('x'), resolve, reject };
      this.queue.push(entry);
      // A request that gives up leaves the queue (a run already under way finishes regardless).
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(entry);
          if (at >= 0) {
            this.queue.splice(at, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
      this.schedule();
    });
  }

  private waitingViews(): number {
    const key = this.queue[0]?.shapeKey;
    return this.queue.reduce((s, p) => s + (p.shapeKey === key ? p.views : 0), 0);
  }

  /** After a run, what gathered meanwhile has waited long enough: it runs at once. */
  private schedule(afterRun = false): void {
    if (this.running || this.queue.length === 0) return;
    if (afterRun || this.waitingViews() >= this.options.maxBatch || this.options.maxWaitMs <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.runNext();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        void this.runNext();
      }, this.options.maxWaitMs);
    }
  }

  private async runNext(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    // The head of the queue and what fits after it with the same shape, in order.
    const key = this.queue[0]!.shapeKey;
    const taken: Pending[] = [];
    let views = 0;
    for (let i = 0; i < this.queue.length;) {
      const p = this.queue[i]!;
      if (p.shapeKey === key && (taken.length === 0 || views + p.views <= this.options.maxBatch)) {
        taken.push(p);
        views += p.views;
        this.queue.splice(i, 1);
      } else i++;
    }
    try {
      const dims = [views, ...taken[0]!.video.dims.slice(1)];
      let input: Float32Tensor;
      if (taken.length === 1) input = taken[0]!.video;
      else {
        const data = new Float32Array(taken.reduce((s, p) => s + p.video.data.length, 0));
        let offset = 0;
        for (const p of taken) {
          data.set(p.video.data, offset);
          offset += p.video.data.length;
        }
        input = float32Tensor(data, dims);
      }
      this.onRun?.(views);
      const { outputs } = await this.runner.run({ [BACKBONE_INPUT]: input }, ['logits']);
      const logits = outputs.logits!;
      const classes = logits.dims[1]!;
      let row = 0;
      for (const p of taken) {
        p.resolve({ logits: logits.data.slice(row * classes, (row + p.views) * classes), classes, runViews: views });
        row += p.views;
      }
    } catch (error) {
      for (const p of taken) p.reject(error);
    } finally {
      this.running = false;
      this.schedule(true);
    }
  }
}
