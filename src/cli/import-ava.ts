/**
 * `videomae import-checkpoint CKPT --kind ava --arch ARCH --out DIR`: an official
 * VideoMAE-Action-Detection checkpoint -> DIR (the AVA head) and DIR-backbone (its encoder),
 * both exported, so that `videomae serve --models <parent of DIR>` serves /detect-spatiotemporal.
 */
import type { ArchitectureOptions } from '../config/architectures.js';
import { ServiceError } from '../errors.js';

const AVA_ARCHS = ['vit_small_patch16_224', 'vit_base_patch16_224', 'vit_large_patch16_224', 'vit_huge_patch16_224'];

interface AvaImportFlags {
  out: string; arch?: string; format?: string; stateDictKey?: string; labels?: string; name?: string; fp16?: boolean; force?: boolean; export?: boolean;
  externalDataThreshold?: number; depth?: number; embedDim?: number; numHeads?: number; mlpRatio?: number; patchSize?: number;
  numFrames?: number; imgSize?: number; tubeletSize?: number;
}

export async function runAvaImport(checkpoint: string, flags: AvaImportFlags): Promise<void> {
  if (flags.format && flags.format !== 'pth') throw new ServiceError(400, 'invalid_parameter', `--kind ava reads an official .pth (VideoMAE-Action-Detection), not --format ${flags.format}`, { parameter: '--format', value: flags.format });
  if (!flags.arch) throw new ServiceError(400, 'missing_parameter', `--arch is required with --kind ava (${AVA_ARCHS.join(', ')})`, { parameter: '--arch' });
  const arch = flags.arch;
  if (!AVA_ARCHS.includes(arch)) throw new ServiceError(400, 'invalid_parameter', `--arch ${arch} is not one of the AVA models of VideoMAE-Action-Detection (${AVA_ARCHS.join(', ')})`, { parameter: '--arch', value: arch });
  const [{ importAvaCheckpoint }, { exportModelFolder }] = await Promise.all([import('../weights/import-ava.js'), import('../onnx/export-model.js')]);
  const architecture: ArchitectureOptions = {};
  if (flags.depth) architecture.depth = flags.depth;
  if (flags.embedDim) architecture.embedDim = flags.embedDim;
  if (flags.numHeads) architecture.numHeads = flags.numHeads;
  if (flags.mlpRatio) architecture.mlpRatio = flags.mlpRatio;
  if (flags.patchSize) architecture.patchSize = flags.patchSize;
  if (flags.numFrames) architecture.numFrames = flags.numFrames;
  if (flags.imgSize) architecture.imageSize = flags.imgSize;
  if (flags.tubeletSize) architecture.tubeletSize = flags.tubeletSize;
  const result = await importAvaCheckpoint({
    checkpoint, out: flags.out, arch, architecture,
    ...(flags.stateDictKey ? { stateDictKey: flags.stateDictKey } : {}),
    ...(flags.labels ? { labels: flags.labels } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.fp16 ? { fp16: true } : {}),
    ...(flags.force ? { force: true } : {}),
    ...(flags.export !== false ? { finish: async (dir: string) => { await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {}); } } : {}),
  });
  console.log(`imported ${checkpoint} -> ${result.head} (AVA head, ${result.numClasses} classes) + ${result.backbone} (encoder ${arch}), `
    + `${(result.parameters / 1e6).toFixed(2)} M parameters, ${result.seconds.toFixed(1)} s`);
  if (result.container) console.log(`  the state dict under '${result.container}' (--state-dict-key model_ema picks the EMA weights)`);
}
