/**
 * The work of a job: its kind's pipeline (src/kinds/) on the job's stored input, with the models
 * the service has loaded.
 */
import { join } from 'node:path';
import { kindForTask } from '../../kinds/index.js';
import type { ServiceState } from '../service-state.js';
import { JobManager, type JobManagerOptions, type JobRunner } from './job-manager.js';
import { openJobStore, type RepairReport } from './job-database.js';

export function temporalJobRunner(state: ServiceState): JobRunner {
  return async (job, signal, onProgress) => {
    const kind = kindForTask(job.kind);
    if (!kind.runJob) throw new Error(`model kind '${kind.name}' runs no jobs`);
    const input = { file: job.inputPath!, displayName: String(job.request.fileName ?? 'video'), request: job.request };
    const result = await kind.runJob(state, input, signal, onProgress);
    state.metrics.observeStages(job.kind, result.timings);
    return result;
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
