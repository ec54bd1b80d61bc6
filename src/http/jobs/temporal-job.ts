/**
 * The work of a job: its kind's pipeline (src/kinds/) on the job's stored input, with the models
 * the service has loaded.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { kindForTask } from '../../kinds/index.js';
import { renderAnnotatedVideo } from '../../render/render-video.js';
import type { ServiceState } from '../service-state.js';
import { JobManager, type JobManagerOptions, type JobProgress, type JobRunner } from './job-manager.js';
import type { JobRecord } from './job-store.js';
import type { ModelTask } from '../../config/manifest.js';
import { batchTask } from '../../batch/batch-tasks.js';
import { isBatchItem, type BatchItemRequest } from '../batches/batch-record.js';
import { writeNpy } from '../../weights/npy.js';
import { openJobStore, type RepairReport } from './job-database.js';

/** The features of a batch item of extract-features, in its files folder (`[T, C]` float32). */
export const FEATURES_FILE = 'features.npy';

/** One item of a batch (POST /batches): its task from the batch table; features into the files folder. */
async function runBatchItem(
  state: ServiceState,
  job: JobRecord,
  signal: AbortSignal,
  onProgress: (p: JobProgress) => void,
  filesDir: string,
): Promise<unknown> {
  const task = batchTask((job.request as Record<string, unknown> & BatchItemRequest).batch.task);
  const input = { file: job.inputPath!, displayName: String(job.request.fileName ?? 'video'), request: job.request };
  const output = await task.run(state, input, signal, onProgress);
  if (output.features) {
    mkdirSync(filesDir, { recursive: true });
    writeNpy(join(filesDir, FEATURES_FILE), output.features.data, output.features.shape);
  }
  return output.result;
}

/** The file a job submitted with render=true leaves in its files folder. */
export const RENDER_FILE = 'render.mp4';

/** Of a job's progress, the share its task takes when a render follows (the render the rest). */
const TASK_SHARE_WITH_RENDER = 0.7;

export function temporalJobRunner(state: ServiceState): JobRunner {
  return async (job, signal, onProgress, filesDir) => {
    if (isBatchItem(job.request)) return runBatchItem(state, job, signal, onProgress, filesDir);
    const kind = kindForTask(job.kind as ModelTask);
    if (!kind.runJob) throw new Error(`model kind '${kind.name}' runs no jobs`);
    const input = { file: job.inputPath!, displayName: String(job.request.fileName ?? 'video'), request: job.request };
    const render = job.request.render === true && kind.annotate;
    const share = render ? TASK_SHARE_WITH_RENDER : 1;
    const result = await kind.runJob(state, input, signal, (p) => onProgress({ stage: p.stage, fraction: p.fraction * share }));
    if (!render) {
      state.metrics.observeStages(job.kind, result.timings);
      return result;
    }
    onProgress({ stage: 'render', fraction: share });
    mkdirSync(filesDir, { recursive: true });
    const report = await renderAnnotatedVideo({
      file: input.file,
      displayName: input.displayName,
      out: join(filesDir, RENDER_FILE),
      annotation: render(result),
      limits: state.config.limits,
      signal,
      onProgress: (f) => onProgress({ stage: 'render', fraction: share + (1 - share) * f }),
    });
    const rendered = { ...result, timings: { ...result.timings, renderMs: report.ms } };
    // The render is a stage of the metrics too (videomae_stage_duration_seconds{stage="render"}).
    state.metrics.observeStages(job.kind, rendered.timings);
    return rendered;
  };
}

/**
 * The job queue of a server: SQLite at `<stateDir>/jobs.sqlite`, inputs under `<stateDir>/jobs/`.
 * A corrupt database stops the start (CorruptStateError) unless `repair` moves it aside.
 */
export function createJobManager(
  state: ServiceState,
  stateDir: string,
  options: Omit<JobManagerOptions, 'dataDir'>,
  repair = false,
): { manager: JobManager; repaired?: RepairReport } {
  const dataDir = join(stateDir, 'jobs');
  const { store, repaired } = openJobStore(stateDir, { repair });
  const manager = new JobManager(store, temporalJobRunner(state), { ...options, dataDir, logger: state.logger });
  return repaired ? { manager, repaired } : { manager };
}
