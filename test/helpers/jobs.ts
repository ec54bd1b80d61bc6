/** The embedded job queue of a test's ServiceState, with the methods only it has (watcherCount, active). */
import { JobManager } from '../../src/http/jobs/job-manager.js';
import type { ServiceState } from '../../src/http/service-state.js';

export function localJobs(state: ServiceState): JobManager {
  if (!(state.jobs instanceof JobManager)) throw new Error('this test needs the embedded job queue');
  return state.jobs;
}
