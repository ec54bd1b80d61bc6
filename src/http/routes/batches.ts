/**
 * POST /batches, GET/DELETE /batches/{id}, GET /batches/{id}/results.jsonl and
 * /batches/{id}/features/{video}.npy: wire requests to the BatchService, its status to the wire.
 */
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import type { BatchService, BatchStatus } from '../batches/batch-service.js';
import { NotFoundError, ServiceError, UnavailableError } from '../../errors.js';
import { FEATURES_FILE } from '../jobs/temporal-job.js';
import type { components } from '../generated/openapi.js';
import { contextOf } from '../request-context.js';
import type { ServiceState } from '../service-state.js';

type WireBatch = components['schemas']['Batch'];

function batchesOf(state: ServiceState): BatchService {
  if (!state.batches) throw new UnavailableError('batches_unavailable', 'this server runs no job queue, so no batches');
  return state.batches;
}

export function toWireBatch(status: BatchStatus): WireBatch {
  const { batch } = status;
  return {
    id: batch.id,
    task: batch.task,
    ...(batch.model !== undefined ? { model: batch.model } : {}),
    status: status.status,
    total: batch.items.length,
    counts: status.counts,
    progress: { fraction: Math.min(1, Math.max(0, status.fraction)) },
    createdAt: new Date(batch.createdAt).toISOString(),
    results: `/batches/${batch.id}/results.jsonl`,
    ...(batch.task === 'extract-features' ? { features: `/batches/${batch.id}/features/{video}.npy` } : {}),
    items: batch.items.map((item) => ({ index: item.index, id: item.id, video: item.video, job: item.jobId })),
  };
}

export function createBatchHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const status = await batchesOf(state).create(req.body as Parameters<BatchService['create']>[0], contextOf(res).signal);
    res.setHeader('Location', `/batches/${status.batch.id}`);
    res.status(202).json(toWireBatch(status));
  };
}

export function getBatchHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    res.json(toWireBatch(await batchesOf(state).status(String(req.params.id))));
  };
}

export function cancelBatchHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    res.json(toWireBatch(await batchesOf(state).cancel(String(req.params.id))));
  };
}

export function batchResultsHandler(state: ServiceState) {
  return async (req: Request, res: Response): Promise<void> => {
    const lines = batchesOf(state).resultLines(String(req.params.id));
    // the first line read checks the batch exists before the 200 goes out
    const first = await lines.next();
    res.status(200).type('application/x-ndjson');
    if (!first.done) res.write(first.value);
    for await (const line of lines) res.write(line);
    res.end();
  };
}

export function batchFeaturesHandler(state: ServiceState) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const batches = batchesOf(state);
    const id = String(req.params.id);
    const video = String(req.params.video);
    if (batches.get(id).task !== 'extract-features')
      throw new NotFoundError('features_not_requested', `batch '${id}' is not an extract-features batch: it has no features`, {
        parameter: 'id',
      });
    const job = await batches.itemJob(id, video);
    if (job.status !== 'succeeded')
      throw new ServiceError(
        409,
        'batch_item_not_ready',
        `video '${video}' of batch '${id}' is ${job.status}: its features are there once it has succeeded`,
        {
          parameter: 'video',
          value: video,
        },
      );
    const file = join(state.jobs!.filesDirOf(job), FEATURES_FILE);
    res.sendFile(file, { headers: { 'Content-Type': 'application/octet-stream' }, dotfiles: 'allow' }, (error) => {
      if (!error || res.headersSent) return;
      next(
        new NotFoundError('features_not_found', `the features of video '${video}' are gone (the item's job expired)`, {
          parameter: 'video',
        }),
      );
    });
  };
}
