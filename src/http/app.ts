/**
 * The express application: routes validated against openapi/openapi.yaml, one error body for
 * every failure. Creating it does no I/O beyond reading the spec; models load separately
 * (ServiceState), so /healthz answers from the first moment.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { parse } from 'yaml';
import { DeadlineError, UnavailableError } from '../errors.js';
import { requireApiKey } from './auth.js';
import { errorBody, toServiceError } from './error-mapping.js';
import { admit, answerAtDeadline, countOpen, refuseWhileDraining } from './guards.js';
import { contextOf, requestContext } from './request-context.js';
import { logOf, requestLogging } from './logging.js';
import { classifyHandler } from './routes/classify.js';
import { jobEventsHandler } from './routes/job-events.js';
import { batchFeaturesHandler, batchResultsHandler, cancelBatchHandler, createBatchHandler, getBatchHandler } from './routes/batches.js';
import { assetHandler, pageHandler } from './routes/page.js';
import { cancelJobHandler, detectSpatiotemporalHandler, detectTemporalHandler, getJobHandler, jobRenderHandler } from './routes/jobs.js';
import { healthHandler, metricsHandler, modelsHandler, readyHandler } from './routes/status.js';
import type { ServiceState } from './service-state.js';
import { refuseDeclaredOversize, uploadMiddleware } from './upload.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi/openapi.yaml', import.meta.url));

export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

export function loadOpenApiDocument(): Record<string, unknown> {
  return parse(readFileSync(OPENAPI_PATH, 'utf8')) as Record<string, unknown>;
}

export function createApp(state: ServiceState): express.Express {
  const document = loadOpenApiDocument();
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  const deadlineMs = state.config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  app.use(requestContext(deadlineMs));
  app.use(requestLogging(state.logger, state.metrics));
  app.use(answerAtDeadline(deadlineMs));
  app.use(requireApiKey(state.config.apiKeys ?? []));
  app.use(countOpen(state));
  app.use(refuseWhileDraining(state));
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  const uploads = {
    maxBytes: state.config.limits.maxBytes,
    ...(state.config.uploadIdleTimeoutMs !== undefined ? { idleTimeoutMs: state.config.uploadIdleTimeoutMs } : {}),
  };
  const upload = uploadMiddleware(state.config.tempDir, uploads);
  app.post('/classify', refuseDeclaredOversize(uploads), admit(state), upload);
  app.post('/detect-temporal', refuseDeclaredOversize(uploads), uploadMiddleware(state.config.tempDir, uploads, ['video', 'features']));
  app.post('/detect-spatiotemporal', refuseDeclaredOversize(uploads), upload);
  app.post('/batches', express.json({ limit: '8mb' }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(document) as never,
      validateRequests: { coerceTypes: true, allowUnknownQueryParameters: false },
      validateResponses: false,
      fileUploader: false,
      ignoreUndocumented: false,
    }),
  );

  app.get('/', pageHandler(state.config.webDir));
  app.get('/web/:file', assetHandler(state.config.webDir));
  app.get('/healthz', healthHandler(state));
  app.get('/readyz', readyHandler(state));
  app.get('/models', modelsHandler(state));
  app.get('/metrics', metricsHandler(state));
  app.post('/classify', classifyHandler(state));
  app.post('/detect-temporal', detectTemporalHandler(state));
  app.post('/detect-spatiotemporal', detectSpatiotemporalHandler(state));
  app.get('/jobs/:id', getJobHandler(state));
  app.get('/jobs/:id/events', jobEventsHandler(state));
  app.get('/jobs/:id/render.mp4', jobRenderHandler(state));
  app.delete('/jobs/:id', cancelJobHandler(state));
  app.post('/batches', createBatchHandler(state));
  app.get('/batches/:id', getBatchHandler(state));
  app.delete('/batches/:id', cancelBatchHandler(state));
  app.get('/batches/:id/results.jsonl', batchResultsHandler(state));
  app.get('/batches/:id/features/:video.npy', batchFeaturesHandler(state));

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // Form fields win over query parameters, as in the handlers.
    const lookup = (name: string): unknown =>
      (req.body as Record<string, unknown> | undefined)?.[name] ?? (req.query as Record<string, unknown>)[name];
    const context = contextOf(res);
    // Work stopped by the deadline surfaces as whatever it was doing; the answer is the 504.
    const serviceError = context.deadlineExceeded()
      ? new DeadlineError(deadlineMs)
      : toServiceError(error, state.config.limits.maxBytes, lookup);
    if (serviceError.status >= 500 && serviceError.code === 'internal_error') logOf(res).error({ err: error }, 'internal error');
    if (serviceError.status === 413 || serviceError.status === 415) state.metrics.refusals.inc({ code: serviceError.code });
    if (res.headersSent || serviceError.status === 499) return;
    if (serviceError instanceof UnavailableError && serviceError.retryAfterSec !== undefined)
      res.setHeader('Retry-After', String(serviceError.retryAfterSec));
    res.status(serviceError.status).json(errorBody(serviceError));
  });
  return app;
}
