/**
 * Each kind's export (src/kinds/ picks one per folder): model.json + weights.safetensors -> model.onnx. The exported file records the
 * sha256 of the weights it came from, so the runtime can tell a stale export from a current one.
 */
import { existsSync } from 'node:fs';
import {
  readModelFolder,
  readSpatiotemporalModelFolder,
  readTemporalModelFolder,
  sha256File,
  type ModelFolder,
  type SpatiotemporalManifest,
} from '../config/manifest.js';
import { avaHeadParameters, buildAvaHeadGraph, type AvaHeadConfig } from './ava-head-graph.js';
import { actionFormerParameters } from '../weights/actionformer-parameters.js';
import { buildActionFormerGraph } from './actionformer-graph.js';
import { ServiceError } from '../errors.js';
import { readSafetensors } from '../weights/safetensors.js';
import { assertStateDict, compareSpecs, StateDictMismatchError } from '../weights/state-dict-check.js';
import { readModelMetadata, writeModel, type SerializeOptions, type SerializeResult } from './serialize.js';
import { buildVitGraph, type AttentionForm } from './vit-graph.js';

export const WEIGHTS_SHA_KEY = 'videomae.weights_sha256';
/** How the ViT graph computes: 'float32', 'float16' (half weights, float32 maths) or 'int8'. */
export const PRECISION_KEY = 'videomae.precision';
/** 'plain' or 'fused' attention (see VitGraphOptions). */
export const ATTENTION_KEY = 'videomae.attention';

export type GraphPrecision = 'float32' | 'float16' | 'int8';

export interface ExportOptions extends SerializeOptions {
  /** ViT folders: int8 weights (per output channel) and dynamic int8 activations. */
  readonly int8?: boolean;
  /** ViT folders: the attention form (default plain). */
  readonly attention?: AttentionForm;
}

/** What a ViT model.onnx records of its graph form; exports from before these keys read as float32, plain. */
export interface GraphForm {
  readonly precision: GraphPrecision;
  readonly attention: AttentionForm;
}

export function graphFormOf(metadata: Record<string, string>): GraphForm {
  const precision = metadata[PRECISION_KEY];
  return {
    precision: precision === 'int8' || precision === 'float16' ? precision : 'float32',
    attention: metadata[ATTENTION_KEY] === 'fused' ? 'fused' : 'plain',
  };
}

export interface ExportResult extends SerializeResult {
  readonly weightsSha256: string;
  readonly seconds: number;
}

/** A backbone or classifier folder: model.json + weights.safetensors -> model.onnx (video -> logits, features). */
export async function exportVitFolder(dir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const started = performance.now();
  const folder = readModelFolder(dir);
  const weightsSha256 = await verifiedWeightsHash(folder);
  const { tensors, dtypes } = readSafetensors(folder.weightsPath);
  assertStateDict(folder.architecture, tensors, `weights '${folder.weightsPath}'`);
  // Half weights stay half in the ONNX file (an --fp16 import); anything else is float32.
  const allHalf = dtypes.size > 0 && [...dtypes.values()].every((d) => d === 'F16');
  const int8 = options.int8 ?? false;
  const attention = options.attention ?? 'plain';
  const precision: GraphPrecision = int8 ? 'int8' : allHalf ? 'float16' : 'float32';
  const model = buildVitGraph(
    folder.architecture,
    tensors,
    {
      [WEIGHTS_SHA_KEY]: weightsSha256,
      'videomae.arch': folder.architecture.arch,
      'videomae.model': folder.manifest.name,
      [PRECISION_KEY]: precision,
      [ATTENTION_KEY]: attention,
    },
    { weightType: allHalf ? 'float16' : 'float32', releaseWeights: true, int8, attention },
  );
  const result = writeModel(model, folder.onnxPath, options);
  return { ...result, weightsSha256, seconds: (performance.now() - started) / 1000 };
}

/** An ActionFormer folder: model.json + weights.safetensors -> model.onnx (feats, mask -> cls_logits, offsets). */
export async function exportTemporalFolder(dir: string, options: SerializeOptions = {}): Promise<ExportResult> {
  const started = performance.now();
  const folder = readTemporalModelFolder(dir);
  const weightsSha256 = await verifiedWeightsHash(folder);
  const config = folder.manifest.actionformer;
  const { tensors } = readSafetensors(folder.weightsPath);
  const report = compareSpecs(actionFormerParameters(config), tensors);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) {
    throw new StateDictMismatchError(report, `weights '${folder.weightsPath}'`);
  }
  const model = buildActionFormerGraph(config, tensors, {
    [WEIGHTS_SHA_KEY]: weightsSha256,
    'videomae.arch': 'actionformer',
    'videomae.model': folder.manifest.name,
  });
  const result = writeModel(model, folder.onnxPath, options);
  return { ...result, weightsSha256, seconds: (performance.now() - started) / 1000 };
}

/** An AVA head folder: model.json + weights.safetensors -> model.onnx (tokens, grid_size, rois, batch_indices -> scores, pooled). */
export async function exportSpatiotemporalFolder(dir: string, options: SerializeOptions = {}): Promise<ExportResult> {
  const started = performance.now();
  const folder = readSpatiotemporalModelFolder(dir);
  const weightsSha256 = await verifiedWeightsHash(folder);
  const { tensors } = readSafetensors(folder.weightsPath);
  const head = avaHeadConfigOf(folder.manifest);
  const report = compareSpecs(avaHeadParameters(head), tensors);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) {
    throw new StateDictMismatchError(report, `weights '${folder.weightsPath}'`);
  }
  const model = buildAvaHeadGraph(head, tensors, {
    [WEIGHTS_SHA_KEY]: weightsSha256,
    'videomae.arch': 'ava_head',
    'videomae.model': folder.manifest.name,
  });
  const result = writeModel(model, folder.onnxPath, options);
  return { ...result, weightsSha256, seconds: (performance.now() - started) / 1000 };
}

/** The head graph's configuration from a manifest. */
export function avaHeadConfigOf(manifest: SpatiotemporalManifest): AvaHeadConfig {
  const h = manifest.head;
  return {
    embedDim: h.embedDim,
    temporalTokens: h.temporalTokens,
    patchSize: h.patchSize,
    numClasses: h.numClasses,
    roiSize: h.roiSize,
    samplingRatio: h.samplingRatio,
    aligned: h.aligned,
    finalNorm: h.finalNorm,
    layerNormEps: h.layerNormEps,
  };
}

async function verifiedWeightsHash(folder: {
  weightsPath: string;
  manifest: { name: string; files: { weights: { sha256: string } } };
}): Promise<string> {
  if (!existsSync(folder.weightsPath)) {
    throw new ServiceError(422, 'weights_missing', `model '${folder.manifest.name}' has no weights file at '${folder.weightsPath}'`);
  }
  const actual = await sha256File(folder.weightsPath);
  const expected = folder.manifest.files.weights.sha256;
  if (actual !== expected) {
    throw new ServiceError(
      422,
      'weights_checksum_mismatch',
      `weights '${folder.weightsPath}' have sha256 ${actual}, but model.json of '${folder.manifest.name}' records ${expected}`,
    );
  }
  return actual;
}

/** Why a model folder's ONNX file cannot be served as is, or undefined when it is current. */
export function staleExportReason(
  folder: Pick<ModelFolder, 'onnxPath'> & { manifest: { files: { weights: { sha256: string } } } },
): string | undefined {
  if (!existsSync(folder.onnxPath)) return `'${folder.onnxPath}' does not exist`;
  const recorded = readModelMetadata(folder.onnxPath)[WEIGHTS_SHA_KEY];
  if (recorded !== folder.manifest.files.weights.sha256) {
    return `'${folder.onnxPath}' was exported from other weights (sha256 ${recorded ?? 'unknown'})`;
  }
  return undefined;
}
