/** One analysis the page runs: its task, the video's id, how to stop it, and what came back. */
import type { ClassifyResponse, Job, SpatiotemporalResult, Task, TemporalResult } from './lib/types.js';

export interface Run {
  readonly task: Task;
  readonly videoId: string;
  readonly abort: AbortController;
  job?: Job;
  classification?: ClassifyResponse;
  temporal?: TemporalResult;
  spatiotemporal?: SpatiotemporalResult;
  done: boolean;
}
