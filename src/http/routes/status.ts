/**
 * GET /healthz, /readyz, /models: liveness, readiness and what is served, from ServiceState.
 */
import type { Request, Response } from 'express';
import { MODEL_KINDS } from '../../kinds/index.js';
import { publicFailure } from '../../runtime/model-registry.js';
import { isAuthenticated } from '../auth.js';
import type { components } from '../generated/openapi.js';
import type { ServiceState } from '../service-state.js';

type Health = components['schemas']['Health'];

export function healthHandler(state: ServiceState) {
  return (_req: Request, res: Response): void => {
    const models = state.registryIfLoaded?.list() ?? [];
    const body: Health = {
      status: 'ok',
      uptimeSec: Math.round((Date.now() - state.startedAt) / 100) / 10,
      ready: state.ready,
      device: {
        requested: state.config.device,
        providers: [...new Set(models.map((m) => m.runner.provider))],
      },
      inflight: models.reduce((sum, m) => sum + m.runner.pending, 0),
    };
    res.json(body);
  };
}

/** Prometheus text format. */
export function metricsHandler(state: ServiceState) {
  return async (_req: Request, res: Response): Promise<void> => {
    res.type(state.metrics.registry.contentType).send(await state.metrics.registry.metrics());
  };
}

/**
 * Ready while the default model of every task serves; folders that failed beside them are named
 * (by model name and reason, no paths), to a caller with a key when the server has keys.
 */
export function readyHandler(state: ServiceState) {
  return (_req: Request, res: Response): void => {
    const detailed = isAuthenticated(res);
    const reason = state.notReadyReason(detailed);
    if (reason) throw reason;
    const registry = state.registry;
    const failed = registry.failures.map(publicFailure);
    res.json({
      ready: true,
      models: registry.all().map((m) => m.name),
      ...(failed.length ? (detailed ? { failed } : { failedCount: failed.length }) : {}),
    });
  };
}

export function modelsHandler(state: ServiceState) {
  return (_req: Request, res: Response): void => {
    const registry = state.registry;
    // a server of features-only detectors (imported ActionFormers) has no classifier to name
    const defaultModel = registry.list().length ? registry.resolve(undefined).name : (registry.all()[0]?.name ?? '');
    res.json({
      defaultModel,
      videoUrls: (state.config.urlFetch?.allowHosts.length ?? 0) > 0,
      models: MODEL_KINDS.flatMap((kind) => {
        const defaultName = registry.defaultFor(kind.task);
        return registry.ofTask(kind.task).map((m) => kind.describe(m, m.name === defaultName));
      }),
    });
  };
}
