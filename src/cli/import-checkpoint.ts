/**
 * `videomae import-checkpoint FILE --arch A --out DIR`: an official VideoMAE V2 .pth into a model
 * folder (then exported); `--format hf` hands a transformers folder to ./import-hf.ts.
 */
import { type Command, Option } from 'commander';
import type { ArchitectureOptions } from '../config/architectures.js';
import { ServiceError } from '../errors.js';
import { exportModelFolder } from '../onnx/export-model.js';
import { OFFICIAL_ARCHS, positiveInt, positiveNumber, protocolOption } from './options.js';

export function addImportCheckpointCommand(program: Command): void {
  program.command('import-checkpoint')
    .description('import an official VideoMAE V2 PyTorch checkpoint (.pth), or a Hugging Face transformers folder (--format hf), into a servable model folder')
    .argument('<checkpoint>', 'the .pth file (torch.save, zip or legacy format), or with --format hf the folder holding config.json and the weights')
    .requiredOption('--out <dir>', 'model folder to create (for example models/vit-s-k400)')
    .addOption(new Option('--format <format>', 'pth: an official checkpoint; hf: a transformers VideoMAE folder (architecture, labels and preprocessing from its config)').choices(['pth', 'hf']).default('pth'))
    .addOption(new Option('--arch <name>', 'architecture of the checkpoint (required for --format pth)').choices(OFFICIAL_ARCHS))
    .option('--num-classes <n>', 'head size to expect (default: the checkpoint\'s head)', positiveInt)
    .option('--labels <set|file>', 'label set (k710, k400, k600, k700, sthv2, ucf101, hmdb51) or file (default: from the head size)')
    .addOption(new Option('--head-map <map>', 'keep the Kinetics-710 head rows of a subset (official index maps)').choices(['710to400', '710to600', '710to700']))
    .option('--state-dict-key <key>', 'top-level key holding the weights, e.g. model_ema or state_dict_ema for the EMA weights (default: the first of model, module, model_ema, state_dict, state_dict_ema, else the top level)')
    .option('--fp16', 'store the weights as float16 (halves weights.safetensors and model.onnx; computes in float32)')
    .option('--pretrain', 'keep the decoder of a pretraining checkpoint (a folder for train --init)')
    .option('--name <name>', 'model name (default: the folder name)')
    .addOption(protocolOption())
    .option('--depth <n>', 'blocks (custom sizes)', positiveInt)
    .option('--embed-dim <n>', 'token width (custom sizes)', positiveInt)
    .option('--num-heads <n>', 'attention heads (custom sizes)', positiveInt)
    .option('--mlp-ratio <r>', 'MLP hidden width / token width (custom sizes)', positiveNumber)
    .option('--patch-size <px>', 'spatial patch size', positiveInt)
    .option('--num-frames <n>', 'frames per clip', positiveInt)
    .option('--img-size <px>', 'input height and width', positiveInt)
    .option('--tubelet-size <n>', 'frames per tube', positiveInt)
    .option('--decoder-num-heads <n>', 'decoder heads with --pretrain when the width is not an official one', positiveInt)
    .option('--force', 'replace a non-empty --out')
    .option('--no-export', 'skip the ONNX export')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .action(async (checkpoint: string, flags) => {
      if (flags.format === 'hf') return (await import('./import-hf.js')).runHfImport(checkpoint, flags);
      if (!flags.arch) throw new ServiceError(400, 'missing_parameter', `--arch is required for a .pth checkpoint (one of ${OFFICIAL_ARCHS.join(', ')}); a transformers folder takes --format hf`, { parameter: '--arch' });
      const { importCheckpoint } = await import('../weights/import-checkpoint.js');
      const architecture: ArchitectureOptions = {};
      if (flags.depth) architecture.depth = flags.depth;
      if (flags.embedDim) architecture.embedDim = flags.embedDim;
      if (flags.numHeads) architecture.numHeads = flags.numHeads;
      if (flags.mlpRatio) architecture.mlpRatio = flags.mlpRatio;
      if (flags.patchSize) architecture.patchSize = flags.patchSize;
      if (flags.numFrames) architecture.numFrames = flags.numFrames;
      if (flags.imgSize) architecture.imageSize = flags.imgSize;
      if (flags.tubeletSize) architecture.tubeletSize = flags.tubeletSize;
      let exported = '';
      const result = await importCheckpoint({
        checkpoint, out: flags.out, arch: flags.arch, architecture,
        ...(flags.numClasses ? { numClasses: flags.numClasses } : {}),
        ...(flags.labels ? { labels: flags.labels } : {}),
        ...(flags.headMap ? { headMap: flags.headMap } : {}),
        ...(flags.stateDictKey ? { stateDictKey: flags.stateDictKey } : {}),
        ...(flags.fp16 ? { fp16: true } : {}),
        ...(flags.pretrain ? { pretrain: true } : {}),
        ...(flags.decoderNumHeads ? { decoderNumHeads: flags.decoderNumHeads } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.protocol ? { protocol: flags.protocol } : {}),
        ...(flags.force ? { force: true } : {}),
        ...(flags.export ? {
          finish: async (dir: string) => {
            const r = await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {});
            exported = `, model.onnx${r.externalDataPath ? ' + model.onnx.data' : ''} (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
          },
        } : {}),
      });
      const a = result.manifest.architecture;
      console.log(`imported ${checkpoint} -> ${result.dir}: ${result.kind} ${a.arch} (depth ${a.depth}, width ${a.embedDim}, ${a.numClasses} classes), `
        + `${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`);
      if (result.container) console.log(`  the state dict under '${result.container}' (--state-dict-key picks another)`);
      if (result.droppedKeys.length) console.log(`  left out ${result.droppedKeys.length} pretraining-only keys (decoder, encoder_to_decoder, mask_token, norm); --pretrain keeps them`);
      if (result.initializedKeys.length) console.log(`  initialized as fine-tuning starts: ${result.initializedKeys.join(', ')}`);
    });
}
