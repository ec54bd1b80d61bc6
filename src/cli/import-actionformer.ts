/**
 * `videomae import-checkpoint CKPT --kind actionformer --config CONFIG.yaml --out DIR [--labels FILE]`:
 * an official ActionFormer checkpoint and its official config -> a features-only temporal model
 * folder, exported to ONNX as the finishing step; one summary line.
 */
import { exportModelFolder } from '../onnx/export-model.js';
import { ServiceError } from '../errors.js';
import { importActionFormerCheckpoint } from '../weights/import-actionformer.js';

export interface ActionFormerImportFlags {
  out: string;
  config?: string;
  labels?: string;
  stateDictKey?: string;
  name?: string;
  force?: boolean;
  /** false with --no-export */
  export?: boolean;
  externalDataThreshold?: number;
}

export async function runActionFormerImport(checkpoint: string, flags: ActionFormerImportFlags): Promise<void> {
  if (!flags.config) {
    throw new ServiceError(400, 'missing_parameter', '--config is required with --kind actionformer: the official config YAML the checkpoint was trained with (e.g. configs/thumos_i3d.yaml)', { parameter: '--config' });
  }
  let exported = '';
  const result = await importActionFormerCheckpoint({
    checkpoint, config: flags.config, out: flags.out,
    ...(flags.labels ? { labels: flags.labels } : {}),
    ...(flags.stateDictKey ? { stateDictKey: flags.stateDictKey } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.force ? { force: true } : {}),
    ...(flags.export !== false ? {
      finish: async (dir: string) => {
        const r = await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {});
        exported = `, model.onnx (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
      },
    } : {}),
  });
  const c = result.manifest.actionformer;
  console.log(`imported ${checkpoint} -> ${result.dir}: ActionFormer (${result.settings.datasetName}, ${c.inputDim}-d features, width ${c.embdDim}, `
    + `${c.backboneArch[2] + 1} levels, ${c.numClasses} classes, labels ${result.manifest.labels.set}) from '${result.container ?? 'the top level'}', `
    + `${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s; features-only (detect-features, or POST /detect-temporal with features)`);
}
