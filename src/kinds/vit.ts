/**
 * The VideoMAE V2 ViT: a classifier (with a head) or a features-only encoder that detectors read.
 * Trained by the pretrain, finetune and distill stages; served by POST /classify.
 */
import { ManifestSchema } from '../config/manifest.js';
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import { exportVitFolder } from '../onnx/export-model.js';
import { loadModel, type LoadedModel } from '../runtime/model-registry.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

export const vitKind: ModelKind<LoadedModel> = {
  name: 'vit',
  task: 'classification',
  title: 'classification',
  schema: ManifestSchema,
  exportFolder: exportVitFolder,
  load: loadModel,
  describe(model, isDefault) {
    const { manifest, architecture: a } = model.folder;
    return {
      name: model.name,
      task: manifest.task,
      default: isDefault,
      ...(manifest.description ? { description: manifest.description } : {}),
      architecture: { arch: a.arch, embedDim: a.embedDim, depth: a.depth, numHeads: a.numHeads, patchSize: a.patchSize, tubeletSize: a.tubeletSize, numClasses: a.numClasses },
      labels: { count: model.labels.length, ...(manifest.labels ? { set: manifest.labels.set } : {}) },
      input: { name: BACKBONE_INPUT, shape: ['batch', 3, a.numFrames, a.imageHeight, a.imageWidth] },
      defaultProtocol: manifest.sampling.protocol,
      provenance: describeProvenance(manifest.provenance),
    };
  },
  training: {
    stages: ['pretrain', 'finetune', 'distill'],
    async train(recipe, options) {
      const { trainBackboneRecipe } = await import('../train/trainer.js');
      return trainBackboneRecipe(recipe, options);
    },
  },
};
