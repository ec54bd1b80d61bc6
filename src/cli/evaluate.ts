/**
 * `videomae evaluate`: top-1/top-5 of a model on a labelled manifest, `evaluate temporal` (mAP per
 * tIoU of ActivityNet-style files) and `evaluate ava` (frame mAP at IoU 0.5 of AVA CSVs).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BUNDLED_LABELS_DIR } from '../config/labels.js';
import { ServiceError } from '../errors.js';
import type { ClassifyOptions } from '../tasks/classify/prepare.js';
import { BUNDLED_MODELS_DIR, deviceOption, positiveInt, protocolOption } from './options.js';
import { loadModel } from '../runtime/model-registry.js';
import { loadRegistry } from './registry.js';

export function addEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      'top-1 / top-5 of a served model on a dataset manifest (the /classify path: ffmpeg + ONNX Runtime); ' +
        "'evaluate temporal' scores detections against ActivityNet-style ground truth (mAP per tIoU); " +
        "'evaluate ava' gives AVA frame mAP at IoU 0.5",
    )
    .argument('<target>', "CSV with path,label; or 'temporal'; or 'ava'")
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name>', 'model to use (default: the default model)')
    .option(
      '--reference <modelDir>',
      'also run every view through this model folder (say the float32 export of an int8 model) and report top-1 agreement per view and the max probability difference',
    )
    .addOption(protocolOption())
    .option('--num-clips <n>', 'clips per video', positiveInt)
    .option('--num-crops <n>', 'crops per clip', positiveInt)
    .addOption(deviceOption())
    .option(
      '--ground-truth <file>',
      'temporal: ActivityNet-style annotations {database: {video: {subset, duration, annotations}}}; ava: the ground-truth CSV',
    )
    .option('--predictions <file>', 'temporal: ActivityNet results {results: {video: [{segment, label, score}]}}; ava: the detections CSV')
    .option(
      '--labels <file>',
      "ava: the evaluated classes ('id: name' lines or the official .pbtxt)",
      join(BUNDLED_LABELS_DIR, 'ava_v2.2_evaluated_60.txt'),
    )
    .option('--exclusions <file>', 'ava: keyframes to leave out (video_id, timestamp)')
    .option('--subset <name>', 'temporal: only ground truth of this subset (e.g. validation)')
    .option('--tiou <thresholds>', 'temporal: tIoU thresholds, a range from:to:step or a list', '0.3:0.7:0.1')
    .action(async (target: string, flags) => {
      if (target === 'temporal') {
        await evaluateTemporal(flags);
        return;
      }
      if (target === 'ava') {
        await evaluateAvaFiles(flags);
        return;
      }
      const { evaluateManifest } = await import('../tasks/classify/evaluate.js');
      const registry = await loadRegistry(flags.models, { device: flags.device }, flags.model);
      const reference = flags.reference ? await loadModel(resolve(flags.reference), { device: flags.device }) : undefined;
      try {
        const options: ClassifyOptions = {};
        if (flags.protocol) options.protocol = flags.protocol;
        if (flags.numClips) options.numClips = flags.numClips;
        if (flags.numCrops) options.numCrops = flags.numCrops;
        const result = await evaluateManifest(resolve(target), registry.resolve(flags.model), options, reference);
        console.log(JSON.stringify(result, null, 2));
      } finally {
        await reference?.runner.close();
        await registry.close();
      }
    });
}

async function evaluateAvaFiles(flags: { groundTruth?: string; predictions?: string; labels: string; exclusions?: string }): Promise<void> {
  const { evaluateAva } = await import('../eval/ava-map.js');
  const { readAvaClassIds, readAvaDetections, readAvaExclusions, readAvaGroundTruth } = await import('../datasets/ava.js');
  for (const [flag, value] of [
    ['--ground-truth', flags.groundTruth],
    ['--predictions', flags.predictions],
  ] as const) {
    if (!value) throw new ServiceError(400, 'missing_parameter', `evaluate ava needs ${flag} <file>`, { parameter: flag });
    if (!existsSync(value)) throw new ServiceError(400, 'file_not_found', `${flag} '${value}' does not exist`, { parameter: flag });
  }
  const result = evaluateAva(readAvaGroundTruth(flags.groundTruth!), readAvaDetections(flags.predictions!), {
    classes: readAvaClassIds(flags.labels),
    ...(flags.exclusions ? { excluded: readAvaExclusions(flags.exclusions) } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
}

async function evaluateTemporal(flags: { groundTruth?: string; predictions?: string; subset?: string; tiou: string }): Promise<void> {
  const { evaluateTemporalDetection, parseThresholds } = await import('../eval/temporal-map.js');
  const { groundTruthInstances, readActivityNetAnnotations, readActivityNetResults } = await import('../datasets/activitynet.js');
  for (const name of ['groundTruth', 'predictions'] as const) {
    const flag = name === 'groundTruth' ? '--ground-truth' : '--predictions';
    if (!flags[name]) throw new ServiceError(400, 'missing_parameter', `evaluate temporal needs ${flag} <file>`, { parameter: flag });
    if (!existsSync(flags[name]!))
      throw new ServiceError(400, 'file_not_found', `${flag} '${flags[name]}' does not exist`, { parameter: flag });
  }
  let thresholds: number[];
  try {
    thresholds = parseThresholds(flags.tiou);
  } catch (error) {
    throw new ServiceError(400, 'invalid_parameter', `parameter '--tiou' ${(error as Error).message}`, {
      parameter: '--tiou',
      value: flags.tiou,
    });
  }
  const groundTruth = groundTruthInstances(readActivityNetAnnotations(flags.groundTruth!), flags.subset);
  if (groundTruth.length === 0) {
    throw new ServiceError(
      400,
      'invalid_parameter',
      `'${flags.groundTruth}' has no annotations${flags.subset ? ` in subset '${flags.subset}'` : ''}`,
      { parameter: '--subset', value: flags.subset },
    );
  }
  const result = evaluateTemporalDetection(groundTruth, readActivityNetResults(flags.predictions!), thresholds);
  console.log(JSON.stringify(result, null, 2));
}
