/**
 * A models directory for tests: the bundled default (its committed weights, exported here) and a
 * tiny second model, both real ONNX graphs.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeArchitecture } from '../../src/config/architectures.js';
import { exportModelFolder } from '../../src/onnx/export-model.js';
import { createModelFolder } from '../../src/weights/create-model.js';
import { randomWeights } from '../../src/weights/random-init.js';

export const REPO_MODELS = join(import.meta.dirname, '..', '..', 'models');

export interface TestModels {
  readonly dir: string;
  cleanup(): void;
}

export async function prepareTestModels(): Promise<TestModels> {
  const dir = mkdtempSync(join(tmpdir(), 'videomae-models-'));
  cpSync(join(REPO_MODELS, 'default'), join(dir, 'default'), {
    recursive: true,
    filter: (source) => !source.endsWith('.onnx') && !source.endsWith('.onnx.data'),
  });
  await exportModelFolder(join(dir, 'default'));

  const architecture = makeArchitecture('vit_tiny_test', { numClasses: 101, numFrames: 4, imageSize: 32 });
  await createModelFolder({
    dir: join(dir, 'tiny-ucf'),
    name: 'tiny-ucf',
    architecture,
    tensors: randomWeights(architecture, 7),
    labels: 'ucf101',
    protocol: 'fast',
    provenance: { source: 'random-init', trained: false, seed: 7, metrics: {} },
  });
  await exportModelFolder(join(dir, 'tiny-ucf'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
