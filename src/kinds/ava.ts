/**
 * The AVA action head: actions per person box from a backbone's token map. Trained by the ava
 * stage; served by POST /detect-spatiotemporal (a job).
 */
import { SpatiotemporalManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { exportSpatiotemporalFolder } from '../onnx/export-model.js';
import { loadSpatiotemporalModel, type LoadedSpatiotemporalModel } from '../runtime/model-registry.js';
import { detectSpatiotemporal, type SpatiotemporalOptions } from '../tasks/spatiotemporal/detect.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

export const avaKind: ModelKind<LoadedSpatiotemporalModel> = {
  name: 'ava',
  task: 'spatiotemporal-detection',
  title: 'spatiotemporal detection',
  schema: SpatiotemporalManifestSchema,
  exportFolder: exportSpatiotemporalFolder,
  load: loadSpatiotemporalModel,
  checkDependencies(head, registry) {
    const m = head.folder.manifest;
    const a = registry.backbone(m.backbone)?.folder.architecture;
    if (!a) return new ServiceError(500, 'backbone_missing', `spatiotemporal model '${head.name}' needs backbone '${m.backbone}', which is not loaded`);
    const temporalTokens = a.numFrames / a.tubeletSize;
    if (a.embedDim !== m.head.embedDim || a.numFrames !== m.clip.numFrames || temporalTokens !== m.head.temporalTokens || a.patchSize !== m.head.patchSize) {
      return new ServiceError(500, 'backbone_mismatch', `spatiotemporal model '${head.name}' reads ${m.head.embedDim}-d tokens of ${m.clip.numFrames}-frame clips (${m.head.temporalTokens} temporal tokens, patch ${m.head.patchSize}); backbone '${m.backbone}' makes ${a.embedDim}-d tokens of ${a.numFrames}-frame clips (${temporalTokens} temporal tokens, patch ${a.patchSize})`);
    }
    return undefined;
  },
  describe(model, isDefault) {
    const m = model.folder.manifest;
    return {
      name: model.name,
      task: 'spatiotemporal-detection',
      default: isDefault,
      ...(m.description ? { description: m.description } : {}),
      architecture: { arch: 'ava_head', embedDim: m.head.embedDim, depth: 1, numHeads: 0, numClasses: m.head.numClasses },
      labels: { count: model.classes.length, set: m.labels.set },
      input: { name: 'tokens', shape: ['batch', 'tokens', m.head.embedDim] },
      backbone: m.backbone,
      provenance: describeProvenance(m.provenance),
    };
  },
  runJob(context, input, signal, onProgress) {
    const model = typeof input.request.model === 'string' ? input.request.model : undefined;
    const options = (input.request.options ?? {}) as SpatiotemporalOptions;
    return detectSpatiotemporal(input, context.registry.resolveSpatiotemporal(model), options, {
      limits: context.config.limits, signal, onProgress,
      // Boxes given with the request need no person detector.
      ...(options.boxes?.length ? {} : { detector: context.personDetector() }),
    });
  },
  training: {
    stages: ['ava'],
    async train(recipe, options) {
      const { trainAvaRecipe } = await import('../train/ava-trainer.js');
      return trainAvaRecipe(recipe, options);
    },
  },
};
