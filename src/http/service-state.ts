/**
 * What the HTTP layer needs to know about the running service: its configuration, and the models
 * once they are loaded (readiness).
 */
import { UnavailableError } from '../errors.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import type { ModelRegistry } from '../runtime/model-registry.js';
import type { VideoLimits } from '../video/limits.js';
import { CenterNetDetector, DEFAULT_CENTERNET_OPTIONS } from '../detector/centernet.js';
import type { PersonDetector } from '../detector/person-detector.js';
import type { JobQueue } from './jobs/job-queue.js';
import type { BatchService } from './batches/batch-service.js';
import { Admission, DEFAULT_ADMISSION, type AdmissionOptions } from './admission.js';
import type { UrlFetchPolicy } from './fetch-url.js';
import { ViewBatcher, type BatcherOptions } from '../runtime/view-batcher.js';
import { publicFailure, type LoadedModel } from '../runtime/model-registry.js';
import { SILENT_LOGGER, type Logger } from './logging.js';
import { ServiceMetrics } from './metrics.js';

export interface ServiceConfig {
  readonly device: DeviceRequest;
  readonly limits: VideoLimits;
  /** Views per ONNX Runtime run. */
  readonly maxBatch: number;
  /** Parent of the per-request upload directories. */
  readonly tempDir: string;
  /** Longest a `wait=true` request waits for its job before answering 202. */
  readonly jobWaitMs?: number;
  /** Person boxes the detector keeps (its score); default 0.3. */
  readonly personThreshold?: number;
  /** Scale detected person boxes about their centre (the official AVA pipeline widens them); default 1. */
  readonly personEnlarge?: number;
  /** Every request's deadline (504 and its work stopped when it passes); 0 = none. Default 120 s. */
  readonly requestTimeoutMs?: number;
  /** An upload that sends no byte for this long is cut with 408 (default 30 s; 0 = never). */
  readonly uploadIdleTimeoutMs?: number;
  /** Inference requests in flight and waiting (503 + Retry-After beyond). */
  readonly admission?: AdmissionOptions;
  /** Structured logs (default: none; `serve` logs JSON to stdout). */
  readonly logger?: Logger;
  /** Batching across /classify requests (off when absent: each request runs its own batches). */
  readonly batching?: BatcherOptions;
  /** Video by URL (off when absent): allowed hosts, size and time caps. */
  readonly urlFetch?: UrlFetchPolicy;
  /** Bearer tokens; when any is set, every route but /healthz and /readyz needs one (401). */
  readonly apiKeys?: readonly string[];
  /** Where the page's bundle is (default dist/web/, from npm run build:web). */
  readonly webDir?: string;
}

export class ServiceState {
  private loaded: ModelRegistry | undefined;
  readonly startedAt = Date.now();
  /** The job queue of long requests (temporal detection); absent when the server runs none. */
  jobs: JobQueue | undefined;
  /** Batches over the job queue (POST /batches); absent when the server runs no job queue. */
  batches: BatchService | undefined;
  private detector: PersonDetector | undefined;

  /** The person detector, started on first use (it loads TF.js and the CenterNet weights). */
  personDetector(): PersonDetector {
    this.detector ??= new CenterNetDetector({
      ...DEFAULT_CENTERNET_OPTIONS,
      ...(this.config.personThreshold !== undefined ? { scoreThreshold: this.config.personThreshold } : {}),
      ...(this.config.personEnlarge !== undefined ? { enlarge: this.config.personEnlarge } : {}),
    });
    return this.detector;
  }

  /** Replaces the default detector (a user-supplied ONNX one). */
  usePersonDetector(detector: PersonDetector): void {
    this.detector = detector;
  }

  async closeDetector(): Promise<void> {
    await this.detector?.close();
    this.detector = undefined;
  }

  /** Bounds the synchronous inference requests (/classify). */
  readonly admission: Admission;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;

  constructor(readonly config: ServiceConfig) {
    this.admission = new Admission(config.admission ?? DEFAULT_ADMISSION);
    this.logger = config.logger ?? SILENT_LOGGER;
    this.metrics = new ServiceMetrics({ admission: () => this.admission.load, jobs: () => this.jobs?.countsByStatus() ?? {} });
  }

  private readonly batchers = new Map<string, ViewBatcher>();

  /** The model's cross-request batcher, when batching is on. */
  batcherFor(model: LoadedModel): ViewBatcher | undefined {
    const options = this.config.batching;
    if (!options) return undefined;
    let batcher = this.batchers.get(model.name);
    if (!batcher)
      this.batchers.set(model.name, (batcher = new ViewBatcher(model.runner, options, (views) => this.metrics.batchSize.observe(views))));
    return batcher;
  }

  private drainingSince: number | undefined;
  private readonly drain = new AbortController();
  /** Requests open now (the graceful shutdown waits for them). */
  openRequests = 0;

  /** Serving the default model of every task it has folders for, and not shutting down. */
  get ready(): boolean {
    return (
      this.loaded !== undefined &&
      this.loaded.unservedTasks().length === 0 &&
      this.drainingSince === undefined &&
      this.jobs?.unavailable?.() === undefined
    );
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** From now on readiness is false and new work is refused (503 shutting_down). */
  beginDraining(): void {
    this.drainingSince ??= Date.now();
    this.drain.abort();
  }

  /** Fires when the drain begins: long-lived answers (event streams) end then, not at the grace period's end. */
  get drainSignal(): AbortSignal {
    return this.drain.signal;
  }

  /**
   * Why the service is not ready, or undefined when it is. `detailed` names the failed models
   * (by name, never by path); without it (API keys on, no key given) only their count is said.
   */
  notReadyReason(detailed = true): UnavailableError | undefined {
    if (this.drainingSince !== undefined)
      return new UnavailableError(
        'shutting_down',
        'the service is shutting down; it finishes the requests in flight and takes no new ones',
      );
    if (!this.loaded) return new UnavailableError('not_ready', 'models are still loading');
    // A replica whose Redis is gone can take no job: load balancers should send requests elsewhere.
    const queue = this.jobs?.unavailable?.();
    if (queue) return queue;
    const unserved = this.loaded.unservedTasks();
    if (unserved.length === 0) return undefined;
    if (!detailed)
      return new UnavailableError('model_failed', `${unserved.length} task(s) have no default model serving; send an API key to see which`);
    const which = unserved
      .map(({ task, failure }) => {
        const shown = publicFailure(failure);
        return `${task}: '${shown.name}' (${shown.code}: ${shown.message})`;
      })
      .join('; ');
    return new UnavailableError(
      'model_failed',
      `the default model of ${unserved.length} task(s) failed to load and is not served: ${which}`,
    );
  }

  setRegistry(registry: ModelRegistry): void {
    this.loaded = registry;
  }

  /** The loaded models, or a 503 while they are still loading. */
  get registry(): ModelRegistry {
    if (!this.loaded) throw new UnavailableError('not_ready', 'models are still loading; retry when GET /readyz answers 200');
    return this.loaded;
  }

  get registryIfLoaded(): ModelRegistry | undefined {
    return this.loaded;
  }
}
