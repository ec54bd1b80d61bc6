/**
 * `videomae import-checkpoint FILE [--kind K] --out DIR`: a checkpoint as the official training code
 * saves it into a model folder (then exported), by the kind's importCheckpoint (src/kinds/);
 * `--format hf` hands a transformers folder to ./import-hf.ts.
 */
import { type Command, Option } from 'commander';
import { ServiceError } from '../errors.js';
import { FUSED_ATTENTION_FLAG_HELP, INT8_FLAG_HELP } from '../kinds/export-flags.js';
import { kindNamed, MODEL_KINDS } from '../kinds/index.js';
import { OFFICIAL_ARCHS, positiveInt, positiveNumber, protocolOption } from './options.js';

export function addImportCheckpointCommand(program: Command): void {
  program
    .command('import-checkpoint')
    .description(
      'import an official VideoMAE V2 PyTorch checkpoint (.pth), or a Hugging Face transformers folder (--format hf), into a servable model folder',
    )
    .argument(
      '<checkpoint>',
      'the .pth file (torch.save, zip or legacy format), or with --format hf the folder holding config.json and the weights',
    )
    .requiredOption('--out <dir>', 'model folder to create (for example models/vit-s-k400)')
    .addOption(
      new Option(
        '--kind <kind>',
        'what the checkpoint holds: vit (a VideoMAE V2 backbone or classifier), actionformer (an official ActionFormer, with --config), ava (an official VideoMAE AVA detector)',
      )
        .choices(MODEL_KINDS.filter((k) => k.importCheckpoint).map((k) => k.name))
        .default('vit'),
    )
    .option('--config <yaml>', 'with --kind actionformer: the official config file the checkpoint was trained with')
    .addOption(
      new Option(
        '--format <format>',
        'pth: an official checkpoint; hf: a transformers VideoMAE folder (architecture, labels and preprocessing from its config)',
      )
        .choices(['pth', 'hf'])
        .default('pth'),
    )
    .addOption(new Option('--arch <name>', 'architecture of the checkpoint (required for --format pth)').choices(OFFICIAL_ARCHS))
    .option('--num-classes <n>', "head size to expect (default: the checkpoint's head)", positiveInt)
    .option('--labels <set|file>', 'label set (k710, k400, k600, k700, sthv2, ucf101, hmdb51) or file (default: from the head size)')
    .addOption(
      new Option('--head-map <map>', 'keep the Kinetics-710 head rows of a subset (official index maps)').choices([
        '710to400',
        '710to600',
        '710to700',
      ]),
    )
    .option(
      '--state-dict-key <key>',
      'top-level key holding the weights, e.g. model_ema or state_dict_ema for the EMA weights (default: the first of model, module, model_ema, state_dict, state_dict_ema, else the top level)',
    )
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
    .option('--int8', `the export: ${INT8_FLAG_HELP}`)
    .option('--fused-attention', `the export: ${FUSED_ATTENTION_FLAG_HELP}`)
    .action(async (checkpoint: string, flags) => {
      if (flags.format === 'hf' && flags.kind === 'vit') return (await import('./import-hf.js')).runHfImport(checkpoint, flags);
      const kind = kindNamed(flags.kind, '--kind');
      if (!kind.importCheckpoint)
        throw new ServiceError(400, 'invalid_parameter', `model kind '${kind.name}' has no checkpoint import`, { parameter: '--kind' });
      if (kind.name !== 'vit' && (flags.int8 || flags.fusedAttention))
        throw new ServiceError(400, 'invalid_parameter', `${flags.int8 ? '--int8' : '--fused-attention'} applies to --kind vit only`, {
          parameter: flags.int8 ? '--int8' : '--fused-attention',
        });
      const report = await kind.importCheckpoint({ file: checkpoint, out: flags.out, flags });
      for (const line of report.lines) console.log(line);
    });
}
