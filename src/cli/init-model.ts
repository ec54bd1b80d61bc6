/** `videomae init-model [--kind K] --out DIR`: a model folder with seeded random weights (the kind's create), then exported. */
import { type Command, Option } from 'commander';
import { architectureNames } from '../config/architectures.js';
import { ServiceError } from '../errors.js';
import { kindNamed, MODEL_KINDS } from '../kinds/index.js';
import { positiveInt, protocolOption } from './options.js';

export function addInitModelCommand(program: Command): void {
  program
    .command('init-model')
    .description('write a model folder with seeded random weights (untrained), then export it')
    .requiredOption('--out <dir>', 'model folder to create')
    .addOption(new Option('--kind <kind>', 'model kind').choices(MODEL_KINDS.filter((k) => k.create).map((k) => k.name)).default('vit'))
    .addOption(new Option('--arch <name>', 'architecture').choices(architectureNames()).default('vit_small_patch16_224'))
    .option('--name <name>', 'model name (default: the folder name)')
    .option('--labels <set|file>', 'label set (k400, k600, k700, k710, sthv2, ucf101, hmdb51) or file', 'k400')
    .option('--num-classes <n>', 'head size (default: the number of labels)', positiveInt)
    .option('--num-frames <n>', 'frames per clip', positiveInt, 16)
    .option('--image-size <px>', 'input height and width', positiveInt, 224)
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 1)
    .addOption(protocolOption().default('k400'))
    .option('--no-export', 'skip the ONNX export')
    .action(async (flags) => {
      const kind = kindNamed(flags.kind, '--kind');
      if (!kind.create)
        throw new ServiceError(400, 'invalid_parameter', `model kind '${kind.name}' cannot be made from random weights here`, {
          parameter: '--kind',
        });
      const report = await kind.create({ out: flags.out, flags });
      for (const line of report.lines) console.log(line);
    });
}
