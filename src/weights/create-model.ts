/**
 * Writes a new model folder (weights.safetensors + model.json) from a tensor map. Used for the
 * seeded-random bundled default, for benchmarks, and by every later producer of weights.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { VitArchitecture } from '../config/architectures.js';
import { bundledLabelPath, readLabels } from '../config/labels.js';
import { sha256File, writeManifest, type Manifest } from '../config/manifest.js';
import { InvalidParameterError } from '../errors.js';
import { writeSafetensors, type TensorMap } from './safetensors.js';
import { assertStateDict } from './state-dict-check.js';

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export interface NewModel {
  readonly dir: string;
  readonly name: string;
  readonly architecture: VitArchitecture;
  readonly tensors: TensorMap;
  /** A bundled set name (k400, ...) or a path to a label file, copied into the folder. */
  readonly labels?: string;
  /** Reference the label file at this relative path instead of copying it. */
  readonly labelsRelativePath?: string;
  readonly protocol?: Manifest['sampling']['protocol'];
  /** Resize rule of the preprocessing (default: the input size, so the crop is the whole short side). */
  readonly shortSide?: number;
  /** Normalization of the preprocessing (default: ImageNet's). */
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
  readonly provenance: Manifest['provenance'];
  readonly description?: string;
  /** Store the weights as float16 (halves the file; values are rounded to nearest even). */
  readonly weightsDtype?: 'F32' | 'F16';
}

export async function createModelFolder(model: NewModel): Promise<Manifest> {
  assertStateDict(model.architecture, model.tensors, `weights for '${model.name}'`);
  mkdirSync(model.dir, { recursive: true });
  const labels = model.labels ? placeLabels(model) : undefined;
  if (labels && model.architecture.numClasses > 0) {
    const count = readLabels(join(model.dir, labels.file)).length;
    if (count !== model.architecture.numClasses) {
      throw new InvalidParameterError(
        'labels',
        model.labels,
        `has ${count} labels but the head has ${model.architecture.numClasses} classes`,
      );
    }
  }
  const weightsFile = 'weights.safetensors';
  writeSafetensors(
    join(model.dir, weightsFile),
    model.tensors,
    { format: 'pt', arch: model.architecture.arch },
    model.weightsDtype ?? 'F32',
  );
  const { imageHeight, imageWidth } = model.architecture;
  if (imageHeight !== imageWidth) {
    throw new InvalidParameterError('imageSize', `${imageHeight}x${imageWidth}`, 'must be square for the crop-based preprocessing');
  }
  const manifest: Manifest = {
    schemaVersion: 1,
    name: model.name,
    task: 'classification',
    ...(model.description ? { description: model.description } : {}),
    architecture: model.architecture,
    ...(labels ? { labels } : {}),
    preprocessing: {
      mean: [...(model.mean ?? IMAGENET_MEAN)] as [number, number, number],
      std: [...(model.std ?? IMAGENET_STD)] as [number, number, number],
      shortSide: model.shortSide ?? imageHeight,
      cropSize: imageHeight,
    },
    sampling: { protocol: model.protocol ?? 'k400' },
    files: {
      weights: { path: weightsFile, sha256: await sha256File(join(model.dir, weightsFile)) },
      onnx: { path: 'model.onnx' },
    },
    provenance: model.provenance,
  };
  writeManifest(model.dir, manifest);
  return manifest;
}

function placeLabels(model: NewModel): { file: string; set: string } {
  const source = model.labels!;
  const bundled = bundledLabelPath(source);
  if (model.labelsRelativePath) return { file: model.labelsRelativePath, set: source };
  const path = bundled ?? source;
  if (!existsSync(path)) {
    throw new InvalidParameterError('labels', source, 'is neither a bundled label set nor an existing file');
  }
  const file = 'labels.txt';
  copyFileSync(path, join(model.dir, file));
  return { file, set: bundled ? source : basename(source) };
}
