/**
 * The work of a temporal-detection job: the temporal pipeline on the job's stored input, with the
 * models the service has loaded.
 */
import { join } from 'node:path';
import { detectTemporal, type TemporalDetectOptions } from '../../tasks/temporal/detect.js';
import type { ServiceState } from '../service-state.js';
import { JobManager, type JobManagerOptions, type JobRunner } from './job-manager.js';
import { SqliteJobStore } from './sqlite-job-store.js';

export function temporalJobRunner(state: ServiceState): JobRunner {
  return (job, signal, onProgress) => detectTemporal(
    { file: job.inputPath!, displayName: String(job.request.fileName ?? 'video') },
    state.registry.resolveTemporal(typeof job.request.model === 'string' ? job.request.model : undefined),
    (job.request.options ?? {}) as TemporalDetectOptions,
    { limits: state.config.limits, maxBatch: state.config.maxBatch, signal, onProgress },
  );
}

/** The job queue of a server: SQLite at `<stateDir>/jobs.sqlite`, inputs under `<stateDir>/jobs/`. */
export function createJobManager(state: ServiceState, stateDir: string, options: Omit<JobManagerOptions, 'dataDir'>): JobManager {
  const dataDir = join(stateDir, 'jobs');
  const manager = new JobManager(new SqliteJobStore(join(stateDir, 'jobs.sqlite')), temporalJobRunner(state), { ...options, dataDir });
  return manager;
}
