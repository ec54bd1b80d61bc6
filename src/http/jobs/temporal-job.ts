/**
 * The work of a job: the temporal or the spatiotemporal pipeline on the job's stored input, with
 * the models the service has loaded.
 */
import { join } from 'node:path';
import { detectSpatiotemporal, type SpatiotemporalOptions } from '../../tasks/spatiotemporal/detect.js';
import { detectTemporal, type TemporalDetectOptions } from '../../tasks/temporal/detect.js';
import { detectFeatures, type FeatureTimingRequest } from '../../tasks/temporal/detect-features.js';
import type { ServiceState } from '../service-state.js';
import { JobManager, type JobManagerOptions, type JobRunner } from './job-manager.js';
import { openJobStore, type RepairReport } from './job-database.js';

export function temporalJobRunner(state: ServiceState): JobRunner {
  return async (job, signal, onProgress) => {
    const result = await runJob(state, job, signal, onProgress);
    state.metrics.observeStages(job.kind, result.timings);
    return result;
  };
}

/** The pipeline of the job's kind on its stored input. */
function runJob(state: ServiceState, job: Parameters<JobRunner>[0], signal: AbortSignal, onProgress: Parameters<JobRunner>[2]) {
  const input = { file: job.inputPath!, displayName: String(job.request.fileName ?? 'video') };
  const model = typeof job.request.model === 'string' ? job.request.model : undefined;
  if (job.kind === 'spatiotemporal-detection') {
    return detectSpatiotemporal(input, state.registry.resolveSpatiotemporal(model), (job.request.options ?? {}) as SpatiotemporalOptions, {
      limits: state.config.limits, signal, onProgress,
      ...((job.request.options as SpatiotemporalOptions | undefined)?.boxes?.length ? {} : { detector: state.personDetector() }),
    });
  }
  if (job.request.input === 'features') {
    return detectFeatures({ ...input, displayName: String(job.request.fileName ?? 'features.npy') }, state.registry.resolveTemporal(model).detector,
      (job.request.timing ?? {}) as FeatureTimingRequest, (job.request.options ?? {}) as TemporalDetectOptions, { signal, onProgress });
  }
  return detectTemporal(input, state.registry.resolveTemporal(model), (job.request.options ?? {}) as TemporalDetectOptions,
    { limits: state.config.limits, maxBatch: state.config.maxBatch, signal, onProgress });
}

/**
 * The job queue of a server: SQLite at `<stateDir>/jobs.sqlite`, inputs under `<stateDir>/jobs/`.
 * A corrupt database stops the start (CorruptStateError) unless `repair` moves it aside.
 */
export function createJobManager(state: ServiceState, stateDir: string, options: Omit<JobManagerOptions, 'dataDir'>, repair = false): { manager: JobManager; repaired?: RepairReport } {
  const dataDir = join(stateDir, 'jobs');
  const { store, repaired } = openJobStore(stateDir, { repair });
  const manager = new JobManager(store, temporalJobRunner(state), { ...options, dataDir, logger: state.logger });
  return repaired ? { manager, repaired } : { manager };
}
