/**
 * Training recipes: a JSON file listing stages (pretrain, finetune, distill), each with its model,
 * data, optimizer, schedule, epochs, batch, seed and output folder. Everything is checked before
 * the first step, and every failure names the field (`stages[1].data.train`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ServiceError } from '../errors.js';

export class RecipeError extends ServiceError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(400, 'invalid_recipe', `recipe field '${field}' ${reason}`, { parameter: field });
  }
}

const positiveInt = z.number().int().positive();
const ratio = z.number().min(0).lt(1);
const pair = z.tuple([z.number().positive(), z.number().positive()]);

const ModelSpec = z.strictObject({
  arch: z.string(),
  numFrames: positiveInt.optional(),
  imageSize: positiveInt.optional(),
  patchSize: positiveInt.optional(),
  tubeletSize: positiveInt.optional(),
  embedDim: positiveInt.optional(),
  depth: positiveInt.optional(),
  numHeads: positiveInt.optional(),
  decoderDepth: positiveInt.optional(),
});

const DataSpec = z.strictObject({
  /** One manifest, or several whose label spaces merge (post-pretraining). */
  train: z.union([z.string(), z.array(z.string()).min(1)]),
  val: z.string().optional(),
  /** Label file fixing the class order; default: the manifests' labels.txt, merged. */
  labels: z.string().optional(),
  /** Temporal sampling preset used for training clips and for the served model. */
  protocol: z.enum(['k400', 'ssv2', 'fast']).default('ssv2'),
  /** Frames are resized so their short side has this many pixels (default: the input size). */
  shortSide: positiveInt.optional(),
});

const Optimizer = z.strictObject({
  lr: z.number().positive(),
  minLr: z.number().nonnegative().default(1e-6),
  weightDecay: z.number().nonnegative().default(0.05),
  betas: z.tuple([ratio, ratio]).optional(),
  eps: z.number().positive().default(1e-8),
  clipGrad: z.number().positive().optional(),
  warmupEpochs: z.number().nonnegative().default(0),
  /** Layer-wise lr decay (fine-tuning); 1 = none. */
  layerDecay: z.number().positive().max(1).default(1),
});

const Augment = z.strictObject({
  scale: pair.default([0.08, 1]),
  ratio: pair.default([3 / 4, 4 / 3]),
  /** Horizontal flip: 'auto' flips unless a label is direction-sensitive. */
  flip: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** Colour augmentation strength in [0, 1] (channel order, gain, shift, inversion); 0 = off. */
  colour: z.number().min(0).max(1).default(0),
});

const common = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .optional(),
  out: z.string(),
  seed: z.number().int().nonnegative().optional(),
  epochs: positiveInt,
  batch: positiveInt,
  /** Stop after this many steps (quick runs); the schedule still spans all epochs. */
  maxSteps: positiveInt.optional(),
  /** Evaluate on the held-out split every N epochs (and after the last). */
  evalEvery: positiveInt.default(1),
  /** Write a checkpoint every N steps (and at each epoch end). */
  checkpointEvery: positiveInt.optional(),
  model: ModelSpec.optional(),
  /** A model folder, or "previous" for the output of the stage before. */
  init: z.string().optional(),
  data: DataSpec,
  optimizer: Optimizer,
  export: z.boolean().default(true),
};

const classification = {
  dropPath: z.number().min(0).lt(1).default(0.1),
  labelSmoothing: z.number().min(0).lt(1).default(0.1),
  mixup: z.number().nonnegative().default(0),
  cutmix: z.number().nonnegative().default(0),
  /** With --init: 'map' copies head rows by label name, 'new' starts a fresh head. */
  head: z.enum(['new', 'map']).default('new'),
  augment: Augment.default({ scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: 'auto', colour: 0 }),
};

const PretrainStage = z.strictObject({
  stage: z.literal('pretrain'),
  ...common,
  masking: z
    .strictObject({ encoderRatio: ratio.default(0.9), decoderRatio: ratio.default(0.5) })
    .default({ encoderRatio: 0.9, decoderRatio: 0.5 }),
  dropPath: z.number().min(0).lt(1).default(0),
});

const FinetuneStage = z.strictObject({ stage: z.literal('finetune'), ...common, ...classification });

const DistillStage = z.strictObject({
  stage: z.literal('distill'),
  ...common,
  ...classification,
  teacher: z.string(),
  temperature: z.number().positive().default(1),
  /** Weight of the label loss; 0 = distillation only. */
  alpha: z.number().min(0).max(1).default(0),
});

/** ActionFormer on precomputed features (extract-features) with ActivityNet-style annotations. */
const ActionFormerStage = z.strictObject({
  stage: z.literal('actionformer'),
  name: common.name,
  out: common.out,
  seed: common.seed,
  epochs: common.epochs,
  batch: common.batch,
  maxSteps: common.maxSteps,
  evalEvery: common.evalEvery,
  checkpointEvery: common.checkpointEvery,
  export: common.export,
  optimizer: Optimizer,
  data: z.strictObject({
    /** A folder written by `videomae extract-features` (features.json + <video>.npy). */
    features: z.string(),
    /** ActivityNet-style JSON: database -> {video: {subset, duration, fps, annotations: [{segment, label}]}}. */
    annotations: z.string(),
    trainSubset: z.string().default('training'),
    valSubset: z.string().default('validation'),
    /** Label file fixing the class order; default: the annotations' labels, sorted. */
    labels: z.string().optional(),
  }),
  /** ActionFormerConfig fields (src/config/actionformer.ts; official THUMOS values by default). */
  model: z
    .strictObject({
      backboneArch: z.tuple([positiveInt, z.number().int().nonnegative(), z.number().int().nonnegative()]).optional(),
      numHeads: positiveInt.optional(),
      mhaWinSize: z.union([z.number().int(), z.array(z.number().int())]).optional(),
      embdKernelSize: positiveInt.optional(),
      embdDim: positiveInt.optional(),
      embdWithLn: z.boolean().optional(),
      fpnDim: positiveInt.optional(),
      fpnWithLn: z.boolean().optional(),
      headDim: positiveInt.optional(),
      headKernelSize: positiveInt.optional(),
      headNumLayers: positiveInt.optional(),
      headWithLn: z.boolean().optional(),
      useAbsPe: z.boolean().optional(),
      regressionRanges: z.array(z.tuple([z.number().nonnegative(), z.number().positive()])).optional(),
      centerSampleRadius: z.number().nonnegative().optional(),
      clsPriorProb: z.number().nonnegative().lt(1).optional(),
      dropPath: z.number().nonnegative().lt(1).optional(),
    })
    .default({}),
  /**
   * The model's maxSeqLen (official dataset.max_seq_len): training windows are this long (longer
   * sequences cropped at random, shorter ones padded); evaluation pads to it as serving does.
   */
  maxSeqLen: positiveInt.default(256),
  loss: z
    .strictObject({
      focalAlpha: z.number().min(0).max(1).default(0.25),
      focalGamma: z.number().nonnegative().default(2),
      regressionWeight: z.number().nonnegative().default(1),
    })
    .default({ focalAlpha: 0.25, focalGamma: 2, regressionWeight: 1 }),
});

export type ActionFormerStageSpec = z.infer<typeof ActionFormerStage>;

/** The AVA action head on a backbone (frozen unless `trainBackbone`), from AVA-format CSVs and their videos. */
const AvaStage = z.strictObject({
  stage: z.literal('ava'),
  name: common.name,
  out: common.out,
  seed: common.seed,
  epochs: common.epochs,
  batch: common.batch,
  evalEvery: common.evalEvery,
  checkpointEvery: common.checkpointEvery,
  export: common.export,
  optimizer: Optimizer,
  /** The backbone model folder (a classification model or a features-only encoder). */
  backbone: z.string(),
  data: z.strictObject({
    train: z.string(),
    val: z.string().optional(),
    /** `id: name` lines; line k is head row k. */
    labels: z.string(),
    /** Folder of `<video_id>.<ext>`; default: `videos` beside the training CSV. */
    videos: z.string().optional(),
  }),
  /**
   * Clip around each keyframe: frame rate and the whole frame's short side (AVA: 4 and 256), and
   * the official AVA semantics by default: TemporalCrop offsets, floor resize + zero pad to
   * `padMultiple` (default the patch), the official pixel normalization ('backbone': the
   * backbone's), boxes enlarged by `boxEnlarge` with the +1 px convention (also for training).
   */
  clip: z
    .strictObject({
      rate: positiveInt.default(4),
      shortSide: positiveInt.default(256),
      resize: z.enum(['floor-pad', 'round-to-patch']).default('floor-pad'),
      padMultiple: positiveInt.optional(),
      normalization: z.enum(['official', 'backbone']).default('official'),
      frameOffsets: z.array(z.number().int()).optional(),
      boxEnlarge: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([0.1, 0.05]),
    })
    .default({ rate: 4, shortSide: 256, resize: 'floor-pad', normalization: 'official', boxEnlarge: [0.1, 0.05] }),
  /** The head: the final LayerNorm on the tokens and RoIAlign as torchvision aligned=False with adaptive sampling (official) by default. */
  head: z
    .strictObject({
      finalNorm: z.boolean().default(true),
      aligned: z.boolean().default(false),
      samplingRatio: z.number().int().nonnegative().default(0),
    })
    .default({ finalNorm: true, aligned: false, samplingRatio: 0 }),
  /** Person boxes below this score are dropped when the model serves (the official evaluation: 0.8). */
  personScoreThreshold: z.number().min(0).max(1).default(0),
  /** Train the encoder with the head (then `batch` counts keyframe clips, not boxes). */
  trainBackbone: z.boolean().default(false),
  /** Learning-rate factor of the encoder when trained (times layer decay). */
  backboneLrScale: z.number().positive().default(1),
  /** Where the trained encoder goes (default: `<out>-backbone`); it is served as `<name>-backbone`. */
  backboneOut: z.string().optional(),
});

export type AvaStageSpec = z.infer<typeof AvaStage>;
export type PretrainStageSpec = z.infer<typeof PretrainStage>;
export type FinetuneStageSpec = z.infer<typeof FinetuneStage>;
export type DistillStageSpec = z.infer<typeof DistillStage>;
export type StageSpec = PretrainStageSpec | FinetuneStageSpec | DistillStageSpec;

const RecipeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  description: z.string().optional(),
  seed: z.number().int().nonnegative().default(0),
  stages: z.array(z.unknown()).min(1),
});

export const STAGE_KINDS = ['pretrain', 'finetune', 'distill', 'actionformer', 'ava'] as const;

export interface Recipe {
  readonly name: string;
  readonly description?: string;
  readonly seed: number;
  readonly stages: StageSpec[];
  /** ActionFormer stages; a recipe holds these or backbone stages, not both. */
  readonly actionformer: ActionFormerStageSpec[];
  /** AVA head stages (on a frozen backbone); a recipe of their own too. */
  readonly ava: AvaStageSpec[];
  /** Folder the recipe's relative paths are resolved against. */
  readonly baseDir: string;
  /** The recipe as written, recorded in each output manifest. */
  readonly source: unknown;
}

function fieldPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out;
}

function firstIssue(prefix: string, error: z.ZodError): RecipeError {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    return new RecipeError(fieldPath(prefix, [...issue.path, issue.keys[0]!]), 'is not a known field');
  }
  return new RecipeError(fieldPath(prefix, issue.path), issue.message.replace(/^Invalid input: /, ''));
}

const STAGE_SCHEMAS = { pretrain: PretrainStage, finetune: FinetuneStage, distill: DistillStage } as const;

export function parseRecipe(raw: unknown, baseDir: string): Recipe {
  const top = RecipeSchema.safeParse(raw);
  if (!top.success) throw firstIssue('', top.error);
  const stages: StageSpec[] = [];
  const actionformer: ActionFormerStageSpec[] = [];
  const ava: AvaStageSpec[] = [];
  top.data.stages.forEach((stage, i) => {
    const field = `stages[${i}]`;
    const kind = (stage as { stage?: unknown } | null)?.stage;
    if (typeof kind !== 'string' || !(STAGE_KINDS as readonly string[]).includes(kind)) {
      throw new RecipeError(`${field}.stage`, `must be one of ${STAGE_KINDS.join(', ')} (got ${JSON.stringify(kind)})`);
    }
    if (kind === 'actionformer') {
      const parsed = ActionFormerStage.safeParse(stage);
      if (!parsed.success) throw firstIssue(field, parsed.error);
      actionformer.push(parsed.data);
    } else if (kind === 'ava') {
      const parsed = AvaStage.safeParse(stage);
      if (!parsed.success) throw firstIssue(field, parsed.error);
      ava.push(parsed.data);
    } else {
      const parsed = STAGE_SCHEMAS[kind as keyof typeof STAGE_SCHEMAS].safeParse(stage);
      if (!parsed.success) throw firstIssue(field, parsed.error);
      stages.push(parsed.data);
    }
    if (stages.length && actionformer.length) {
      throw new RecipeError(
        `${field}.stage`,
        'mixes ActionFormer and backbone stages; put them in separate recipes (the detector trains on features the backbone has already written)',
      );
    }
    if (ava.length && (stages.length || actionformer.length)) {
      throw new RecipeError(`${field}.stage`, 'mixes AVA head stages with other stages; put them in a recipe of their own');
    }
  });
  return {
    name: top.data.name,
    ...(top.data.description ? { description: top.data.description } : {}),
    seed: top.data.seed,
    stages,
    actionformer,
    ava,
    baseDir,
    source: raw,
  };
}

export function loadRecipe(file: string): Recipe {
  if (!existsSync(file)) throw new RecipeError('recipe', `file '${file}' does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RecipeError('recipe', `is not valid JSON: ${(error as Error).message}`);
  }
  return parseRecipe(raw, dirname(resolve(file)));
}

export function resolvePath(recipe: Recipe, path: string): string {
  return isAbsolute(path) ? path : resolve(recipe.baseDir, path);
}
