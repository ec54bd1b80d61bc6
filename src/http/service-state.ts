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
import type { JobManager } from './jobs/job-manager.js';
import { Admission, DEFAULT_ADMISSION, type AdmissionOptions } from './admission.js';

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
  /** Inference requests in flight and waiting (503 + Retry-After beyond). */
  readonly admission?: AdmissionOptions;
}

export class ServiceState {
  private loaded: ModelRegistry | undefined;
  readonly startedAt = Date.now();
  /** The job queue of long requests (temporal detection); absent when the server runs none. */
  jobs: JobManager | undefined;
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

  constructor(readonly config: ServiceConfig) {
    this.admission = new Admission(config.admission ?? DEFAULT_ADMISSION);
  }

  get ready(): boolean {
    return this.loaded !== undefined;
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
