/**
 * `model.json`: what a model folder holds and how to use it. The schema is the single place that
 * says what a manifest may contain; loading validates it and resolves paths against the folder.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ServiceError } from '../errors.js';
import { validateArchitecture, type VitArchitecture } from './architectures.js';

export const MANIFEST_FILE = 'model.json';

const positiveInt = z.number().int().positive();

const ArchitectureSchema = z.object({
  arch: z.string(),
  patchSize: positiveInt,
  tubeletSize: positiveInt,
  embedDim: positiveInt,
  depth: positiveInt,
  numHeads: positiveInt,
  mlpHiddenDim: positiveInt,
  numFrames: positiveInt,
  imageHeight: positiveInt,
  imageWidth: positiveInt,
  numClasses: z.number().int().nonnegative(),
  layerNormEps: z.number().positive(),
  fcNormEps: z.number().positive().optional(),
  decoder: z.object({ embedDim: positiveInt, depth: positiveInt, numHeads: positiveInt, mlpHiddenDim: positiveInt }).optional(),
});

const triple = z.tuple([z.number(), z.number(), z.number()]);

export const ManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  task: z.literal('classification'),
  description: z.string().optional(),
  architecture: ArchitectureSchema,
  /** Label file, relative to the model folder; one label per line, line i is class i. */
  labels: z.object({ file: z.string(), set: z.string() }).optional(),
  preprocessing: z.object({
    mean: triple,
    std: triple,
    /** Resize so the short side has this many pixels, keeping the aspect ratio. */
    shortSide: positiveInt,
    /** Square crop size; must equal the model input size. */
    cropSize: positiveInt,
  }),
  sampling: z.object({ protocol: z.enum(['k400', 'ssv2', 'fast']) }),
  files: z.object({
    weights: z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    onnx: z.object({ path: z.string() }),
  }),
  provenance: z.object({
    source: z.enum(['random-init', 'training', 'checkpoint']),
    trained: z.boolean(),
    seed: z.number().int().optional(),
    recipe: z.unknown().optional(),
    checkpoint: z
      .object({
        file: z.string(),
        sha256: z.string(),
        /** The --arch the checkpoint was imported as. */
        arch: z.string().optional(),
        /** Where the state dict sat in the saved object (model, module, state_dict), if not at the top. */
        container: z.string().optional(),
        kind: z.enum(['finetune', 'pretrain']).optional(),
        /** Element types of the checkpoint's weights, and of what was written (fp16 with --fp16). */
        dtypes: z.array(z.string()).optional(),
        storedAs: z.enum(['float32', 'float16']).optional(),
        headMap: z.string().optional(),
        droppedKeys: z.number().int().nonnegative().optional(),
        /** 'hf': a Hugging Face transformers folder (config.json + model.safetensors or pytorch_model.bin). */
        format: z.enum(['pth', 'hf']).optional(),
        /** Where `videomae pull` got it: the Hub repo, the revision asked for and the commit it resolved to. */
        hub: z.object({ repo: z.string(), revision: z.string(), commit: z.string() }).optional(),
      })
      .optional(),
    metrics: z.record(z.string(), z.number()).default({}),
    note: z.string().optional(),
  }),
});

export type Manifest = z.infer<typeof ManifestSchema>;

const FilesSchema = ManifestSchema.shape.files;
const ProvenanceSchema = ManifestSchema.shape.provenance;

/** A temporal action detector: ActionFormer on the features of a named backbone. */
export const TemporalManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: ManifestSchema.shape.name,
  task: z.literal('temporal-detection'),
  description: z.string().optional(),
  /** The ActionFormer architecture: ActionFormerConfig (src/config/actionformer.ts), one official config key per field. */
  actionformer: z.object({
    inputDim: positiveInt,
    numClasses: positiveInt,
    maxSeqLen: positiveInt,
    backboneType: z.literal('convTransformer'),
    fpnType: z.literal('identity'),
    backboneArch: z.tuple([positiveInt, z.number().int().nonnegative(), z.number().int().nonnegative()]),
    scaleFactor: positiveInt,
    numHeads: positiveInt,
    mhaWinSize: z.array(z.number().int()),
    embdKernelSize: positiveInt,
    embdDim: positiveInt,
    embdWithLn: z.boolean(),
    fpnDim: positiveInt,
    fpnWithLn: z.boolean(),
    fpnStartLevel: z.number().int().nonnegative(),
    headDim: positiveInt,
    headKernelSize: positiveInt,
    headNumLayers: positiveInt,
    headWithLn: z.boolean(),
    maxBufferLenFactor: z.number().positive(),
    useAbsPe: z.boolean(),
    useRelPe: z.boolean(),
    regressionRanges: z.array(z.tuple([z.number(), z.number()])),
    clsPriorProb: z.number().nonnegative().lt(1),
    centerSampleRadius: z.number().nonnegative(),
    dropPath: z.number().nonnegative().lt(1),
    dropout: z.number().nonnegative().lt(1),
  }),
  labels: z.object({ file: z.string(), set: z.string() }),
  /**
   * How the input features are made: the backbone (a model name in the same models folder) and its
   * clips. Without a backbone the model is features-only (e.g. an imported detector on I3D
   * features): it runs on precomputed features, never on a video; size and normalization then
   * do not apply, and defaultFps is the official dataset.default_fps, if any.
   */
  features: z
    .object({
      backbone: z.string().optional(),
      numFrames: positiveInt,
      featureStride: positiveInt,
      size: positiveInt.optional(),
      normalization: z.enum(['unit', 'imagenet']).optional(),
      defaultFps: z.number().positive().optional(),
    })
    .refine((f) => f.backbone === undefined || (f.size !== undefined && f.normalization !== undefined), {
      message: 'a model with a backbone needs features.size and features.normalization',
    }),
  postprocess: z.object({
    scoreThreshold: z.number().nonnegative(),
    topK: positiveInt,
    minDuration: z.number().nonnegative(),
    nms: z.object({
      method: z.enum(['gaussian', 'linear', 'hard']),
      iouThreshold: z.number().min(0).max(1),
      sigma: z.number().positive(),
      minScore: z.number().nonnegative(),
      maxSegments: positiveInt,
      perClass: z.boolean(),
      votingThreshold: z.number().min(0).max(1),
    }),
  }),
  files: FilesSchema,
  provenance: ProvenanceSchema,
});

export type TemporalManifest = z.infer<typeof TemporalManifestSchema>;

export interface TemporalModelFolder {
  readonly dir: string;
  readonly manifest: TemporalManifest;
  readonly weightsPath: string;
  readonly onnxPath: string;
  readonly labelsPath: string;
}

/** What a model folder serves: the `task` of its manifest. */
export type ModelTask = AnyManifest['task'];

/** An AVA-style action head: scores actions per person box from a backbone's token map. */
export const SpatiotemporalManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: ManifestSchema.shape.name,
  task: z.literal('spatiotemporal-detection'),
  description: z.string().optional(),
  head: z.object({
    embedDim: positiveInt,
    numClasses: positiveInt,
    roiSize: positiveInt,
    /** RoIAlign samples per bin per side; 0 = adaptive, ceil(roi size / bins) (torchvision's sampling_ratio=0). */
    samplingRatio: z.number().int().nonnegative(),
    /** RoIAlign pixel model: true = half-pixel shift (aligned=True); false = torchvision aligned=False (the official head). */
    aligned: z.boolean().default(true),
    /** The encoder's final LayerNorm `norm` on the tokens before pooling (the official head; its weights sit in this folder). */
    finalNorm: z.boolean().default(false),
    layerNormEps: z.number().positive().default(1e-6),
    /** The backbone's patch size and temporal tokens T' (H', W' follow each video's frame). */
    patchSize: positiveInt,
    temporalTokens: positiveInt,
  }),
  /** The backbone (a model name in the same models folder) and the clip around each keyframe. */
  backbone: z.string(),
  /**
   * The clip around each keyframe. `resize` 'round-to-patch': the whole frame at `shortSide`, each side
   * rounded to a multiple of the patch; 'floor-pad': the official Resize (short side `shortSide`,
   * long side floored, OpenCV bilinear), normalized, then zero-padded right/bottom to a multiple of
   * `padMultiple`. `frameOffsets`: frames relative to the keyframe (default: numFrames at rate,
   * starting floor(numFrames / 2) * rate before it). `normalization`: mean and std on 0-255 pixels
   * (default: the backbone's preprocessing).
   */
  clip: z
    .object({
      numFrames: positiveInt,
      rate: positiveInt,
      shortSide: positiveInt,
      frameOffsets: z.array(z.number().int()).optional(),
      resize: z.enum(['round-to-patch', 'floor-pad']).default('round-to-patch'),
      padMultiple: positiveInt.optional(),
      normalization: z.object({ mean: triple, std: triple }).optional(),
    })
    .refine((c) => !c.frameOffsets || c.frameOffsets.length === c.numFrames, {
      message: 'frameOffsets must list one offset per frame (numFrames)',
      path: ['frameOffsets'],
    }),
  /**
   * Person boxes before pooling: `enlarge` [x, y] grows each side by x * width / 2 and y * height / 2
   * (the official test_ext (0.1, 0.05)); `convention` 'official' counts widths with +1 px and clips
   * to the frame (pixel W - 1, H - 1) before and after, as BoxList does; 'plain' leaves boxes as given.
   */
  boxes: z
    .object({
      enlarge: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([0, 0]),
      convention: z.enum(['plain', 'official']).default('plain'),
    })
    .default({ enlarge: [0, 0], convention: 'plain' }),
  /** Person boxes scoring below this are dropped before the head (the official evaluation keeps >= 0.8). */
  postprocess: z.object({ personScoreThreshold: z.number().min(0).max(1).default(0) }).default({ personScoreThreshold: 0 }),
  /** `id: name` lines; line k is head row k, its id the AVA action id. */
  labels: z.object({ file: z.string(), set: z.string(), evaluated: z.string().optional() }),
  files: FilesSchema,
  provenance: ProvenanceSchema,
});

export type SpatiotemporalManifest = z.infer<typeof SpatiotemporalManifestSchema>;

export interface SpatiotemporalModelFolder {
  readonly dir: string;
  readonly manifest: SpatiotemporalManifest;
  readonly weightsPath: string;
  readonly onnxPath: string;
  readonly labelsPath: string;
}

export function readSpatiotemporalModelFolder(dir: string): SpatiotemporalModelFolder {
  const { root, manifest } = readManifestWith(SpatiotemporalManifestSchema, dir);
  return {
    dir: root,
    manifest,
    weightsPath: resolve(root, manifest.files.weights.path),
    onnxPath: resolve(root, manifest.files.onnx.path),
    labelsPath: resolve(root, manifest.labels.file),
  };
}

export function writeSpatiotemporalManifest(dir: string, manifest: z.input<typeof SpatiotemporalManifestSchema>): void {
  writeManifestWith(SpatiotemporalManifestSchema, dir, manifest);
}

/** Every manifest a model folder may hold: one schema per model kind, told apart by `task`. */
export const AnyManifestSchema = z.discriminatedUnion('task', [ManifestSchema, TemporalManifestSchema, SpatiotemporalManifestSchema]);
export type AnyManifest = z.infer<typeof AnyManifestSchema>;

/** `dir`/model.json validated against one kind's schema; the first problem names its field. */
export function readManifestWith<S extends z.ZodType>(schema: S, dir: string): { root: string; file: string; manifest: z.infer<S> } {
  const { file, raw } = readManifestJson(dir);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ManifestError(file, `is invalid at '${issue.path.join('.')}': ${issue.message}`);
  }
  return { root: resolve(dir), file, manifest: parsed.data };
}

/** Writes model.json atomically, validated against the kind's schema first. */
export function writeManifestWith<S extends z.ZodType>(schema: S, dir: string, manifest: z.input<S>): void {
  const checked = schema.parse(manifest);
  const file = join(dir, MANIFEST_FILE);
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(checked, null, 2)}\n`);
  renameSync(temp, file);
}

function readManifestJson(dir: string): { file: string; raw: unknown } {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new ManifestError(file, 'does not exist');
  try {
    return { file, raw: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (error) {
    throw new ManifestError(file, `is not valid JSON: ${(error as Error).message}`);
  }
}

/** The task a model folder declares (before validating the rest); a manifest without one is a classifier. */
export function modelTask(dir: string): ModelTask {
  const { file, raw } = readManifestJson(dir);
  const task = (raw as { task?: unknown } | null)?.task;
  if (task === undefined) return 'classification';
  const known = AnyManifestSchema.options.map((schema) => schema.shape.task.value);
  if (!known.includes(task as ModelTask))
    throw new ManifestError(file, `has task ${JSON.stringify(task)}; known tasks: ${known.join(', ')}`);
  return task as ModelTask;
}

export function readTemporalModelFolder(dir: string): TemporalModelFolder {
  const { root, manifest } = readManifestWith(TemporalManifestSchema, dir);
  return {
    dir: root,
    manifest,
    weightsPath: resolve(root, manifest.files.weights.path),
    onnxPath: resolve(root, manifest.files.onnx.path),
    labelsPath: resolve(root, manifest.labels.file),
  };
}

export function writeTemporalManifest(dir: string, manifest: TemporalManifest): void {
  writeManifestWith(TemporalManifestSchema, dir, manifest);
}

export class ManifestError extends ServiceError {
  constructor(file: string, reason: string) {
    super(422, 'invalid_manifest', `model manifest '${file}' ${reason}`);
  }
}

/** A manifest plus the folder it was read from, with its paths resolved. */
export interface ModelFolder {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly architecture: VitArchitecture;
  readonly weightsPath: string;
  readonly onnxPath: string;
  readonly labelsPath: string | undefined;
}

export function readModelFolder(dir: string): ModelFolder {
  const { file, raw } = readManifestJson(dir);
  const task = (raw as { task?: unknown } | null)?.task;
  if (task !== undefined && task !== 'classification') {
    throw new ManifestError(file, `is a ${String(task)} model, not a backbone or classifier`);
  }
  const { root, manifest } = readManifestWith(ManifestSchema, dir);
  validateArchitecture(manifest.architecture);
  return {
    dir: root,
    manifest,
    architecture: manifest.architecture,
    weightsPath: resolve(root, manifest.files.weights.path),
    onnxPath: resolve(root, manifest.files.onnx.path),
    labelsPath: manifest.labels ? resolve(root, manifest.labels.file) : undefined,
  };
}

/** Writes model.json atomically, validated against the schema first. */
export function writeManifest(dir: string, manifest: Manifest): void {
  writeManifestWith(ManifestSchema, dir, manifest);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
