/**
 * GET /healthz, /readyz, /models: liveness, readiness and what is served, from ServiceState.
 */
import type { Request, Response } from 'express';
import { BACKBONE_INPUT } from '../../onnx/vit-graph.js';
import { publicFailure, type LoadedModel, type LoadedSpatiotemporalModel, type LoadedTemporalModel } from '../../runtime/model-registry.js';
import { isAuthenticated } from '../auth.js';
import type { components } from '../generated/openapi.js';
import type { ServiceState } from '../service-state.js';

type Health = components['schemas']['Health'];
type ModelInfo = components['schemas']['ModelInfo'];

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
      models: [...registry.list(), ...registry.listTemporal(), ...registry.listSpatiotemporal()].map((m) => m.name),
      ...(failed.length ? (detailed ? { failed } : { failedCount: failed.length }) : {}),
    });
  };
}

/** An action head -> wire ModelInfo. */
export function toSpatiotemporalModelInfo(model: LoadedSpatiotemporalModel, isDefault: boolean): ModelInfo {
  const m = model.folder.manifest;
  const p = m.provenance;
  return {
    name: model.name,
    task: 'spatiotemporal-detection',
    default: isDefault,
    ...(m.description ? { description: m.description } : {}),
    architecture: { arch: 'ava_head', embedDim: m.head.embedDim, depth: 1, numHeads: 0, numClasses: m.head.numClasses },
    labels: { count: model.classes.length, set: m.labels.set },
    input: { name: 'tokens', shape: ['batch', 'tokens', m.head.embedDim] },
    backbone: m.backbone,
    provenance: {
      source: p.source, trained: p.trained, metrics: p.metrics,
      ...(p.seed !== undefined ? { seed: p.seed } : {}),
      ...(p.recipe && typeof p.recipe === 'object' ? { recipe: p.recipe as Record<string, unknown> } : {}),
      ...(p.note ? { note: p.note } : {}),
    },
  };
}

/** A temporal detector -> wire ModelInfo. */
export function toTemporalModelInfo(model: LoadedTemporalModel, isDefault: boolean): ModelInfo {
  const { manifest } = model.folder;
  const c = manifest.actionformer;
  const p = manifest.provenance;
  return {
    name: model.name,
    task: 'temporal-detection',
    default: isDefault,
    ...(manifest.description ? { description: manifest.description } : {}),
    architecture: { arch: 'actionformer', embedDim: c.embedDim, depth: c.stemLayers + c.levels - 1, numHeads: c.numHeads, numClasses: c.numClasses, levels: c.levels, window: c.window },
    labels: { count: model.labels.length, set: manifest.labels.set },
    input: { name: 'feats', shape: ['batch', c.inputDim, 'time'] },
    features: manifest.features,
    provenance: {
      source: p.source,
      trained: p.trained,
      metrics: p.metrics,
      ...(p.seed !== undefined ? { seed: p.seed } : {}),
      ...(p.recipe && typeof p.recipe === 'object' ? { recipe: p.recipe as Record<string, unknown> } : {}),
      ...(p.note ? { note: p.note } : {}),
    },
  };
}

/** Domain model -> wire ModelInfo. */
export function toModelInfo(model: LoadedModel, isDefault: boolean): ModelInfo {
  const { manifest, architecture: a } = model.folder;
  const { provenance } = manifest;
  return {
    name: model.name,
    task: manifest.task,
    default: isDefault,
    ...(manifest.description ? { description: manifest.description } : {}),
    architecture: {
      arch: a.arch, embedDim: a.embedDim, depth: a.depth, numHeads: a.numHeads,
      patchSize: a.patchSize, tubeletSize: a.tubeletSize, numClasses: a.numClasses,
    },
    labels: { count: model.labels.length, ...(manifest.labels ? { set: manifest.labels.set } : {}) },
    input: { name: BACKBONE_INPUT, shape: ['batch', 3, a.numFrames, a.imageHeight, a.imageWidth] },
    defaultProtocol: manifest.sampling.protocol,
    provenance: {
      source: provenance.source,
      trained: provenance.trained,
      metrics: provenance.metrics,
      ...(provenance.seed !== undefined ? { seed: provenance.seed } : {}),
      ...(provenance.checkpoint ? { checkpoint: provenance.checkpoint } : {}),
      ...(provenance.recipe && typeof provenance.recipe === 'object' ? { recipe: provenance.recipe as Record<string, unknown> } : {}),
      ...(provenance.note ? { note: provenance.note } : {}),
    },
  };
}

export function modelsHandler(state: ServiceState) {
  return (_req: Request, res: Response): void => {
    const registry = state.registry;
    const defaultModel = registry.resolve(undefined).name;
    const defaultTemporal = registry.listTemporal()[0]?.name;
    res.json({
      defaultModel,
      models: [
        ...registry.list().map((m) => toModelInfo(m, m.name === defaultModel)),
        ...registry.listTemporal().map((m) => toTemporalModelInfo(m, m.name === defaultTemporal)),
        ...registry.listSpatiotemporal().map((m, i) => toSpatiotemporalModelInfo(m, i === 0)),
      ],
    });
  };
}
