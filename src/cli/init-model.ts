/** `videomae init-model --out DIR`: a model folder with seeded random weights, then exported. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { architectureNames, makeArchitecture } from '../config/architectures.js';
import { bundledLabelPath, readLabels } from '../config/labels.js';
import { exportModelFolder } from '../kinds/index.js';
import type { ProtocolName } from '../video/sampling.js';
import { createModelFolder } from '../weights/create-model.js';
import { randomWeights } from '../weights/random-init.js';
import { positiveInt, protocolOption } from './options.js';

export function addInitModelCommand(program: Command): void {
  program.command('init-model')
    .description('write a model folder with seeded random weights (untrained), then export it')
    .requiredOption('--out <dir>', 'model folder to create')
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
      const labelsFile = bundledLabelPath(flags.labels) ?? flags.labels;
      const numClasses = flags.numClasses ?? (existsSync(labelsFile) ? readLabels(labelsFile).length : 0);
      const architecture = makeArchitecture(flags.arch, { numClasses, numFrames: flags.numFrames, imageSize: flags.imageSize });
      const dir = resolve(flags.out);
      await createModelFolder({
        dir,
        name: flags.name ?? dir.split('/').filter(Boolean).pop()!,
        architecture,
        tensors: randomWeights(architecture, flags.seed),
        labels: flags.labels,
        protocol: flags.protocol as ProtocolName,
        description: `Untrained ${flags.arch} with seeded random weights (seed ${flags.seed}).`,
        provenance: { source: 'random-init', trained: false, seed: flags.seed, metrics: {}, note: 'random weights: scores carry no meaning' },
      });
      console.log(`wrote ${dir}`);
      if (flags.export) {
        const result = await exportModelFolder(dir);
        console.log(`exported ${result.modelPath}`);
      }
    });
}
