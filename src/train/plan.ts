/**
 * Turns a parsed recipe into stage plans and checks everything that can be checked before the
 * first step: model shapes, data files and their labels, init and teacher folders, masking
 * geometry, flips on direction-sensitive labels. Failures are RecipeErrors naming the field.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decoderFor, makeArchitecture, tokenGrid, type VitArchitecture } from '../config/architectures.js';
import { readModelFolder, type ModelFolder } from '../config/manifest.js';
import { readLabels } from '../config/labels.js';
import { manifestLabels, mergeLabelSpaces, readDatasetManifest, readLabelList, type DatasetEntry } from '../datasets/manifest.js';
import { ServiceError } from '../errors.js';
import type { ProtocolName } from '../video/sampling.js';
import { resolvePath, RecipeError, type Recipe, type StageSpec } from './recipe.js';
import { maskedCount } from './masking.js';

export interface LabelledEntry extends DatasetEntry {
  /** Class index in the stage's label space; -1 for pretraining (labels unused). */
  readonly target: number;
}

export interface InitSource {
  readonly dir: string;
  readonly architecture: VitArchitecture;
  readonly labels: readonly string[];
}

export interface StagePlan {
  readonly index: number;
  readonly spec: StageSpec;
  readonly name: string;
  readonly outDir: string;
  readonly seed: number;
  readonly architecture: VitArchitecture;
  readonly labels: readonly string[];
  readonly train: readonly LabelledEntry[];
  readonly val: readonly LabelledEntry[];
  readonly protocol: ProtocolName;
  readonly shortSide: number;
  readonly flip: boolean;
  readonly init?: InitSource;
  /** Teacher of a distill stage: a model folder, or the output of an earlier stage. */
  readonly teacher?: InitSource;
}

/** Horizontal flip would change the meaning of these labels. */
export function isDirectionSensitive(label: string): boolean {
  return /(^|[^a-z])(left|right|clockwise|counterclockwise|anticlockwise)([^a-z]|$)/i.test(label);
}

function rethrowAt(field: string, action: () => VitArchitecture): VitArchitecture {
  try {
    return action();
  } catch (error) {
    if (error instanceof ServiceError && error.details.parameter)
      throw new RecipeError(`${field}.${error.details.parameter}`, error.message.replace(/^parameter '[^']*' /, ''));
    throw error;
  }
}

/** Reads a dataset manifest, reporting problems as recipe errors at `field`. */
function readManifestAt(file: string, field: string): DatasetEntry[] {
  try {
    return readDatasetManifest(file, field);
  } catch (error) {
    if (error instanceof ServiceError && error.details.parameter === field)
      throw new RecipeError(field, error.message.replace(/^parameter '[^']*' /, ''));
    throw error;
  }
}

function folderLabels(folder: ModelFolder): string[] {
  return folder.labelsPath ? readLabels(folder.labelsPath) : [];
}

function readInit(field: string, dir: string): InitSource {
  if (!existsSync(join(dir, 'model.json'))) throw new RecipeError(field, `names '${dir}', which is not a model folder (no model.json)`);
  const folder = readModelFolder(dir);
  return { dir, architecture: folder.architecture, labels: folderLabels(folder) };
}

export interface PlanOptions {
  /** --init: overrides the first stage's init. */
  readonly init?: string;
}

export function planRecipe(recipe: Recipe, options: PlanOptions = {}): StagePlan[] {
  const plans: StagePlan[] = [];
  recipe.stages.forEach((spec, index) => {
    const field = `stages[${index}]`;
    const outDir = resolvePath(recipe, spec.out);
    const name = spec.name ?? `${recipe.name}-${spec.stage}${recipe.stages.length > 1 ? `-${index}` : ''}`;
    const seed = spec.seed ?? recipe.seed;

    let init: InitSource | undefined;
    const initPath = index === 0 && options.init ? options.init : spec.init;
    if (initPath === 'previous') {
      const previous = plans[index - 1];
      if (!previous) throw new RecipeError(`${field}.init`, "is 'previous' but there is no earlier stage");
      init = { dir: previous.outDir, architecture: previous.architecture, labels: previous.labels };
    } else if (initPath) {
      init = readInit(index === 0 && options.init ? '--init' : `${field}.init`, resolvePath(recipe, initPath));
    }

    // Data and labels.
    const trainFiles = (Array.isArray(spec.data.train) ? spec.data.train : [spec.data.train]).map((p) => resolvePath(recipe, p));
    const trainFields = trainFiles.map((_, j) => (Array.isArray(spec.data.train) ? `${field}.data.train[${j}]` : `${field}.data.train`));
    const trainSets = trainFiles.map((file, j) => readManifestAt(file, trainFields[j]!));
    const valFile = spec.data.val ? resolvePath(recipe, spec.data.val) : undefined;
    const valSet = valFile ? readManifestAt(valFile, `${field}.data.val`) : [];
    const classification = spec.stage !== 'pretrain';
    let labels: string[] = [];
    if (classification) {
      if (spec.data.labels) {
        const file = resolvePath(recipe, spec.data.labels);
        if (!existsSync(file)) throw new RecipeError(`${field}.data.labels`, `names '${file}', which does not exist`);
        labels = readLabelList(file);
      } else {
        labels = mergeLabelSpaces(trainFiles.map((file, j) => manifestLabels(file, trainSets[j]!)));
      }
      if (labels.length < 2) throw new RecipeError(`${field}.data`, `gives ${labels.length} class(es); classification needs at least 2`);
    }
    const index_ = new Map(labels.map((l, i) => [l, i]));
    const attach = (entries: readonly DatasetEntry[], where: string, file: string): LabelledEntry[] =>
      entries.map((e) => {
        const target = classification ? index_.get(e.label) : -1;
        if (target === undefined)
          throw new RecipeError(
            where,
            `has label '${e.label}' (${file}:${e.line}) that is not in the label map (${labels.slice(0, 5).join(', ')}${labels.length > 5 ? ', ...' : ''})`,
          );
        return { ...e, target };
      });
    const train = trainSets.flatMap((set, j) => attach(set, trainFields[j]!, trainFiles[j]!));
    const val = valFile ? attach(valSet, `${field}.data.val`, valFile) : [];
    if (train.length < spec.batch)
      throw new RecipeError(`${field}.batch`, `is ${spec.batch} but the training data has only ${train.length} videos`);

    // Architecture.
    let architecture: VitArchitecture;
    if (init) {
      architecture = { ...init.architecture };
      const m = spec.model;
      if (m) {
        for (const key of ['numFrames', 'patchSize', 'tubeletSize', 'embedDim', 'depth', 'numHeads'] as const) {
          if (m[key] !== undefined && m[key] !== architecture[key])
            throw new RecipeError(`${field}.model.${key}`, `is ${m[key]} but the init model has ${architecture[key]}`);
        }
        if (m.imageSize !== undefined && m.imageSize !== architecture.imageHeight)
          throw new RecipeError(`${field}.model.imageSize`, `is ${m.imageSize} but the init model has ${architecture.imageHeight}`);
      }
    } else {
      const m = spec.model;
      if (!m) throw new RecipeError(`${field}.model`, 'is required when the stage has no init');
      architecture = rethrowAt(`${field}.model`, () =>
        makeArchitecture(m.arch, {
          ...(m.numFrames ? { numFrames: m.numFrames } : {}),
          ...(m.imageSize ? { imageSize: m.imageSize } : {}),
          ...(m.patchSize ? { patchSize: m.patchSize } : {}),
          ...(m.tubeletSize ? { tubeletSize: m.tubeletSize } : {}),
          ...(m.embedDim ? { embedDim: m.embedDim } : {}),
          ...(m.depth ? { depth: m.depth } : {}),
          ...(m.numHeads ? { numHeads: m.numHeads } : {}),
        }),
      );
    }
    if (spec.stage === 'pretrain') {
      const { decoder: _unused, ...encoder } = architecture;
      architecture = { ...encoder, numClasses: 0, decoder: init?.architecture.decoder ?? decoderFor(encoder, spec.model?.decoderDepth) };
      const grid = tokenGrid(architecture);
      if (maskedCount(spec.masking.encoderRatio, grid.h * grid.w) >= grid.h * grid.w) {
        throw new RecipeError(`${field}.masking.encoderRatio`, `leaves no visible patch on a ${grid.h}x${grid.w} grid`);
      }
      if (spec.masking.decoderRatio > 0) {
        const cells = maskedCount(spec.masking.decoderRatio, 4);
        if (cells < 1 || cells > 3)
          throw new RecipeError(
            `${field}.masking.decoderRatio`,
            'must be 0, or 0.25 to 0.99 (1 to 3 of the 4 cell positions kept out of reconstruction)',
          );
        if (grid.h % 2 || grid.w % 2)
          throw new RecipeError(
            `${field}.masking.decoderRatio`,
            `needs an even token grid for 2x2 running cells; the grid is ${grid.h}x${grid.w}`,
          );
      }
    } else {
      const { decoder: _unused, ...encoder } = architecture;
      architecture = { ...encoder, numClasses: labels.length };
    }

    // Classification extras.
    let flip = false;
    let teacher: InitSource | undefined;
    if (spec.stage !== 'pretrain') {
      const sensitive = labels.filter(isDirectionSensitive);
      if (spec.augment.flip === true && sensitive.length > 0) {
        throw new RecipeError(
          `${field}.augment.flip`,
          `is true but labels are direction-sensitive (${sensitive.slice(0, 3).join(', ')}); use "auto" or false`,
        );
      }
      flip = spec.augment.flip === true || (spec.augment.flip === 'auto' && sensitive.length === 0);
      if (spec.head === 'map') {
        if (!init) throw new RecipeError(`${field}.head`, "is 'map' but the stage has no init model to map from");
        const missing = labels.filter((l) => !init!.labels.includes(l));
        if (missing.length)
          throw new RecipeError(`${field}.head`, `is 'map' but the init model has no class '${missing[0]}' (${missing.length} missing)`);
      }
      if (spec.stage === 'distill') {
        const dir = resolvePath(recipe, spec.teacher);
        const earlier = spec.teacher === 'previous' ? plans[index - 1] : plans.find((p) => p.outDir === dir);
        if (spec.teacher === 'previous' && !earlier)
          throw new RecipeError(`${field}.teacher`, "is 'previous' but there is no earlier stage");
        const source: InitSource = earlier
          ? { dir: earlier.outDir, architecture: earlier.architecture, labels: earlier.labels }
          : readInit(`${field}.teacher`, dir);
        if (source.architecture.decoder || source.architecture.numClasses === 0)
          throw new RecipeError(`${field}.teacher`, 'must be a classification model (a fine-tuned folder with a head)');
        teacher = source;
        const t = source.architecture;
        if (t.numClasses !== labels.length)
          throw new RecipeError(`${field}.teacher`, `has ${t.numClasses} classes but the stage has ${labels.length} labels`);
        if (source.labels.length && source.labels.some((l, i) => l !== labels[i]))
          throw new RecipeError(`${field}.teacher`, 'has a different label order than the stage data');
        if (
          t.numFrames !== architecture.numFrames ||
          t.imageHeight !== architecture.imageHeight ||
          t.imageWidth !== architecture.imageWidth
        ) {
          throw new RecipeError(
            `${field}.teacher`,
            `takes ${t.numFrames}x${t.imageHeight}x${t.imageWidth} clips but the student takes ${architecture.numFrames}x${architecture.imageHeight}x${architecture.imageWidth}`,
          );
        }
      }
    }
    const shortSide = spec.data.shortSide ?? architecture.imageHeight;
    if (shortSide < architecture.imageHeight)
      throw new RecipeError(`${field}.data.shortSide`, `is ${shortSide}, smaller than the input size ${architecture.imageHeight}`);

    plans.push({
      index,
      spec,
      name,
      outDir,
      seed,
      architecture,
      labels,
      train,
      val,
      protocol: spec.data.protocol,
      shortSide,
      flip,
      ...(init ? { init } : {}),
      ...(teacher ? { teacher } : {}),
    });
  });
  return plans;
}
