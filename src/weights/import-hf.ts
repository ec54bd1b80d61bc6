/**
 * `videomae import-checkpoint DIR --format hf`: a Hugging Face transformers VideoMAE folder
 * (config.json + model.safetensors or pytorch_model.bin, preprocessor_config.json if present)
 * -> a model folder with the official names, the architecture and eps from config.json, labels
 * from id2label and preprocessing from the image processor. As with the .pth import, everything is
 * checked before anything is written and the folder is staged beside --out, then renamed.
 *
 * VideoMAEForVideoClassification imports with its head; VideoMAEForPreTraining and a bare
 * VideoMAEModel import as encoders (the decoder, encoder_to_decoder, mask_token and the final
 * layernorm dropped unless --pretrain keeps the decoder, fc_norm started at unit gain).
 * use_mean_pooling false with a classifier (final LayerNorm, token 0) is refused: our graph mean-pools.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ARCHITECTURE_SHAPES, validateArchitecture, type VitArchitecture } from '../config/architectures.js';
import { parseLabels } from '../config/labels.js';
import { sha256File, type Manifest } from '../config/manifest.js';
import { ServiceError } from '../errors.js';
import type { ProtocolName } from '../video/sampling.js';
import { CheckpointError } from './checkpoint-error.js';
import { locateStateDict, planImport } from './checkpoint-mapping.js';
import { IMAGENET_MEAN, IMAGENET_STD, createModelFolder } from './create-model.js';
import { roundToFloat16InPlace } from './half.js';
import { HF_FC_NORM_EPS, parseHfConfig, parseHfPreprocessor, type HfModelConfig, type HfPreprocessing } from './hf-config.js';
import { mapHfStateDict, type MappedTensor } from './hf-mapping.js';
import { elementCount } from './parameters.js';
import { readSafetensors, type TensorMap } from './safetensors.js';
import { assertOutAvailable, stageModelFolder } from './staged-folder.js';
import { TorchCheckpoint, TorchTensor } from './torch-checkpoint.js';

/** The weight files transformers writes, in the order we take them. */
export const HF_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;
const SHARD_INDEXES = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'];

export interface HfImportOptions {
  /** The transformers model folder. */
  readonly dir: string;
  readonly out: string;
  readonly name?: string;
  readonly fp16?: boolean;
  /** Keep the decoder of a VideoMAEForPreTraining model (a folder for `train --init`). */
  readonly pretrain?: boolean;
  readonly protocol?: ProtocolName;
  readonly force?: boolean;
  /** Where `videomae pull` got the folder, recorded in the provenance. */
  readonly hub?: { readonly repo: string; readonly revision: string; readonly commit: string };
  /** Runs on the staged folder before it is moved to --out (the ONNX export). */
  readonly finish?: (stagedDir: string) => Promise<void>;
}

export interface HfImportResult {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly kind: 'finetune' | 'pretrain';
  readonly weightsFile: string;
  readonly tensors: number;
  readonly parameters: number;
  readonly droppedKeys: string[];
  readonly initializedKeys: string[];
  readonly seconds: number;
}

/** A tensor of the source file, read on demand as float32. */
interface SourceTensor {
  readonly shape: readonly number[];
  readonly dtype: string;
  read(): Float32Array;
}

export async function importHfFolder(options: HfImportOptions): Promise<HfImportResult> {
  const started = performance.now();
  const dir = resolve(options.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ServiceError(
      400,
      'file_not_found',
      `checkpoint '${options.dir}' is not a folder; --format hf takes a transformers model folder (config.json + model.safetensors or pytorch_model.bin)`,
      { parameter: 'checkpoint' },
    );
  }
  assertOutAvailable(options.out, options.force === true);
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) {
    throw new CheckpointError(
      'invalid_checkpoint',
      options.dir,
      'has no config.json; --format hf needs the transformers config next to the weights',
    );
  }
  const config = parseHfConfig(readJson(configFile), configFile);
  const preprocessorFile = join(dir, 'preprocessor_config.json');
  const preprocessing: HfPreprocessing = existsSync(preprocessorFile)
    ? parseHfPreprocessor(readJson(preprocessorFile), preprocessorFile, config.architecture.imageSize)
    : { mean: IMAGENET_MEAN, std: IMAGENET_STD, shortSide: config.architecture.imageSize };
  const weightsFile = findWeights(dir, options.dir);

  const source = openWeights(weightsFile);
  let prepared: ReturnType<typeof prepare>;
  try {
    prepared = prepare(source.tensors, config, options, weightsFile);
  } finally {
    source.close();
  }
  const { architecture, labels, kind, tensors, dropped, initialized, dtypes, parameters } = prepared;
  const sha256 = await sha256File(weightsFile);

  const manifest = await stageModelFolder(options.out, options.force === true, async (staged) => {
    if (labels) writeFileSync(join(staged, 'labels.txt'), `${labels.join('\n')}\n`);
    const manifest = await createModelFolder({
      dir: staged,
      name: options.name ?? basename(resolve(options.out)),
      architecture,
      tensors,
      ...(labels ? { labels: 'id2label', labelsRelativePath: 'labels.txt' } : {}),
      protocol: options.protocol ?? (architecture.numClasses === 174 ? 'ssv2' : 'k400'),
      shortSide: preprocessing.shortSide,
      mean: preprocessing.mean,
      std: preprocessing.std,
      weightsDtype: options.fp16 ? 'F16' : 'F32',
      description: `${kind === 'pretrain' ? 'Pretrained' : 'Fine-tuned'} VideoMAE imported from the transformers ${config.modelClass ?? 'VideoMAE'} folder${options.hub ? ` ${options.hub.repo}@${options.hub.commit.slice(0, 12)}` : ` '${basename(dir)}'`}.`,
      provenance: {
        source: 'checkpoint',
        trained: true,
        metrics: {},
        checkpoint: {
          file: basename(weightsFile),
          sha256,
          arch: architecture.arch,
          kind,
          dtypes,
          storedAs: options.fp16 ? 'float16' : 'float32',
          droppedKeys: dropped.length,
          format: 'hf',
          ...(options.hub ? { hub: { ...options.hub } } : {}),
        },
        ...(initialized.length ? { note: `not in the checkpoint, initialized: ${initialized.join(', ')}` } : {}),
      },
    });
    tensors.clear(); // the export reads the written file; let these go first
    await options.finish?.(staged);
    return manifest;
  });
  return {
    dir: resolve(options.out),
    manifest,
    kind,
    weightsFile,
    tensors: prepared.count,
    parameters,
    droppedKeys: dropped,
    initializedKeys: initialized,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Checks the state dict against config.json and reads it into our names (pure apart from the reads). */
function prepare(source: Map<string, SourceTensor>, config: HfModelConfig, options: HfImportOptions, file: string) {
  const keys = [...source.keys()];
  const hasClassifier = source.has('classifier.weight');
  const isPretraining = keys.some((k) => /^(decoder\.|encoder_to_decoder\.|mask_token$)/.test(k));
  if (hasClassifier && (!config.useMeanPooling || !source.has('fc_norm.weight'))) {
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      'classifies from the first token after a final LayerNorm (config use_mean_pooling false, no fc_norm); only mean-pooling models (fc_norm, use_mean_pooling true) are supported',
    );
  }
  const mapping = mapHfStateDict(source, { qkvBias: config.qkvBias, freshFcNorm: !hasClassifier }, file);
  const dropped: string[] = [];
  if (!isPretraining) {
    // A bare VideoMAEModel's final layernorm: features are fc_norm(mean of tokens), as for a pretraining encoder.
    for (const name of ['norm.weight', 'norm.bias']) if (mapping.entries.delete(name)) dropped.push(`videomae.layernorm.${name.slice(5)}`);
  }

  const a = config.architecture;
  const arch = officialName(config) ?? 'vit_base_patch16_224';
  const plan = planImport(
    mapping.entries,
    {
      arch,
      architecture: {
        embedDim: a.embedDim,
        depth: a.depth,
        numHeads: a.numHeads,
        mlpRatio: a.mlpHiddenDim / a.embedDim,
        patchSize: a.patchSize,
        tubeletSize: a.tubeletSize,
        numFrames: a.numFrames,
        imageSize: a.imageSize,
      },
      ...(options.pretrain ? { pretrain: true } : {}),
      ...(config.decoderNumHeads ? { decoderNumHeads: config.decoderNumHeads } : {}),
    },
    file,
  );
  const architecture: VitArchitecture = {
    ...plan.architecture,
    arch: officialName(config) ?? 'custom',
    layerNormEps: config.layerNormEps,
    fcNormEps: HF_FC_NORM_EPS,
  };
  validateArchitecture(architecture);
  if (architecture.mlpHiddenDim !== a.mlpHiddenDim) {
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      `has intermediate_size ${a.mlpHiddenDim}, which is not a whole MLP ratio of hidden_size ${a.embedDim}`,
    );
  }
  let labels: string[] | undefined;
  if (architecture.numClasses > 0) {
    if (config.labels.length !== architecture.numClasses) {
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `has a classifier of ${architecture.numClasses} classes but config.json's id2label names ${config.labels.length}`,
      );
    }
    labels = config.labels;
    if (parseLabels(labels.join('\n')).length !== labels.length)
      throw new CheckpointError('unsupported_checkpoint', file, 'has id2label entries that a label file cannot hold');
  }

  const tensors: TensorMap = new Map();
  const dtypes = new Set<string>();
  let parameters = 0;
  for (const [name, mapped] of plan.sources) {
    const data = readMapped(mapped as MappedTensor<SourceTensor>);
    for (const part of (mapped as MappedTensor<SourceTensor>).parts) {
      dtypes.add(part.dtype);
      parameters += elementCount(part.shape);
    }
    if (options.fp16) roundToFloat16InPlace(data);
    tensors.set(name, { shape: mapped.shape, data });
  }
  for (const spec of plan.initialized) {
    tensors.set(spec.name, { shape: spec.shape, data: new Float32Array(elementCount(spec.shape)).fill(spec.init === 'ones' ? 1 : 0) });
  }
  const initialized = [...mapping.filled.filter((n) => tensors.has(n)), ...plan.initialized.map((s) => s.name)];
  return {
    architecture,
    labels,
    kind: plan.kind,
    tensors,
    count: tensors.size,
    parameters,
    dropped: [...dropped, ...plan.dropped],
    initialized,
    dtypes: [...dtypes].sort(),
  };
}

function readMapped(mapped: MappedTensor<SourceTensor>): Float32Array {
  if (mapped.fill !== undefined) return new Float32Array(elementCount(mapped.shape)).fill(mapped.fill);
  if (mapped.parts.length === 1) return mapped.parts[0]!.read();
  const out = new Float32Array(elementCount(mapped.shape));
  let offset = 0;
  for (const part of mapped.parts) {
    const values = part.read();
    out.set(values, offset);
    offset += values.length;
  }
  return out;
}

/** The official timm-style name when config.json describes one of the released sizes. */
function officialName(config: HfModelConfig): string | undefined {
  const a = config.architecture;
  const match = Object.entries(ARCHITECTURE_SHAPES).find(
    ([name, s]) =>
      name.endsWith('_224') &&
      !name.includes('mini') &&
      s.embedDim === a.embedDim &&
      s.depth === a.depth &&
      s.numHeads === a.numHeads &&
      s.patchSize === a.patchSize &&
      s.mlpHiddenDim === a.mlpHiddenDim,
  );
  return match?.[0];
}

function findWeights(dir: string, given: string): string {
  for (const name of HF_WEIGHT_FILES) if (existsSync(join(dir, name))) return join(dir, name);
  const index = SHARD_INDEXES.find((name) => existsSync(join(dir, name)));
  if (index)
    throw new CheckpointError(
      'unsupported_checkpoint',
      given,
      `holds sharded weights (${index}); only a single ${HF_WEIGHT_FILES.join(' or ')} is supported`,
    );
  throw new CheckpointError('invalid_checkpoint', given, `has neither ${HF_WEIGHT_FILES.join(' nor ')}`);
}

function openWeights(file: string): { tensors: Map<string, SourceTensor>; close(): void } {
  if (file.endsWith('.safetensors')) {
    const read = readSafetensors(file);
    const tensors = new Map<string, SourceTensor>();
    for (const [name, t] of read.tensors) tensors.set(name, { shape: t.shape, dtype: read.dtypes.get(name)!, read: () => t.data });
    return { tensors, close: () => read.tensors.clear() };
  }
  // transformers writes pytorch_model.bin with torch.save(state_dict): the strict checkpoint reader's job.
  const checkpoint = TorchCheckpoint.open(file);
  try {
    const located = locateStateDict(checkpoint.root, (v): v is TorchTensor => v instanceof TorchTensor, file);
    const tensors = new Map<string, SourceTensor>();
    for (const [name, t] of located.entries)
      tensors.set(name, { shape: t.shape, dtype: t.dtype, read: () => checkpoint.readFloat32(t, name) });
    return { tensors, close: () => checkpoint.close() };
  } catch (error) {
    checkpoint.close();
    throw error;
  }
}

function readJson(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CheckpointError('invalid_checkpoint', file, `is not valid JSON (${(error as Error).message})`);
  }
}
