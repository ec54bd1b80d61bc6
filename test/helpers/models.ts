/**
 * A models directory for tests: the bundled default (its committed weights, exported here), a
 * tiny second model and an untrained 16x224x224 Kinetics-shaped one, all real ONNX graphs.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeArchitecture } from '../../src/config/architectures.js';
import { exportModelFolder } from '../../src/kinds/index.js';
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

  // The shape of an official Kinetics model at its real input size (16x224x224), untrained: slow
  // enough that a request is still computing while a test looks at the server.
  const mini = makeArchitecture('vit_mini_patch16_224', { numClasses: 400 });
  await createModelFolder({
    dir: join(dir, 'mini-k400'),
    name: 'mini-k400',
    architecture: mini,
    tensors: randomWeights(mini, 1),
    labels: 'k400',
    protocol: 'k400',
    provenance: { source: 'random-init', trained: false, seed: 1, metrics: {} },
  });
  await exportModelFolder(join(dir, 'mini-k400'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * An untrained ActionFormer on the features of `tiny-ucf` (64-d, 4-frame clips at 32x32): real
 * weights files and a real ONNX graph, for the job and endpoint tests.
 */
export async function addTemporalTestModel(modelsDir: string, name = 'temporal-tiny'): Promise<string> {
  const { makeActionFormerConfig } = await import('../../src/config/actionformer.js');
  const { actionFormerInitialWeights } = await import('../../src/weights/actionformer-parameters.js');
  const { createTemporalModelFolder } = await import('../../src/weights/create-temporal-model.js');
  const config = makeActionFormerConfig({
    inputDim: 64,
    numClasses: 3,
    embdDim: 16,
    numHeads: 2,
    backboneArch: [2, 1, 2],
    mhaWinSize: 5,
    maxSeqLen: 32,
    regressionRanges: [
      [0, 4],
      [4, 8],
      [8, 10000],
    ],
  });
  const dir = join(modelsDir, name);
  const tensors = actionFormerInitialWeights(config, 3);
  // Untrained regression heads predict ~zero lengths (dropped as too short): start them at e^1 strides.
  tensors.get('reg_head.offset_head.conv.bias')!.data.fill(1);
  await createTemporalModelFolder({
    dir,
    name,
    config,
    tensors,
    labels: ['jump', 'spin', 'wave'],
    labelSet: 'test',
    features: { backbone: 'tiny-ucf', numFrames: 4, featureStride: 4, size: 32, normalization: 'unit' },
    provenance: { source: 'random-init', trained: false, seed: 3, metrics: {} },
  });
  await exportModelFolder(dir);
  return dir;
}

/** Copies bundled model folders (not their ONNX build products) under `dir` and exports them there. */
export async function copyBundledModels(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    cpSync(join(REPO_MODELS, name), join(dir, name), { recursive: true, filter: (s) => !s.endsWith('.onnx') && !s.endsWith('.onnx.data') });
    await exportModelFolder(join(dir, name));
  }
}
