/**
 * The tasks a batch runs over many videos, one table: each turns one video into its result (the
 * same JSON the matching endpoint answers) and, for feature extraction, the `[T, C]` features the
 * official TAD layout keeps per video. `videomae batch` runs them in-process; POST /batches runs
 * each item as a job of the service's queue (embedded or Redis), where the runner looks them up here.
 */
import { InvalidParameterError } from '../errors.js';
import { kindForTask } from '../kinds/index.js';
import type { JobContext, JobInput, JobProgress } from '../kinds/model-kind.js';
import type { ClassifyOptions } from '../tasks/classify/prepare.js';
import { classifyVideo } from '../tasks/classify/pipeline.js';
import { defaultFeatureSettings, extractFeatures, featureClipStarts } from '../tasks/temporal/features.js';
import { checkLimits } from '../video/limits.js';
import { probeVideo } from '../video/probe.js';

export const BATCH_TASK_NAMES = ['classify', 'extract-features', 'detect-temporal', 'detect-spatiotemporal'] as const;
export type BatchTaskName = (typeof BATCH_TASK_NAMES)[number];

export interface BatchItemOutput {
  readonly result: unknown;
  /** `[T, C]` float32 features, for the item's `<video>.npy`. */
  readonly features?: { readonly data: Float32Array; readonly shape: readonly [number, number] };
}

export interface BatchTask {
  readonly name: BatchTaskName;
  /** The job kind its items run as in the service's queue (a JobKind of http/jobs). */
  readonly jobKind: 'classification' | 'feature-extraction' | 'temporal-detection' | 'spatiotemporal-detection';
  /** Refuses a model the task cannot use, before any item runs (404 or 400). */
  checkModel(context: JobContext, model: string | undefined): void;
  run(context: JobContext, input: JobInput, signal: AbortSignal, onProgress: JobProgress): Promise<BatchItemOutput>;
}

const modelOf = (input: JobInput): string | undefined => (typeof input.request.model === 'string' ? input.request.model : undefined);

/** A detection task runs its model kind's job, as POST /detect-temporal and /detect-spatiotemporal do. */
function detectionTask(name: BatchTaskName, jobKind: 'temporal-detection' | 'spatiotemporal-detection'): BatchTask {
  return {
    name,
    jobKind,
    checkModel(context, model) {
      if (jobKind === 'temporal-detection') context.registry.resolveTemporal(model);
      else context.registry.resolveSpatiotemporal(model);
    },
    async run(context, input, signal, onProgress) {
      const kind = kindForTask(jobKind);
      return { result: await kind.runJob!(context, input, signal, onProgress) };
    },
  };
}

export const BATCH_TASKS: Readonly<Record<BatchTaskName, BatchTask>> = {
  classify: {
    name: 'classify',
    jobKind: 'classification',
    checkModel(context, model) {
      context.registry.resolve(model);
    },
    async run(context, input, signal, onProgress) {
      onProgress({ stage: 'classify', fraction: 0 });
      const options = (input.request.options ?? {}) as ClassifyOptions;
      const result = await classifyVideo(input, context.registry.resolve(modelOf(input)), options, {
        limits: context.config.limits,
        maxBatch: context.config.maxBatch,
        signal,
      });
      return { result };
    },
  },
  'extract-features': {
    name: 'extract-features',
    jobKind: 'feature-extraction',
    checkModel(context, model) {
      context.registry.resolve(model);
    },
    async run(context, input, signal, onProgress) {
      const model = context.registry.resolve(modelOf(input));
      onProgress({ stage: 'probe', fraction: 0 });
      const info = await probeVideo(input.file, input.displayName, undefined, signal);
      checkLimits(info, context.config.limits);
      const settings = defaultFeatureSettings(model);
      const expectedClips = Math.max(1, featureClipStarts(info.frameCount, settings.numFrames, settings.featureStride).length);
      const features = await extractFeatures({
        file: input.file,
        source: info,
        displayName: input.displayName,
        model,
        settings,
        maxBatch: context.config.maxBatch,
        signal,
        onProgress: (p) => onProgress({ stage: 'features', fraction: Math.min(0.99, p.clipsDone / expectedClips) }),
      });
      return {
        result: {
          model: model.name,
          clips: features.clips,
          dim: features.dim,
          frames: features.frames,
          fps: info.fps,
          durationSec: info.durationSec,
          settings: features.settings,
        },
        features: { data: features.features, shape: [features.clips, features.dim] },
      };
    },
  },
  'detect-temporal': detectionTask('detect-temporal', 'temporal-detection'),
  'detect-spatiotemporal': detectionTask('detect-spatiotemporal', 'spatiotemporal-detection'),
};

/** `--task NAME` / `task` of POST /batches -> its entry, or a 400 naming the known ones. */
export function batchTask(name: unknown, parameter = 'task'): BatchTask {
  if (typeof name === 'string' && name in BATCH_TASKS) return BATCH_TASKS[name as BatchTaskName];
  throw new InvalidParameterError(parameter, name, `must be one of ${BATCH_TASK_NAMES.join(', ')}`);
}
