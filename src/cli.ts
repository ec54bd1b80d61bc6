#!/usr/bin/env node
/**
 * The `videomae` command: serve, worker, train, make-dataset, export, import-checkpoint, pull, init-model, predict, evaluate,
 * extract-features, batch, detect-features. Each command lives in src/cli/<command>.ts; this file builds the program and maps errors to exit codes.
 * Training modules (TF.js) load only for the commands that need them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ServiceError } from './errors.js';
import { ListenError } from './http/listen.js';
import { addEvaluateCommand } from './cli/evaluate.js';
import { addExportCommand } from './cli/export.js';
import { addExtractFeaturesCommand } from './cli/extract-features.js';
import { addImportCheckpointCommand } from './cli/import-checkpoint.js';
import { addInitModelCommand } from './cli/init-model.js';
import { addMakeDatasetCommand } from './cli/make-dataset.js';
import { addPredictCommand } from './cli/predict.js';
import { addPullCommand } from './cli/pull.js';
import { addDetectFeaturesCommand } from './cli/detect-features.js';
import { addServeCommand } from './cli/serve.js';
import { addTrainCommand } from './cli/train.js';
import { addWorkerCommand } from './cli/worker.js';
import { addBatchCommand } from './cli/batch.js';

/** The version in this package's package.json (one level above src/ and dist/). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

function buildCli(): Command {
  const program = new Command('videomae')
    .description('VideoMAE V2 video understanding: serve, export and run models')
    .version(packageVersion(), '-V, --version', 'print the version of videomae')
    .showHelpAfterError();
  // The order here is the order of `videomae --help`.
  addServeCommand(program);
  addWorkerCommand(program);
  addExportCommand(program);
  addImportCheckpointCommand(program);
  addPullCommand(program);
  addInitModelCommand(program);
  addPredictCommand(program);
  addTrainCommand(program);
  addMakeDatasetCommand(program);
  addExtractFeaturesCommand(program);
  addBatchCommand(program);
  addDetectFeaturesCommand(program);
  addEvaluateCommand(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildCli().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof ServiceError) {
      console.error(`videomae: ${error.code}: ${error.message}`);
      process.exit(error.status >= 500 ? 1 : 2);
    }
    if (error instanceof ListenError) {
      console.error(`videomae: ${error.code}: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

void main();
