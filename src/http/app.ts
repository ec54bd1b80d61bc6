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
import { errorBody, toServiceError } from './error-mapping.js';
import { classifyHandler } from './routes/classify.js';
import { cancelJobHandler, detectSpatiotemporalHandler, detectTemporalHandler, getJobHandler } from './routes/jobs.js';
import { healthHandler, modelsHandler, readyHandler } from './routes/status.js';
import type { ServiceState } from './service-state.js';
import { uploadMiddleware } from './upload.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi/openapi.yaml', import.meta.url));

export function loadOpenApiDocument(): Record<string, unknown> {
  return parse(readFileSync(OPENAPI_PATH, 'utf8')) as Record<string, unknown>;
}

export function createApp(state: ServiceState): express.Express {
  const document = loadOpenApiDocument();
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.get('/openapi.json', (_req, res) => { res.json(document); });
  app.post('/classify', uploadMiddleware(state.config.tempDir, { maxBytes: state.config.limits.maxBytes }));
  app.post('/detect-temporal', uploadMiddleware(state.config.tempDir, { maxBytes: state.config.limits.maxBytes }));
  app.post('/detect-spatiotemporal', uploadMiddleware(state.config.tempDir, { maxBytes: state.config.limits.maxBytes }));
  app.use(OpenApiValidator.middleware({
    apiSpec: structuredClone(document) as never,
    validateRequests: { coerceTypes: true, allowUnknownQueryParameters: false },
    validateResponses: false,
    fileUploader: false,
    ignoreUndocumented: false,
  }));

  app.get('/healthz', healthHandler(state));
  app.get('/readyz', readyHandler(state));
  app.get('/models', modelsHandler(state));
  app.post('/classify', classifyHandler(state));
  app.post('/detect-temporal', detectTemporalHandler(state));
  app.post('/detect-spatiotemporal', detectSpatiotemporalHandler(state));
  app.get('/jobs/:id', getJobHandler(state));
  app.delete('/jobs/:id', cancelJobHandler(state));

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // Form fields win over query parameters, as in the handlers.
    const lookup = (name: string): unknown => (req.body as Record<string, unknown> | undefined)?.[name] ?? (req.query as Record<string, unknown>)[name];
    const serviceError = toServiceError(error, state.config.limits.maxBytes, lookup);
    if (serviceError.status >= 500 && serviceError.code === 'internal_error') console.error(error);
    if (res.headersSent) return;
    res.status(serviceError.status).json(errorBody(serviceError));
  });
  return app;
}
