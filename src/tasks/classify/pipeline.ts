/**
 * Action recognition: prepare (protocol, plan) -> infer (views in batches) -> postprocess
 * (mean of softmax over views, top-k). Decoding the next views overlaps the inference of the
 * previous batch: the model runs on a worker thread while ffmpeg fills the next batch.
 */
import { assert, InvalidParameterError } from '../../errors.js';
import { BACKBONE_INPUT } from '../../onnx/vit-graph.js';
import { Float32Pool } from '../../runtime/buffer-pool.js';
import type { ExecutionProvider } from '../../runtime/inference-runner.js';
import type { LoadedModel } from '../../runtime/model-registry.js';
import { float32Tensor, type Float32Tensor } from '../../runtime/tensor.js';
import type { ViewBatcher } from '../../runtime/view-batcher.js';
import { checkDecodeBudget, probeWithinLimits, type VideoLimits } from '../../video/limits.js';
import type { VideoInfo } from '../../video/probe.js';
import type { SamplingProtocol } from '../../video/sampling.js';
import { planViews, readViews, viewDecodePasses, type Preprocessing, type ViewPlan, type ViewTimings } from '../../video/views.js';
import { clipScores, meanSoftmax, topK } from './postprocess.js';
import { chooseProtocol, DEFAULT_TOP_K, modelPreprocessing, type ClassifyOptions } from './prepare.js';

/** What a client can change when its request is over the decode budget (numCrops costs no decoding). */
export const CLASSIFY_BUDGET_HINT =
  "lower numClips (on a long video each sampled frame can be a seek of its own) or use protocol 'fast', or send a shorter or smaller video";

/** Batch buffers shared by every request of this process (they are large; see Float32Pool). */
const batchPool = new Float32Pool();

export interface ClassifyInput {
  /** A local, server-owned file path. */
  readonly file: string;
  /** The name the user knows the video by (upload file name), for messages. */
  readonly displayName?: string;
}

export interface ClassifySettings {
  readonly limits: VideoLimits;
  /** Views per ONNX Runtime run. */
  readonly maxBatch: number;
  readonly signal?: AbortSignal;
  /** Told the views of each ONNX Runtime run (metrics). */
  readonly onBatch?: (views: number) => void;
  /** Given every view's logits [views, classes] once inferred (evaluate --reference compares them). */
  readonly onViewLogits?: (logits: Float32Array) => void;
  /** Share runs with other requests' views (batching across requests); absent: runs of our own. */
  readonly batcher?: ViewBatcher;
}

export interface ClassifyResult {
  readonly model: string;
  readonly untrained: boolean;
  readonly labels: Array<{ index: number; label: string; score: number }>;
  readonly protocol: SamplingProtocol & { shortSide: number; cropSize: number; views: number };
  readonly video: Pick<VideoInfo, 'durationSec' | 'fps' | 'frameCount' | 'width' | 'height' | 'codec' | 'container'>;
  readonly timings: { probeMs: number; decodeMs: number; preprocessMs: number; inferenceMs: number; totalMs: number };
  readonly inference: { provider: ExecutionProvider; batches: number; maxBatch: number };
  /** With `clipScores`: each clip's span in seconds and its scores for `labels`, in their order. */
  readonly clips?: Array<{ index: number; start: number; end: number; scores: number[] }>;
}

export async function classifyVideo(
  input: ClassifyInput,
  model: LoadedModel,
  options: ClassifyOptions,
  settings: ClassifySettings,
): Promise<ClassifyResult> {
  const started = performance.now();
  const displayName = input.displayName ?? input.file;
  // prepare
  if (model.folder.architecture.numClasses === 0) {
    throw new InvalidParameterError(
      'model',
      model.name,
      'is a features-only encoder (no classification head); name a classification model',
      'model_cannot_classify',
    );
  }
  const protocol = chooseProtocol(model.folder, options);
  const preprocessing = modelPreprocessing(model.folder);
  const info = await probeWithinLimits(input.file, displayName, settings.limits, settings.signal);
  const plan = planViews(info, protocol, preprocessing);
  await checkDecodeBudget(input.file, info, viewDecodePasses(plan), settings.limits, CLASSIFY_BUDGET_HINT, settings.signal);
  const probeMs = performance.now() - started;

  // infer
  const timings: ViewTimings = { decodeMs: 0, preprocessMs: 0 };
  const { logits, inferenceMs, batches } = await inferViews(input.file, info, plan, preprocessing, model, settings, timings, displayName);
  settings.onViewLogits?.(logits);

  // postprocess
  const classes = model.folder.architecture.numClasses;
  const scores = meanSoftmax(logits, plan.viewCount, classes);
  const k = Math.min(options.topK ?? DEFAULT_TOP_K, classes);
  const ranked = topK(scores, k);
  return {
    model: model.name,
    untrained: !model.folder.manifest.provenance.trained,
    labels: ranked.map(({ index, score }) => ({ index, label: model.labels[index] ?? `class_${index}`, score })),
    protocol: { ...protocol, shortSide: preprocessing.shortSide, cropSize: preprocessing.cropSize, views: plan.viewCount },
    video: {
      durationSec: info.durationSec,
      fps: info.fps,
      frameCount: info.frameCount,
      width: info.width,
      height: info.height,
      codec: info.codec,
      container: info.container,
    },
    timings: {
      probeMs: round(probeMs),
      decodeMs: round(timings.decodeMs),
      preprocessMs: round(timings.preprocessMs),
      inferenceMs: round(inferenceMs),
      totalMs: round(performance.now() - started),
    },
    inference: { provider: model.runner.provider, batches, maxBatch: settings.maxBatch },
    ...(options.clipScores ? { clips: perClip(logits, plan, classes, ranked, info.fps) } : {}),
  };
}

/** Each clip's span (its first and last frame, in seconds) and its scores for the ranked classes. */
function perClip(
  logits: Float32Array,
  plan: ViewPlan,
  classes: number,
  ranked: readonly { index: number }[],
  fps: number,
): NonNullable<ClassifyResult['clips']> {
  const rows = clipScores(
    logits,
    plan.clips.length,
    plan.crops.length,
    classes,
    ranked.map((r) => r.index),
  );
  return plan.clips.map((frames, index) => ({
    index,
    start: round3(Math.min(...frames) / fps),
    end: round3(Math.max(...frames) / fps),
    scores: rows[index]!,
  }));
}

function round3(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * Streams views into batches of up to `maxBatch` and keeps at most one batch running while the
 * next one is decoded. Returns logits `[views, classes]` in view order.
 */
async function inferViews(
  file: string,
  info: VideoInfo,
  plan: ViewPlan,
  preprocessing: Preprocessing,
  model: LoadedModel,
  settings: ClassifySettings,
  timings: ViewTimings,
  displayName: string,
): Promise<{ logits: Float32Array; inferenceMs: number; batches: number }> {
  const classes = model.folder.architecture.numClasses;
  const { numFrames } = plan.protocol;
  const size = plan.cropSize;
  const logits = new Float32Array(plan.viewCount * classes);
  const maxBatch = Math.max(1, settings.maxBatch);
  const batchLength = maxBatch * plan.viewLength;
  let inferenceMs = 0;
  let batches = 0;
  let running: Promise<void> = Promise.resolve();

  // Views are packed straight into their slot of the batch; a full batch is handed over to the
  // worker (transferred, not copied) and a fresh one started.
  const submit = (batch: Float32Array, count: number, firstView: number): Promise<void> => {
    const video: Float32Tensor = float32Tensor(batch.subarray(0, count * plan.viewLength), [count, 3, numFrames, size, size]);
    const runStarted = performance.now();
    batches++;
    if (settings.batcher) {
      return settings.batcher.submit(video, settings.signal).then((result) => {
        inferenceMs += performance.now() - runStarted;
        batchPool.give(batch);
        assert(result.classes === classes, () => `model '${model.name}' returned ${result.classes} classes, expected ${classes}`);
        logits.set(result.logits, firstView * classes);
      });
    }
    settings.onBatch?.(count);
    return model.runner.run({ [BACKBONE_INPUT]: video }, ['logits'], { transferInputs: true }).then(({ outputs, inputs }) => {
      inferenceMs += performance.now() - runStarted;
      const returned = inputs?.[BACKBONE_INPUT]?.data;
      if (returned) batchPool.give(new Float32Array(returned.buffer, 0, batchLength));
      const out = outputs.logits;
      assert(
        out && out.dims[0] === count && out.dims[1] === classes,
        () => `model '${model.name}' returned logits [${out?.dims.join(', ')}], expected [${count}, ${classes}]`,
      );
      logits.set(out.data, firstView * classes);
    });
  };

  let batch: Float32Array | undefined;
  let filled = 0;
  let nextView = 0;
  try {
    for await (const view of readViews(file, info, plan, preprocessing, timings, settings.signal, displayName)) {
      settings.signal?.throwIfAborted();
      batch ??= batchPool.take(batchLength);
      await view.packInto(batch, filled * plan.viewLength);
      filled++;
      if (filled === maxBatch) {
        await running;
        running = submit(batch, filled, nextView);
        // Awaited below; until then a failed run must not count as an unhandled rejection
        // (which would take the whole process down).
        running.catch(() => undefined);
        nextView += filled;
        batch = undefined;
        filled = 0;
      }
    }
    await running;
    settings.signal?.throwIfAborted();
    if (batch && filled > 0) await submit(batch, filled, nextView);
  } finally {
    // A decode failure must not leave an unobserved rejection behind.
    await running.catch(() => undefined);
  }
  return { logits, inferenceMs, batches };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
