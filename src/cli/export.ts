/** `videomae export DIR...`: model.onnx from model.json + weights.safetensors. */
import type { Command } from 'commander';
import { exportModelFolder } from '../kinds/index.js';
import { positiveInt } from './options.js';

export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description('build model.onnx from model.json + weights.safetensors')
    .argument('<modelDirs...>', 'model folders')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .action(async (dirs: string[], flags) => {
      for (const dir of dirs) {
        const result = await exportModelFolder(
          dir,
          flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {},
        );
        const external = result.externalDataPath ? ` + ${result.externalDataPath}` : '';
        console.log(
          `exported ${result.modelPath}${external} (${(result.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights, ${result.seconds.toFixed(1)} s)`,
        );
      }
    });
}
