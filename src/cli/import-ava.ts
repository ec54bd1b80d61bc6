/**
 * `videomae import-checkpoint CKPT --kind ava --arch ARCH --out DIR`: an official
 * VideoMAE-Action-Detection checkpoint -> DIR (the AVA head) and DIR-backbone (its encoder),
 * both exported, so that `videomae serve --models <parent of DIR>` serves /detect-spatiotemporal.
 */
import type { ArchitectureOptions } from '../config/architectures.js';

interface AvaImportFlags {
  out: string; arch: string; stateDictKey?: string; labels?: string; name?: string; fp16?: boolean; force?: boolean; export?: boolean;
  externalDataThreshold?: number; depth?: number; embedDim?: number; numHeads?: number; mlpRatio?: number; patchSize?: number;
  numFrames?: number; imgSize?: number; tubeletSize?: number;
}

export async function runAvaImport(checkpoint: string, flags: AvaImportFlags): Promise<void> {
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
    checkpoint, out: flags.out, arch: flags.arch, architecture,
    ...(flags.stateDictKey ? { stateDictKey: flags.stateDictKey } : {}),
    ...(flags.labels ? { labels: flags.labels } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.fp16 ? { fp16: true } : {}),
    ...(flags.force ? { force: true } : {}),
    ...(flags.export !== false ? { finish: async (dir: string) => { await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {}); } } : {}),
  });
  console.log(`imported ${checkpoint} -> ${result.head} (AVA head, ${result.numClasses} classes) + ${result.backbone} (encoder ${flags.arch}), `
    + `${(result.parameters / 1e6).toFixed(2)} M parameters, ${result.seconds.toFixed(1)} s`);
  if (result.container) console.log(`  the state dict under '${result.container}' (--state-dict-key model_ema picks the EMA weights)`);
}
