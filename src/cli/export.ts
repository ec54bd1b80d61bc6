/** `videomae export DIR...`: model.onnx from model.json + weights.safetensors; with --triton, a Triton model repository of them. */
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { exportOptionsFrom, FUSED_ATTENTION_FLAG_HELP, graphFormNote, INT8_FLAG_HELP } from '../kinds/export-flags.js';
import { exportModelFolder } from '../kinds/index.js';
import { DEFAULT_TRITON_MAX_BATCH, writeTritonModel } from '../onnx/triton-config.js';
import { positiveInt } from './options.js';

export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description('build model.onnx from model.json + weights.safetensors')
    .argument('<modelDirs...>', 'model folders')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .option(
      '--triton <dir>',
      'also write a Triton model repository there: <dir>/<folder name>/config.pbtxt (onnxruntime backend) + 1/model.onnx',
    )
    .option('--int8', INT8_FLAG_HELP)
    .option('--fused-attention', FUSED_ATTENTION_FLAG_HELP)
    .option('--triton-max-batch <n>', 'with --triton: max_batch_size of the models that batch', positiveInt, DEFAULT_TRITON_MAX_BATCH)
    .action(async (dirs: string[], flags) => {
      for (const dir of dirs) {
        const options = exportOptionsFrom(flags);
        const result = await exportModelFolder(dir, options);
        const external = result.externalDataPath ? ` + ${result.externalDataPath}` : '';
        console.log(
          `exported ${result.modelPath}${external}${graphFormNote(options)} (${(result.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights, ${result.seconds.toFixed(1)} s)`,
        );
        if (flags.triton) {
          const name = basename(resolve(dir));
          const triton = writeTritonModel(result.modelPath, resolve(flags.triton), {
            name,
            maxBatchSize: flags.tritonMaxBatch,
            externalDataPath: result.externalDataPath,
            comment: `Written by \`videomae export --triton\` from ${result.modelPath} (weights sha256 ${result.weightsSha256}).`,
          });
          const batching =
            triton.maxBatchSize > 0 ? `max_batch_size ${triton.maxBatchSize}, dynamic batching` : 'no batch dim: max_batch_size 0';
          console.log(`triton: ${triton.configPath} + ${triton.modelPath} (${batching})`);
        }
      }
    });
}
