/**
 * Prometheus metrics (prom-client), one registry per service so tests and several servers in one
 * process do not share counters. What a person running the service asks first: requests by route
 * and status, where the time goes (decode, inference, post-processing), how full the queues are,
 * how big the ONNX Runtime batches are, how often media is refused or ffmpeg fails, jobs by state.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ffmpegFailures } from '../video/ffmpeg.js';

export interface QueueSources {
  readonly admission: () => { running: number; waiting: number };
  readonly jobs: () => Record<string, number>;
}

const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'videomae_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'videomae_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: STAGE_BUCKETS,
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'videomae_stage_duration_seconds',
    help: 'Time per request in each stage (probe, decode, preprocess, inference, postprocess)',
    labelNames: ['task', 'stage'],
    buckets: STAGE_BUCKETS,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'videomae_inference_batch_size',
    help: 'Views per ONNX Runtime run',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'videomae_media_refusals_total',
    help: 'Uploads refused before or during decoding, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });

  constructor(sources: QueueSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'videomae_' });
    new Gauge({
      name: 'videomae_queue_depth',
      help: 'Requests running and waiting for a turn (classify), jobs queued and running',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      collect() {
        const load = sources.admission();
        this.set({ queue: 'classify', state: 'running' }, load.running);
        this.set({ queue: 'classify', state: 'waiting' }, load.waiting);
        const jobs = sources.jobs();
        this.set({ queue: 'jobs', state: 'running' }, jobs.running ?? 0);
        this.set({ queue: 'jobs', state: 'waiting' }, jobs.queued ?? 0);
      },
    });
    new Gauge({
      name: 'videomae_jobs',
      help: 'Jobs kept, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const [state, count] of Object.entries(sources.jobs())) this.set({ state }, count);
      },
    });
    let seen = 0;
    new Counter({
      name: 'videomae_ffmpeg_failures_total',
      help: 'ffmpeg or ffprobe processes that failed (not killed by us)',
      registers: [this.registry],
      collect() {
        const now = ffmpegFailures();
        this.inc(now - seen);
        seen = now;
      },
    });
  }

  /** Stage times of a finished request, in milliseconds as the pipelines report them. */
  observeStages(task: string, timings: Record<string, number | undefined>): void {
    for (const [key, ms] of Object.entries(timings)) {
      if (!key.endsWith('Ms') || key === 'totalMs' || typeof ms !== 'number') continue;
      this.stageSeconds.observe({ task, stage: key.slice(0, -2) }, ms / 1000);
    }
  }
}
