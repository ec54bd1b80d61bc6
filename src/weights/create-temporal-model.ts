/**
 * Writes a temporal-detection model folder (labels.txt, weights.safetensors, model.json): the
 * ActionFormer stage's output, and untrained detectors for tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionFormerConfig } from '../config/actionformer.js';
import { sha256File, writeTemporalManifest, type TemporalManifest } from '../config/manifest.js';
import { InvalidParameterError } from '../errors.js';
import { ACTIONFORMER_NMS } from '../postprocess/soft-nms-1d.js';
import { ACTIONFORMER_DECODE } from '../postprocess/temporal-decode.js';
import { actionFormerParameters } from './actionformer-parameters.js';
import { writeSafetensors, type TensorMap } from './safetensors.js';
import { compareSpecs, describeReport } from './state-dict-check.js';

export interface NewTemporalModel {
  readonly dir: string;
  readonly name: string;
  readonly config: ActionFormerConfig;
  readonly tensors: TensorMap;
  readonly labels: readonly string[];
  readonly labelSet: string;
  readonly features: TemporalManifest['features'];
  readonly provenance: TemporalManifest['provenance'];
  readonly description?: string;
  /** Decode and NMS settings (default: ActionFormer's THUMOS14 ones); an import takes its config's test_cfg. */
  readonly postprocess?: TemporalManifest['postprocess'];
}

export async function createTemporalModelFolder(model: NewTemporalModel): Promise<TemporalManifest> {
  const report = compareSpecs(actionFormerParameters(model.config), model.tensors);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) {
    throw new InvalidParameterError('weights', model.name, `do not match the ActionFormer config: ${describeReport(report)}`);
  }
  if (model.labels.length !== model.config.numClasses) {
    throw new InvalidParameterError('labels', model.labels.length, `must number the ${model.config.numClasses} classes of the head`);
  }
  mkdirSync(model.dir, { recursive: true });
  writeFileSync(join(model.dir, 'labels.txt'), model.labels.join('\n') + '\n');
  writeSafetensors(join(model.dir, 'weights.safetensors'), model.tensors, { format: 'pt', arch: 'actionformer' });
  const manifest: TemporalManifest = {
    schemaVersion: 1,
    name: model.name,
    task: 'temporal-detection',
    ...(model.description ? { description: model.description } : {}),
    actionformer: {
      ...model.config,
      backboneArch: [...model.config.backboneArch] as [number, number, number],
      mhaWinSize: [...model.config.mhaWinSize],
      regressionRanges: model.config.regressionRanges.map(([a, b]) => [a, b] as [number, number]),
    },
    labels: { file: 'labels.txt', set: model.labelSet },
    features: model.features,
    postprocess: model.postprocess ?? { ...ACTIONFORMER_DECODE, nms: { ...ACTIONFORMER_NMS } },
    files: {
      weights: { path: 'weights.safetensors', sha256: await sha256File(join(model.dir, 'weights.safetensors')) },
      onnx: { path: 'model.onnx' },
    },
    provenance: model.provenance,
  };
  writeTemporalManifest(model.dir, manifest);
  return manifest;
}
