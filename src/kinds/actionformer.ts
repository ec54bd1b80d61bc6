/**
 * ActionFormer: a temporal action detector on a backbone's clip features. Trained by the
 * actionformer stage, or imported from an official checkpoint (features-only: no backbone here
 * makes its features); served by POST /detect-temporal (a job) on a video or precomputed features.
 */
import { TemporalManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { exportTemporalFolder } from '../onnx/export-model.js';
import { loadTemporalModel, type LoadedTemporalModel } from '../runtime/model-registry.js';
import { detectTemporal, type TemporalDetectOptions, type TemporalResult } from '../tasks/temporal/detect.js';
import { detectFeatures, type FeatureTimingRequest } from '../tasks/temporal/detect-features.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

interface ActionFormerImportFlags {
  config?: string;
  labels?: string;
  stateDictKey?: string;
  name?: string;
  force?: boolean;
  /** false with --no-export */
  export?: boolean;
  externalDataThreshold?: number;
}

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
    if (f.backbone === undefined) return undefined; // features-only (e.g. an imported I3D detector): runs on precomputed features
    const a = registry.backbone(f.backbone)?.folder.architecture;
    if (!a)
      return new ServiceError(
        500,
        'backbone_missing',
        `temporal model '${detector.name}' needs backbone '${f.backbone}', which is not loaded`,
      );
    if (a.embedDim !== c.inputDim || a.numFrames !== f.numFrames || a.imageHeight !== f.size) {
      return new ServiceError(
        500,
        'backbone_mismatch',
        `temporal model '${detector.name}' was trained on ${c.inputDim}-d features of ${f.numFrames}x${f.size}x${f.size} clips; backbone '${f.backbone}' makes ${a.embedDim}-d features of ${a.numFrames}x${a.imageHeight}x${a.imageWidth}`,
      );
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
      architecture: {
        arch: 'actionformer',
        embedDim: c.embdDim,
        depth: c.backboneArch[1] + c.backboneArch[2],
        numHeads: c.numHeads,
        numClasses: c.numClasses,
        levels: c.backboneArch[2] + 1,
        window: c.mhaWinSize[0]!,
      },
      labels: { count: model.labels.length, set: manifest.labels.set },
      input: { name: 'feats', shape: ['batch', c.inputDim, 'time'] },
      features: manifest.features,
      provenance: describeProvenance(manifest.provenance),
    };
  },
  annotate: (result) => ({ task: 'temporal-detection', result: result as TemporalResult }),
  runJob(context, input, signal, onProgress) {
    const model = typeof input.request.model === 'string' ? input.request.model : undefined;
    if (input.request.input === 'features') {
      // POST /detect-temporal with a features .npy (src/http/routes/temporal-features.ts)
      return detectFeatures(
        { file: input.file, displayName: input.displayName },
        context.registry.resolveTemporal(model).detector,
        (input.request.timing ?? {}) as FeatureTimingRequest,
        (input.request.options ?? {}) as TemporalDetectOptions,
        { signal, onProgress },
      );
    }
    return detectTemporal(input, context.registry.resolveTemporal(model), (input.request.options ?? {}) as TemporalDetectOptions, {
      limits: context.config.limits,
      maxBatch: context.config.maxBatch,
      signal,
      onProgress,
    });
  },
  /** An official ActionFormer checkpoint (train.py's save_checkpoint) with its official config YAML. */
  async importCheckpoint({ file, out, flags }) {
    const f = flags as ActionFormerImportFlags;
    if (!f.config) {
      throw new ServiceError(
        400,
        'missing_parameter',
        '--config is required with --kind actionformer: the official config YAML the checkpoint was trained with (e.g. configs/thumos_i3d.yaml)',
        { parameter: '--config' },
      );
    }
    const { importActionFormerCheckpoint } = await import('../weights/import-actionformer.js');
    let exported = '';
    const result = await importActionFormerCheckpoint({
      checkpoint: file,
      config: f.config,
      out,
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.stateDictKey ? { stateDictKey: f.stateDictKey } : {}),
      ...(f.name ? { name: f.name } : {}),
      ...(f.force ? { force: true } : {}),
      ...(f.export !== false
        ? {
            finish: async (dir: string) => {
              const r = await exportTemporalFolder(dir, f.externalDataThreshold ? { externalDataThreshold: f.externalDataThreshold } : {});
              exported = `, model.onnx (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
            },
          }
        : {}),
    });
    const c = result.manifest.actionformer;
    return {
      dir: result.dir,
      lines: [
        `imported ${file} -> ${result.dir}: ActionFormer (${result.settings.datasetName}, ${c.inputDim}-d features, width ${c.embdDim}, ${c.backboneArch[2] + 1} levels, ` +
          `${c.numClasses} classes, labels ${result.manifest.labels.set}), ${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`,
        `  the state dict under '${result.container ?? 'the top level'}' (--state-dict-key picks another); features-only: run it with detect-features, or POST /detect-temporal with features`,
      ],
    };
  },
  training: {
    stages: ['actionformer'],
    async train(recipe, options) {
      const { trainActionFormerRecipe } = await import('../train/actionformer-trainer.js');
      return trainActionFormerRecipe(recipe, options);
    },
  },
};
