/**
 * ActionFormer: a temporal action detector on a backbone's clip features. Trained by the
 * actionformer stage; served by POST /detect-temporal (a job).
 */
import { TemporalManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { exportTemporalFolder } from '../onnx/export-model.js';
import { loadTemporalModel, type LoadedTemporalModel } from '../runtime/model-registry.js';
import { detectTemporal, type TemporalDetectOptions } from '../tasks/temporal/detect.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

export const actionFormerKind: ModelKind<LoadedTemporalModel> = {
  name: 'actionformer',
  task: 'temporal-detection',
  title: 'temporal detection',
  schema: TemporalManifestSchema,
  exportFolder: exportTemporalFolder,
  load: loadTemporalModel,
  checkDependencies(detector, registry) {
    const c = detector.folder.manifest.actionformer;
    const f = detector.folder.manifest.features;
    const a = registry.backbone(f.backbone)?.folder.architecture;
    if (!a) return new ServiceError(500, 'backbone_missing', `temporal model '${detector.name}' needs backbone '${f.backbone}', which is not loaded`);
    if (a.embedDim !== c.inputDim || a.numFrames !== f.numFrames || a.imageHeight !== f.size) {
      return new ServiceError(500, 'backbone_mismatch', `temporal model '${detector.name}' was trained on ${c.inputDim}-d features of ${f.numFrames}x${f.size}x${f.size} clips; backbone '${f.backbone}' makes ${a.embedDim}-d features of ${a.numFrames}x${a.imageHeight}x${a.imageWidth}`);
    }
    return undefined;
  },
  describe(model, isDefault) {
    const { manifest } = model.folder;
    const c = manifest.actionformer;
    return {
      name: model.name,
      task: 'temporal-detection',
      default: isDefault,
      ...(manifest.description ? { description: manifest.description } : {}),
      architecture: { arch: 'actionformer', embedDim: c.embdDim, depth: c.backboneArch[1] + c.backboneArch[2], numHeads: c.numHeads, numClasses: c.numClasses, levels: c.backboneArch[2] + 1, window: c.mhaWinSize[0]! },
      labels: { count: model.labels.length, set: manifest.labels.set },
      input: { name: 'feats', shape: ['batch', c.inputDim, 'time'] },
      features: manifest.features,
      provenance: describeProvenance(manifest.provenance),
    };
  },
  runJob(context, input, signal, onProgress) {
    const model = typeof input.request.model === 'string' ? input.request.model : undefined;
    return detectTemporal(input, context.registry.resolveTemporal(model), (input.request.options ?? {}) as TemporalDetectOptions,
      { limits: context.config.limits, maxBatch: context.config.maxBatch, signal, onProgress });
  },
  training: {
    stages: ['actionformer'],
    async train(recipe, options) {
      const { trainActionFormerRecipe } = await import('../train/actionformer-trainer.js');
      return trainActionFormerRecipe(recipe, options);
    },
  },
};
