/**
 * `videomae import-checkpoint CKPT --kind ava`: one official VideoMAE-Action-Detection checkpoint
 * (`{'model', 'optimizer', 'epoch', 'scaler', 'args'[, 'model_ema']}`; backbone `patch_embed.*`,
 * `blocks.N.*`, the encoder's final `norm.*` and the action head `head.*` [80, D]) -> two model
 * folders side by side, so that `serve --models <their parent>` serves it:
 *   <out>            the AVA head (spatiotemporal-detection): norm.* + head.*, the official test
 *                    semantics in its manifest (ava-clip.ts), backbone '<name>-backbone'
 *   <out>-backbone   the encoder (patch_embed.*, blocks.*): tokens for the head
 * The positional embedding is the fixed sinusoid table, never stored, resized bicubically to each
 * frame's token grid as the official interpolate_pos_embed_online does (the backbone graph does it).
 * Every key and shape is checked before anything is written; both folders are staged and renamed
 * into place only when complete.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { makeArchitecture, type ArchitectureOptions } from '../config/architectures.js';
import { BUNDLED_LABELS_DIR } from '../config/labels.js';
import { sha256File, writeSpatiotemporalManifest, type SpatiotemporalManifest } from '../config/manifest.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import { readActionClasses } from '../config/labels.js';
import {
  officialFrameOffsets,
  OFFICIAL_AVA_BOX_ENLARGE,
  OFFICIAL_AVA_PERSON_THRESHOLD,
  OFFICIAL_AVA_PIXEL_MEAN,
  OFFICIAL_AVA_PIXEL_STD,
} from '../video/ava-clip.js';
import { CheckpointLayoutError, locateStateDict, stripPrefixes } from './checkpoint-mapping.js';
import { createModelFolder } from './create-model.js';
import { roundToFloat16InPlace } from './half.js';
import { backboneParameters, shapesEqual, type ParameterSpec } from './parameters.js';
import { writeSafetensors, type TensorMap } from './safetensors.js';
import { assertOutAvailable, stageModelFolder } from './staged-folder.js';
import { StateDictMismatchError, type StateDictReport } from './state-dict-check.js';
import { TorchCheckpoint, TorchTensor } from './torch-checkpoint.js';

/** The official AVA clip: 16 frames at rate 4 (TransformsCfg FRAME_NUM, FRAME_SAMPLE_RATE), short side 256. */
export const OFFICIAL_AVA_CLIP = { numFrames: 16, rate: 4, shortSide: 256, padMultiple: 16 } as const;

/** Keys of the official model that are the head's, not the encoder's. */
const HEAD_KEYS = ['norm.weight', 'norm.bias', 'head.weight', 'head.bias'] as const;

export interface AvaImportOptions {
  readonly checkpoint: string;
  /** The head folder; the encoder goes to `<out>-backbone`. */
  readonly out: string;
  readonly arch: string;
  readonly architecture?: ArchitectureOptions;
  /** 'model' (default, the first of the usual keys holding tensors) or 'model_ema'. */
  readonly stateDictKey?: string;
  /** Label file of `id: name` lines, one per head row (default: the bundled AVA v2.2 80 classes). */
  readonly labels?: string;
  readonly name?: string;
  readonly fp16?: boolean;
  readonly force?: boolean;
  /** Runs on the staged folders before they move into place (the ONNX export), encoder first. */
  readonly finish?: (stagedDir: string) => Promise<void>;
}

export interface AvaImportResult {
  readonly head: string;
  readonly backbone: string;
  readonly name: string;
  readonly container: string | undefined;
  readonly numClasses: number;
  readonly parameters: number;
  readonly seconds: number;
}

/** Where the encoder of an AVA head folder goes: beside it. */
export function avaBackboneDir(out: string): string {
  const target = resolve(out);
  return join(dirname(target), `${basename(target)}-backbone`);
}

export async function importAvaCheckpoint(options: AvaImportOptions): Promise<AvaImportResult> {
  const started = performance.now();
  const file = resolve(options.checkpoint);
  const out = resolve(options.out);
  const backboneOut = avaBackboneDir(out);
  if (!existsSync(file))
    throw new ServiceError(400, 'file_not_found', `checkpoint '${options.checkpoint}' does not exist`, { parameter: 'checkpoint' });
  assertOutAvailable(options.out, options.force === true);
  assertOutAvailable(backboneOut, options.force === true);
  const name = options.name ?? basename(out);
  const backboneName = `${name}-backbone`;
  const labelsFile = options.labels ?? join(BUNDLED_LABELS_DIR, 'ava_v2.2_80.txt');
  if (!existsSync(labelsFile)) throw new InvalidParameterError('labels', options.labels, 'is not an existing label file');
  const classes = readActionClasses(labelsFile);

  const checkpoint = TorchCheckpoint.open(file);
  let container: string | undefined;
  let backboneTensors: TensorMap;
  let headTensors: TensorMap;
  let architecture: ReturnType<typeof makeArchitecture>;
  let parameters = 0;
  let dtypes: string[] = [];
  try {
    const located = locateStateDict(checkpoint.root, (v): v is TorchTensor => v instanceof TorchTensor, file, options.stateDictKey);
    container = located.container;
    const entries = stripPrefixes(located.entries, file);
    refuseOtherLayouts(entries, file);
    const head = entries.get('head.weight');
    if (!head || head.shape.length !== 2) {
      throw new CheckpointLayoutError(
        file,
        "has no action head 'head.weight' [classes, D]: an AVA checkpoint of VideoMAE-Action-Detection holds one",
      );
    }
    const numClasses = head.shape[0]!;
    if (classes.length !== numClasses) {
      throw new InvalidParameterError(
        'labels',
        options.labels ?? 'ava_v2.2_80',
        `has ${classes.length} classes but the checkpoint's head has ${numClasses}`,
      );
    }
    architecture = makeArchitecture(options.arch, { numFrames: OFFICIAL_AVA_CLIP.numFrames, ...options.architecture, numClasses: 0 });
    const d = architecture.embedDim;
    // The encoder's keys without fc_norm (the official AVA model has none), then the head's.
    const specs: ParameterSpec[] = [
      ...backboneParameters(architecture).filter((s) => !s.name.startsWith('fc_norm.')),
      { name: 'norm.weight', shape: [d], init: 'ones' },
      { name: 'norm.bias', shape: [d], init: 'zeros' },
      { name: 'head.weight', shape: [numClasses, d], init: 'trunc_normal' },
      { name: 'head.bias', shape: [numClasses], init: 'zeros' },
    ];
    const report = compare(specs, entries);
    if (report.missing.length || report.unexpected.length || report.mismatched.length) {
      throw new StateDictMismatchError(
        report,
        `checkpoint '${file}' (as an AVA ${options.arch}: depth ${architecture.depth}, width ${d}, patch ${architecture.tubeletSize}x${architecture.patchSize}x${architecture.patchSize})`,
      );
    }
    dtypes = [...new Set(specs.map((s) => entries.get(s.name)!.dtype))].sort();
    backboneTensors = new Map();
    headTensors = new Map();
    for (const spec of specs) {
      const source = entries.get(spec.name)!;
      const data = checkpoint.readFloat32(source, spec.name);
      if (options.fp16) roundToFloat16InPlace(data);
      parameters += data.length;
      ((HEAD_KEYS as readonly string[]).includes(spec.name) ? headTensors : backboneTensors).set(spec.name, {
        shape: [...source.shape],
        data,
      });
    }
    // The backbone graph also makes pooled `features` through fc_norm, which this model never had:
    // unit gain and zero shift, as fine-tuning starts it (the AVA head reads `tokens` only).
    backboneTensors.set('fc_norm.weight', { shape: [d], data: new Float32Array(d).fill(1) });
    backboneTensors.set('fc_norm.bias', { shape: [d], data: new Float32Array(d) });
  } finally {
    checkpoint.close();
  }

  const sha256 = await sha256File(file);
  const provenanceCheckpoint = {
    file: basename(file),
    sha256,
    arch: options.arch,
    ...(container ? { container } : {}),
    kind: 'finetune' as const,
    dtypes,
    storedAs: options.fp16 ? ('float16' as const) : ('float32' as const),
    droppedKeys: 0,
  };
  const a = architecture;
  const numClasses = headTensors.get('head.weight')!.shape[0]!;
  return stageModelFolder(backboneOut, options.force === true, async (stagedBackbone) => {
    await createModelFolder({
      dir: stagedBackbone,
      name: backboneName,
      architecture: a,
      tensors: backboneTensors,
      mean: OFFICIAL_AVA_PIXEL_MEAN.map((v) => v / 255) as [number, number, number],
      std: OFFICIAL_AVA_PIXEL_STD.map((v) => v / 255) as [number, number, number],
      shortSide: OFFICIAL_AVA_CLIP.shortSide,
      weightsDtype: options.fp16 ? 'F16' : 'F32',
      description: `Encoder of the AVA model '${name}' (${options.arch}) imported from ${basename(file)}: tokens for its head`,
      provenance: {
        source: 'checkpoint',
        trained: true,
        metrics: {},
        checkpoint: provenanceCheckpoint,
        note: 'fc_norm is not in an AVA checkpoint; set to unit gain and zero shift (the AVA head reads tokens, not features)',
      },
    });
    backboneTensors.clear();
    await options.finish?.(stagedBackbone);
    return stageModelFolder(out, options.force === true, async (stagedHead) => {
      writeSafetensors(
        join(stagedHead, 'weights.safetensors'),
        headTensors,
        { format: 'pt', arch: 'ava_head' },
        options.fp16 ? 'F16' : 'F32',
      );
      copyFileSync(labelsFile, join(stagedHead, 'labels.txt'));
      const evaluated = join(BUNDLED_LABELS_DIR, 'ava_v2.2_evaluated_60.txt');
      const official80 = options.labels === undefined;
      if (official80) copyFileSync(evaluated, join(stagedHead, 'evaluated.txt'));
      const manifest: SpatiotemporalManifest = {
        schemaVersion: 1,
        name,
        task: 'spatiotemporal-detection',
        description: `AVA action detector ${options.arch} imported from ${basename(file)} (VideoMAE-Action-Detection), on backbone '${backboneName}'`,
        head: {
          embedDim: a.embedDim,
          numClasses,
          roiSize: 7,
          samplingRatio: 0,
          aligned: false,
          finalNorm: true,
          layerNormEps: a.layerNormEps,
          patchSize: a.patchSize,
          temporalTokens: a.numFrames / a.tubeletSize,
        },
        backbone: backboneName,
        clip: {
          numFrames: a.numFrames,
          rate: OFFICIAL_AVA_CLIP.rate,
          shortSide: OFFICIAL_AVA_CLIP.shortSide,
          frameOffsets: officialFrameOffsets(a.numFrames, OFFICIAL_AVA_CLIP.rate),
          resize: 'floor-pad',
          padMultiple: OFFICIAL_AVA_CLIP.padMultiple,
          normalization: {
            mean: [...OFFICIAL_AVA_PIXEL_MEAN] as [number, number, number],
            std: [...OFFICIAL_AVA_PIXEL_STD] as [number, number, number],
          },
        },
        boxes: { enlarge: [...OFFICIAL_AVA_BOX_ENLARGE] as [number, number], convention: 'official' },
        postprocess: { personScoreThreshold: OFFICIAL_AVA_PERSON_THRESHOLD },
        labels: {
          file: 'labels.txt',
          set: official80 ? 'ava_v2.2' : basename(labelsFile),
          ...(official80 ? { evaluated: 'evaluated.txt' } : {}),
        },
        files: {
          weights: { path: 'weights.safetensors', sha256: await sha256File(join(stagedHead, 'weights.safetensors')) },
          onnx: { path: 'model.onnx' },
        },
        provenance: { source: 'checkpoint', trained: true, metrics: {}, checkpoint: provenanceCheckpoint },
      };
      writeSpatiotemporalManifest(stagedHead, manifest);
      await options.finish?.(stagedHead);
      return { head: out, backbone: backboneOut, name, container, numClasses, parameters, seconds: (performance.now() - started) / 1000 };
    });
  });
}

/** A classification, pretraining or learned-position checkpoint is not an AVA one: say which it is. */
function refuseOtherLayouts(entries: Map<string, TorchTensor>, file: string): void {
  const keys = [...entries.keys()];
  if (keys.some((k) => /^(decoder\.|encoder_to_decoder\.|mask_token$)/.test(k))) {
    throw new CheckpointLayoutError(
      file,
      'is a pretraining checkpoint (decoder.*, encoder_to_decoder.*, mask_token), not an AVA one: fine-tune it with VideoMAE-Action-Detection first',
    );
  }
  if (keys.some((k) => k.startsWith('fc_norm.'))) {
    throw new CheckpointLayoutError(
      file,
      'has fc_norm.*: a classification checkpoint (mean pooling + fc_norm), not an AVA one; import it without --kind ava',
    );
  }
  if (entries.has('pos_embed')) {
    throw new CheckpointLayoutError(
      file,
      'stores a pos_embed: the official AVA model computes a fixed sinusoid table and never saves one (learned position embeddings are not supported)',
    );
  }
}

function compare(specs: readonly ParameterSpec[], entries: Map<string, TorchTensor>): StateDictReport {
  const expected = new Set(specs.map((s) => s.name));
  const missing: string[] = [];
  const mismatched: StateDictReport['mismatched'] = [];
  for (const spec of specs) {
    const tensor = entries.get(spec.name);
    if (!tensor) missing.push(spec.name);
    else if (!shapesEqual(tensor.shape, spec.shape)) mismatched.push({ name: spec.name, expected: spec.shape, actual: tensor.shape });
  }
  return { missing, unexpected: [...entries.keys()].filter((k) => !expected.has(k)), mismatched };
}
