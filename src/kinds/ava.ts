/**
 * The AVA action head: actions per person box from a backbone's token map. Trained by the ava
 * stage; served by POST /detect-spatiotemporal (a job).
 */
import { modelTask, SpatiotemporalManifestSchema } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import { exportSpatiotemporalFolder, exportVitFolder } from '../onnx/export-model.js';
import { loadSpatiotemporalModel, type LoadedSpatiotemporalModel } from '../runtime/model-registry.js';
import { detectSpatiotemporal, type SpatiotemporalOptions, type SpatiotemporalResult } from '../tasks/spatiotemporal/detect.js';
import { architectureFromFlags, type ArchitectureFlags } from './architecture-flags.js';
import { describeProvenance } from './describe.js';
import type { ModelKind } from './model-kind.js';

/** The encoders VideoMAE-Action-Detection released AVA models for. */
const AVA_ARCHS = ['vit_small_patch16_224', 'vit_base_patch16_224', 'vit_large_patch16_224', 'vit_huge_patch16_224'];

/** The `import-checkpoint` flags an AVA import reads. */
interface AvaImportFlags extends ArchitectureFlags {
  arch?: string;
  format?: string;
  stateDictKey?: string;
  labels?: string;
  name?: string;
  fp16?: boolean;
  force?: boolean;
  export?: boolean;
  externalDataThreshold?: number;
}

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
    if (!a)
      return new ServiceError(
        500,
        'backbone_missing',
        `spatiotemporal model '${head.name}' needs backbone '${m.backbone}', which is not loaded`,
      );
    const temporalTokens = a.numFrames / a.tubeletSize;
    if (
      a.embedDim !== m.head.embedDim ||
      a.numFrames !== m.clip.numFrames ||
      temporalTokens !== m.head.temporalTokens ||
      a.patchSize !== m.head.patchSize
    ) {
      return new ServiceError(
        500,
        'backbone_mismatch',
        `spatiotemporal model '${head.name}' reads ${m.head.embedDim}-d tokens of ${m.clip.numFrames}-frame clips (${m.head.temporalTokens} temporal tokens, patch ${m.head.patchSize}); backbone '${m.backbone}' makes ${a.embedDim}-d tokens of ${a.numFrames}-frame clips (${temporalTokens} temporal tokens, patch ${a.patchSize})`,
      );
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
  annotate: (result) => ({ task: 'spatiotemporal-detection', result: result as SpatiotemporalResult }),
  runJob(context, input, signal, onProgress) {
    const model = typeof input.request.model === 'string' ? input.request.model : undefined;
    const options = (input.request.options ?? {}) as SpatiotemporalOptions;
    return detectSpatiotemporal(input, context.registry.resolveSpatiotemporal(model), options, {
      limits: context.config.limits,
      signal,
      onProgress,
      // Boxes given with the request need no person detector.
      ...(options.boxes?.length ? {} : { detector: context.personDetector() }),
    });
  },
  async importCheckpoint({ file, out, flags }) {
    const f = flags as AvaImportFlags;
    if (f.format && f.format !== 'pth')
      throw new ServiceError(
        400,
        'invalid_parameter',
        `--kind ava reads an official .pth (VideoMAE-Action-Detection), not --format ${f.format}`,
        { parameter: '--format', value: f.format },
      );
    if (!f.arch)
      throw new ServiceError(400, 'missing_parameter', `--arch is required with --kind ava (${AVA_ARCHS.join(', ')})`, {
        parameter: '--arch',
      });
    const arch = f.arch;
    if (!AVA_ARCHS.includes(arch))
      throw new ServiceError(
        400,
        'invalid_parameter',
        `--arch ${arch} is not one of the AVA models of VideoMAE-Action-Detection (${AVA_ARCHS.join(', ')})`,
        { parameter: '--arch', value: arch },
      );
    const { importAvaCheckpoint } = await import('../weights/import-ava.js');
    const architecture = architectureFromFlags(f);
    const serialize = f.externalDataThreshold ? { externalDataThreshold: f.externalDataThreshold } : {};
    const result = await importAvaCheckpoint({
      checkpoint: file,
      out,
      arch,
      architecture,
      ...(f.stateDictKey ? { stateDictKey: f.stateDictKey } : {}),
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.name ? { name: f.name } : {}),
      ...(f.fp16 ? { fp16: true } : {}),
      ...(f.force ? { force: true } : {}),
      // The import writes the head and its encoder: each folder exports as its own kind.
      ...(f.export !== false
        ? {
            finish: async (dir: string) => {
              await (modelTask(dir) === 'classification' ? exportVitFolder : exportSpatiotemporalFolder)(dir, serialize);
            },
          }
        : {}),
    });
    const lines = [
      `imported ${file} -> ${result.head} (AVA head, ${result.numClasses} classes) + ${result.backbone} (encoder ${arch}), ` +
        `${(result.parameters / 1e6).toFixed(2)} M parameters, ${result.seconds.toFixed(1)} s`,
    ];
    if (result.container) lines.push(`  the state dict under '${result.container}' (--state-dict-key model_ema picks the EMA weights)`);
    return { dir: result.head, lines };
  },
  training: {
    stages: ['ava'],
    async train(recipe, options) {
      const { trainAvaRecipe } = await import('../train/ava-trainer.js');
      return trainAvaRecipe(recipe, options);
    },
  },
};
