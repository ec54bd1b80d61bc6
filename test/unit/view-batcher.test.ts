import { describe, expect, it } from 'vitest';
import type { InferenceRunner, RunResult } from '../../src/runtime/inference-runner.js';
import { float32Tensor, type TensorFeeds } from '../../src/runtime/tensor.js';
import { ViewBatcher } from '../../src/runtime/view-batcher.js';

/** A runner whose logits row for a view is [first value of the view, its index in the run]. */
function fakeRunner(runs: number[][], delayMs = 20, fail = false): InferenceRunner {
  return {
    run: async (feeds: TensorFeeds): Promise<RunResult> => {
      const video = feeds.video!;
      const n = video.dims[0]!;
      const per = video.data.length / n;
      runs.push(Array.from({ length: n }, (_, i) => Number(video.data[i * per])));
      await new Promise((r) => setTimeout(r, delayMs));
      if (fail) throw new Error('session failed');
      const logits = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        logits[2 * i] = Number(video.data[i * per]);
        logits[2 * i + 1] = i;
      }
      return { outputs: { logits: float32Tensor(logits, [n, 2]) } };
    },
  } as unknown as InferenceRunner;
}

/** n views of shape [3, 1, s, s], view i filled with base + i. */
const views = (n: number, base: number, s = 2) => {
  const per = 3 * s * s;
  return float32Tensor(
    Float32Array.from({ length: n * per }, (_, k) => base + Math.floor(k / per)),
    [n, 3, 1, s, s],
  );
};

describe('ViewBatcher', () => {
  it('runs concurrent requests together and gives each its own rows', async () => {
    const runs: number[][] = [];
    const batcher = new ViewBatcher(fakeRunner(runs), { maxBatch: 16, maxWaitMs: 30 });
    const [a, b, c] = await Promise.all([batcher.submit(views(2, 10)), batcher.submit(views(2, 20)), batcher.submit(views(1, 30))]);
    expect(runs).toEqual([[10, 11, 20, 21, 30]]);
    expect(Array.from(a.logits)).toEqual([10, 0, 11, 1]);
    expect(Array.from(b.logits)).toEqual([20, 2, 21, 3]);
    expect(Array.from(c.logits)).toEqual([30, 4]);
    expect(a.runViews).toBe(5);
  });

  it('keeps runs within maxBatch, never merges shapes, and gathers views while a run is under way', async () => {
    const runs: number[][] = [];
    const batcher = new ViewBatcher(fakeRunner(runs), { maxBatch: 4, maxWaitMs: 10 });
    const first = batcher.submit(views(2, 0));
    await new Promise((r) => setTimeout(r, 15)); // the first run has started alone
    const rest = [
      batcher.submit(views(2, 10)),
      batcher.submit(views(2, 20, 4)),
      batcher.submit(views(2, 30)),
      batcher.submit(views(2, 40)),
    ];
    await Promise.all([first, ...rest]);
    expect(runs).toEqual([
      [0, 1],
      [10, 11, 30, 31],
      [20, 21],
      [40, 41],
    ]);
  });

  it('runs at once without a wait, drops a request that gives up while waiting, and fails every request of a failed run', async () => {
    const runs: number[][] = [];
    const now = new ViewBatcher(fakeRunner(runs, 30), { maxBatch: 8, maxWaitMs: 0 });
    const busy = now.submit(views(1, 1));
    const controller = new AbortController();
    const leaving = now.submit(views(1, 2), controller.signal);
    controller.abort(new Error('client gone'));
    await expect(leaving).rejects.toThrow('client gone');
    await busy;
    expect(runs).toEqual([[1]]);
    const failing = new ViewBatcher(fakeRunner([], 5, true), { maxBatch: 8, maxWaitMs: 20 });
    const results = await Promise.allSettled([failing.submit(views(1, 1)), failing.submit(views(1, 2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
