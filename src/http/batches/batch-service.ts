/**
 * Batches on the service (POST /batches): one job per manifest item on the service's job queue
 * (embedded or Redis, so the items spread over every worker), a batch record naming each item's
 * job id before any is submitted, progress and results read back from the jobs. Resuming after a
 * restart submits exactly the items whose job is missing (a submit with a known id is a no-op).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvalidParameterError, NotFoundError, ServiceError } from '../../errors.js';
import type { UrlFetchPolicy } from '../fetch-url.js';
import { fetchVideoUrl } from '../fetch-url.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { ACTIVE_STATUSES, type JobRecord, type JobStatus } from '../jobs/job-store.js';
import type { JobContext } from '../../kinds/model-kind.js';
import { BatchStore, videoIds, type BatchItem, type BatchItemRequest, type BatchRecord } from './batch-record.js';
import { batchTask } from '../../batch/batch-tasks.js';

export interface BatchPolicy {
  /** Manifest paths must lie under this folder (batches of paths are refused without it). */
  readonly root?: string;
  /** Videos by URL (refused when absent). */
  readonly urlFetch?: UrlFetchPolicy;
  /** Items per batch at most. */
  readonly maxItems: number;
  /** Where URL items are fetched before they are queued. */
  readonly tempDir: string;
}

export interface BatchSubmission {
  readonly task: unknown;
  readonly videos: unknown;
  readonly model?: unknown;
  readonly options?: unknown;
}

export interface BatchStatus {
  readonly batch: BatchRecord;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly counts: Record<JobStatus, number>;
  readonly fraction: number;
  readonly jobs: ReadonlyArray<JobRecord | undefined>;
}

const isUrl = (video: string): boolean => /^https?:\/\//i.test(video);

export class BatchService {
  constructor(
    private readonly store: BatchStore,
    private readonly jobs: JobQueue,
    private readonly context: JobContext,
    private readonly policy: BatchPolicy,
  ) {}

  /** Checks the whole manifest (task, model, every path or URL) before any job exists, then submits its items. */
  async create(submission: BatchSubmission, signal?: AbortSignal): Promise<BatchStatus> {
    const task = batchTask(submission.task);
    const model = submission.model === undefined ? undefined : String(submission.model);
    task.checkModel(this.context, model);
    const options = submission.options ?? {};
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new InvalidParameterError('options', submission.options, 'must be an object of the task endpoint’s options');
    if (!Array.isArray(submission.videos) || submission.videos.length === 0)
      throw new InvalidParameterError('videos', submission.videos, 'must be a non-empty list of video paths or URLs', 'missing_parameter');
    if (submission.videos.length > this.policy.maxItems)
      throw new InvalidParameterError(
        'videos',
        submission.videos.length,
        `lists more than ${this.policy.maxItems} videos (serve --max-batch-items)`,
      );
    const checked = submission.videos.map((raw, index) => this.checkVideo(raw, index));
    const ids = videoIds(
      checked.map((c) => c.source),
      (index) => `videos[${index}]`,
    );
    const items: BatchItem[] = checked.map(({ video, source }, index) => ({ index, id: ids[index]!, video, source, jobId: randomUUID() }));
    const batch: BatchRecord = {
      id: randomUUID(),
      task: task.name,
      ...(model !== undefined ? { model } : {}),
      options: options as Record<string, unknown>,
      createdAt: Date.now(),
      items,
    };
    this.store.save(batch);
    await this.submitMissing(batch, signal);
    return this.status(batch.id);
  }

  /** Submits the items of every kept batch whose job does not exist (a restart mid-submit); returns how many. */
  async resumeAll(): Promise<number> {
    let submitted = 0;
    for (const batch of this.store.list()) submitted += await this.submitMissing(batch);
    return submitted;
  }

  async status(id: string): Promise<BatchStatus> {
    const batch = this.get(id);
    const jobs = await Promise.all(batch.items.map((item) => this.findJob(item.jobId)));
    const counts: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    let progress = 0;
    for (const job of jobs) {
      // a missing job is an item still to be submitted (the batch resumes it)
      counts[job?.status ?? 'queued']++;
      progress += job ? (ACTIVE_STATUSES.includes(job.status) ? job.progress : 1) : 0;
    }
    const active = counts.queued + counts.running;
    const status = active > 0 ? 'running' : counts.succeeded === batch.items.length ? 'succeeded' : 'failed';
    return { batch, status, counts, fraction: progress / batch.items.length, jobs };
  }

  /** Cancels every item still queued or running. */
  async cancel(id: string): Promise<BatchStatus> {
    const { batch, jobs } = await this.status(id);
    for (const [i, job] of jobs.entries()) {
      if (job && ACTIVE_STATUSES.includes(job.status)) await this.jobs.cancel(batch.items[i]!.jobId);
    }
    return this.status(id);
  }

  /** The finished items as JSONL lines, in manifest order: {index, id, video, status, result | error}. */
  async *resultLines(id: string): AsyncGenerator<string> {
    const { batch, jobs } = await this.status(id);
    for (const [i, job] of jobs.entries()) {
      if (!job || ACTIVE_STATUSES.includes(job.status)) continue;
      const item = batch.items[i]!;
      const line =
        job.status === 'succeeded'
          ? { index: item.index, id: item.id, video: item.video, status: job.status, result: job.result }
          : { index: item.index, id: item.id, video: item.video, status: job.status, error: job.error };
      yield `${JSON.stringify(line)}\n`;
    }
  }

  /** The job of the item with video id `video` (the features route). */
  async itemJob(id: string, video: string): Promise<JobRecord> {
    const batch = this.get(id);
    const item = batch.items.find((i) => i.id === video);
    if (!item)
      throw new NotFoundError('batch_item_not_found', `batch '${id}' has no video with id '${video}'`, {
        parameter: 'video',
        value: video,
      });
    const job = await this.findJob(item.jobId);
    if (!job)
      throw new ServiceError(409, 'batch_item_not_ready', `video '${video}' of batch '${id}' is not queued yet`, { parameter: 'video' });
    return job;
  }

  get(id: string): BatchRecord {
    const batch = this.store.get(id);
    if (!batch) throw new NotFoundError('batch_not_found', `batch '${id}' does not exist`, { parameter: 'id', value: id });
    return batch;
  }

  private async findJob(jobId: string): Promise<JobRecord | undefined> {
    try {
      return await this.jobs.get(jobId);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private async submitMissing(batch: BatchRecord, signal?: AbortSignal): Promise<number> {
    const task = batchTask(batch.task);
    let submitted = 0;
    for (const item of batch.items) {
      if (await this.findJob(item.jobId)) continue;
      const request: Record<string, unknown> & BatchItemRequest = {
        ...(batch.model !== undefined ? { model: batch.model } : {}),
        options: batch.options,
        fileName: isUrl(item.source) ? `${item.id}.mp4` : item.source.split(sep).pop(),
        batch: { id: batch.id, task: batch.task, index: item.index, video: item.id },
      };
      if (isUrl(item.source)) {
        const dir = mkdtempSync(join(this.policy.tempDir, 'videomae-batch-'));
        try {
          const file = join(dir, 'fetched');
          await fetchVideoUrl(item.source, this.policy.urlFetch!, file, signal);
          await this.jobs.submit(request, file, task.jobKind, { id: item.jobId, unbounded: true });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      } else {
        await this.jobs.submit(request, item.source, task.jobKind, { id: item.jobId, unbounded: true, copyInput: true });
      }
      submitted++;
    }
    return submitted;
  }

  /** A path under the allowed root (symbolic links resolved) that is a file, or an http(s) URL the server may fetch. */
  private checkVideo(raw: unknown, index: number): { video: string; source: string } {
    const parameter = `videos[${index}]`;
    if (typeof raw !== 'string' || raw.trim() === '') throw new InvalidParameterError(parameter, raw, 'must be a video path or URL');
    const video = raw.trim();
    if (isUrl(video)) {
      if (!this.policy.urlFetch?.allowHosts.length)
        throw new InvalidParameterError(
          parameter,
          video,
          'is a URL; this server does not fetch videos by URL (serve --url-allow-host)',
          'url_disabled',
        );
      const host = new URL(video).hostname;
      const allowed = this.policy.urlFetch.allowHosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
      if (!allowed)
        throw new InvalidParameterError(
          parameter,
          video,
          `names host '${host}', which this server does not fetch from`,
          'url_host_not_allowed',
        );
      return { video, source: video };
    }
    if (!this.policy.root)
      throw new InvalidParameterError(
        parameter,
        video,
        'is a path; this server takes no batch paths (serve --batch-root DIR)',
        'batch_paths_disabled',
      );
    const root = realpathSync(this.policy.root);
    const outside = (path: string): boolean => {
      const inside = relative(root, path);
      return inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
    };
    // Outside the root is refused before anything is looked up there (nothing said of what exists).
    const full = resolve(root, video);
    if (outside(full))
      throw new InvalidParameterError(parameter, video, 'lies outside the batch root (serve --batch-root)', 'path_not_allowed');
    if (!existsSync(full)) throw new InvalidParameterError(parameter, video, 'does not exist under the batch root', 'file_not_found');
    const real = realpathSync(full);
    if (outside(real))
      throw new InvalidParameterError(parameter, video, 'is a link to outside the batch root (serve --batch-root)', 'path_not_allowed');
    if (!statSync(real).isFile()) throw new InvalidParameterError(parameter, video, 'is not a file');
    return { video, source: real };
  }
}
