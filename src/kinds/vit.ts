/**
 * The VideoMAE V2 ViT: a classifier (with a head) or a features-only encoder that detectors read.
 * Trained by the pretrain, finetune and distill stages; served by POST /classify.
 */
import { OFFICIAL_ARCHS, type ArchitectureOptions } from '../config/architectures.js';
import { ManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import { exportVitFolder } from '../onnx/export-model.js';
import { loadModel, type LoadedModel } from '../runtime/model-registry.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

/** The `import-checkpoint` flags a ViT import reads. */
interface VitImportFlags {
  arch?: string; numClasses?: number; labels?: string; headMap?: '710to400' | '710to600' | '710to700'; stateDictKey?: string;
  fp16?: boolean; pretrain?: boolean; decoderNumHeads?: number; name?: string; protocol?: 'k400' | 'ssv2' | 'fast'; force?: boolean;
  export?: boolean; externalDataThreshold?: number;
  depth?: number; embedDim?: number; numHeads?: number; mlpRatio?: number; patchSize?: number; numFrames?: number; imgSize?: number; tubeletSize?: number;
}

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
  async importCheckpoint({ file, out, flags }) {
    const f = flags as VitImportFlags;
    if (!f.arch) throw new ServiceError(400, 'missing_parameter', `--arch is required for a .pth checkpoint (one of ${OFFICIAL_ARCHS.join(', ')}); a transformers folder takes --format hf`, { parameter: '--arch' });
    const { importCheckpoint } = await import('../weights/import-checkpoint.js');
    const architecture: ArchitectureOptions = {};
    for (const key of ['depth', 'embedDim', 'numHeads', 'mlpRatio', 'patchSize', 'numFrames', 'tubeletSize'] as const) {
      if (f[key]) architecture[key] = f[key];
    }
    if (f.imgSize) architecture.imageSize = f.imgSize;
    let exported = '';
    const result = await importCheckpoint({
      checkpoint: file, out, arch: f.arch, architecture,
      ...(f.numClasses ? { numClasses: f.numClasses } : {}),
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.headMap ? { headMap: f.headMap } : {}),
      ...(f.stateDictKey ? { stateDictKey: f.stateDictKey } : {}),
      ...(f.fp16 ? { fp16: true } : {}),
      ...(f.pretrain ? { pretrain: true } : {}),
      ...(f.decoderNumHeads ? { decoderNumHeads: f.decoderNumHeads } : {}),
      ...(f.name ? { name: f.name } : {}),
      ...(f.protocol ? { protocol: f.protocol } : {}),
      ...(f.force ? { force: true } : {}),
      ...(f.export !== false ? {
        finish: async (dir: string) => {
          const r = await exportVitFolder(dir, f.externalDataThreshold ? { externalDataThreshold: f.externalDataThreshold } : {});
          exported = `, model.onnx${r.externalDataPath ? ' + model.onnx.data' : ''} (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
        },
      } : {}),
    });
    const a = result.manifest.architecture;
    const lines = [`imported ${file} -> ${result.dir}: ${result.kind} ${a.arch} (depth ${a.depth}, width ${a.embedDim}, ${a.numClasses} classes), `
      + `${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`];
    if (result.container) lines.push(`  the state dict under '${result.container}' (--state-dict-key picks another)`);
    if (result.droppedKeys.length) lines.push(`  left out ${result.droppedKeys.length} pretraining-only keys (decoder, encoder_to_decoder, mask_token, norm); --pretrain keeps them`);
    if (result.initializedKeys.length) lines.push(`  initialized as fine-tuning starts: ${result.initializedKeys.join(', ')}`);
    return { dir: result.dir, lines };
  },
  training: {
    stages: ['pretrain', 'finetune', 'distill'],
    async train(recipe, options) {
      const { trainBackboneRecipe } = await import('../train/trainer.js');
      return trainBackboneRecipe(recipe, options);
    },
  },
};
