/**
 * The VideoMAE V2 ViT: a classifier (with a head) or a features-only encoder that detectors read.
 * Trained by the pretrain, finetune and distill stages; served by POST /classify.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { makeArchitecture, OFFICIAL_ARCHS } from '../config/architectures.js';
import { bundledLabelPath, readLabels } from '../config/labels.js';
import { ManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import { exportVitFolder } from '../onnx/export-model.js';
import { loadModel, type LoadedModel } from '../runtime/model-registry.js';
import type { ProtocolName } from '../video/sampling.js';
import { createModelFolder } from '../weights/create-model.js';
import { randomWeights } from '../weights/random-init.js';
import { architectureFromFlags, type ArchitectureFlags } from './architecture-flags.js';
import { exportOptionsFrom, graphFormNote, type ExportFlags } from './export-flags.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

/** The `import-checkpoint` flags a ViT import reads. */
interface VitImportFlags extends ArchitectureFlags, ExportFlags {
  arch?: string;
  numClasses?: number;
  labels?: string;
  headMap?: '710to400' | '710to600' | '710to700';
  stateDictKey?: string;
  fp16?: boolean;
  pretrain?: boolean;
  decoderNumHeads?: number;
  name?: string;
  protocol?: 'k400' | 'ssv2' | 'fast';
  force?: boolean;
  export?: boolean;
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
      architecture: {
        arch: a.arch,
        embedDim: a.embedDim,
        depth: a.depth,
        numHeads: a.numHeads,
        patchSize: a.patchSize,
        tubeletSize: a.tubeletSize,
        numClasses: a.numClasses,
      },
      labels: { count: model.labels.length, ...(manifest.labels ? { set: manifest.labels.set } : {}) },
      input: { name: BACKBONE_INPUT, shape: ['batch', 3, a.numFrames, a.imageHeight, a.imageWidth] },
      defaultProtocol: manifest.sampling.protocol,
      graph: { precision: model.graph.precision, attention: model.graph.attention },
      provenance: describeProvenance(manifest.provenance),
    };
  },
  async create({ out, flags }) {
    const f = flags as {
      arch: string;
      name?: string;
      labels: string;
      numClasses?: number;
      numFrames: number;
      imageSize: number;
      seed: number;
      protocol: ProtocolName;
      export?: boolean;
    };
    const labelsFile = bundledLabelPath(f.labels) ?? f.labels;
    const numClasses = f.numClasses ?? (existsSync(labelsFile) ? readLabels(labelsFile).length : 0);
    const architecture = makeArchitecture(f.arch, { numClasses, numFrames: f.numFrames, imageSize: f.imageSize });
    const dir = resolve(out);
    await createModelFolder({
      dir,
      name: f.name ?? dir.split('/').filter(Boolean).pop()!,
      architecture,
      tensors: randomWeights(architecture, f.seed),
      labels: f.labels,
      protocol: f.protocol,
      description: `Untrained ${f.arch} with seeded random weights (seed ${f.seed}).`,
      provenance: { source: 'random-init', trained: false, seed: f.seed, metrics: {}, note: 'random weights: scores carry no meaning' },
    });
    const lines = [`wrote ${dir}`];
    if (f.export !== false) lines.push(`exported ${(await exportVitFolder(dir)).modelPath}`);
    return { dir, lines };
  },
  async importCheckpoint({ file, out, flags }) {
    const f = flags as VitImportFlags;
    if (!f.arch)
      throw new ServiceError(
        400,
        'missing_parameter',
        `--arch is required for a .pth checkpoint (one of ${OFFICIAL_ARCHS.join(', ')}); a transformers folder takes --format hf`,
        { parameter: '--arch' },
      );
    const { importCheckpoint } = await import('../weights/import-checkpoint.js');
    const architecture = architectureFromFlags(f);
    let exported = '';
    const result = await importCheckpoint({
      checkpoint: file,
      out,
      arch: f.arch,
      architecture,
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
      ...(f.export !== false
        ? {
            finish: async (dir: string) => {
              const exportOptions = exportOptionsFrom(f);
              const r = await exportVitFolder(dir, exportOptions);
              exported = `, model.onnx${r.externalDataPath ? ' + model.onnx.data' : ''}${graphFormNote(exportOptions)} (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
            },
          }
        : {}),
    });
    const a = result.manifest.architecture;
    const lines = [
      `imported ${file} -> ${result.dir}: ${result.kind} ${a.arch} (depth ${a.depth}, width ${a.embedDim}, ${a.numClasses} classes), ` +
        `${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`,
    ];
    if (result.container) lines.push(`  the state dict under '${result.container}' (--state-dict-key picks another)`);
    if (result.droppedKeys.length)
      lines.push(
        `  left out ${result.droppedKeys.length} pretraining-only keys (decoder, encoder_to_decoder, mask_token, norm); --pretrain keeps them`,
      );
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
