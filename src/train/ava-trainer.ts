/**
 * The `ava` training stage: the AVA action head (Linear over the RoI-pooled token map, sigmoid)
 * on a frozen backbone. Every ground-truth keyframe's clip goes through the backbone and the
 * head graph's pooling once (ONNX Runtime, the serving path); the head then trains in TF.js with
 * binary cross-entropy and AdamW, and each evaluation reports frame mAP at IoU 0.5 with the
 * ground-truth boxes as proposals. The output is a servable spatiotemporal model folder.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { sha256File, writeSpatiotemporalManifest } from '../config/manifest.js';
import { readAvaGroundTruth } from '../datasets/ava.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import { evaluateAva, type AvaDetection, type AvaGroundTruth } from '../eval/ava-map.js';
import { AVA_HEAD_INPUTS, AVA_HEAD_OUTPUTS, buildAvaHeadGraph, type AvaHeadConfig } from '../onnx/ava-head-graph.js';
import { exportModelFolder } from '../onnx/export-model.js';
import { writeModel } from '../onnx/serialize.js';
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import { loadModel, readActionClasses, type LoadedModel } from '../runtime/model-registry.js';
import { float32Tensor, int64Tensor } from '../runtime/tensor.js';
import { clipAround } from '../tasks/spatiotemporal/detect.js';
import { decodeFrames } from '../video/decode.js';
import { probeVideo } from '../video/probe.js';
import { packClip } from '../video/transforms.js';
import { WorkerRunner } from '../runtime/worker-runner.js';
import { fillTruncatedNormal, seededUniform } from '../weights/random-init.js';
import { writeSafetensors } from '../weights/safetensors.js';
import { AdamW } from './optimizer.js';
import { MetricsLog, type ProgressBar } from './progress.js';
import type { StageResult } from './trainer.js';
import { resolvePath, type AvaStageSpec, type Recipe } from './recipe.js';
import { shuffle, stream, STREAMS } from './rng.js';
import { learningRateAt } from './schedule.js';

export interface Keyframe { video: string; timestamp: number; boxes: AvaGroundTruth['box'][]; targets: Float32Array[] }

/** Ground-truth rows -> keyframes with their distinct boxes and multi-hot targets. */
function keyframesOf(rows: readonly AvaGroundTruth[], classIndex: ReadonlyMap<number, number>, classes: number): Keyframe[] {
  const byKey = new Map<string, Keyframe>();
  for (const r of rows) {
    const k = classIndex.get(r.actionId);
    if (k === undefined) continue;
    const key = `${r.video},${r.timestamp}`;
    const frame = byKey.get(key) ?? byKey.set(key, { video: r.video, timestamp: r.timestamp, boxes: [], targets: [] }).get(key)!;
    let i = frame.boxes.findIndex((b) => b.every((v, j) => Math.abs(v - r.box[j]!) < 1e-6));
    if (i < 0) { frame.boxes.push(r.box); frame.targets.push(new Float32Array(classes)); i = frame.boxes.length - 1; }
    frame.targets[i]![k] = 1;
  }
  return [...byKey.values()];
}

function findVideo(dir: string, id: string, field: string): string {
  const match = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(`${id}.`)) : undefined;
  if (!match) throw new InvalidParameterError(field, dir, `has no video for '${id}'`);
  return join(dir, match);
}

/** RoI-pooled features [boxes, D] of every keyframe, through the backbone and the head's pooling. */
export async function pooledFeatures(keyframes: Keyframe[], backbone: LoadedModel, pooling: WorkerRunner, videosDir: string, rate: number, field: string): Promise<Float32Array[]> {
  const a = backbone.folder.architecture;
  const size = a.imageHeight;
  const out: Float32Array[] = new Array(keyframes.length);
  const byVideo = new Map<string, number[]>();
  keyframes.forEach((k, i) => (byVideo.get(k.video) ?? byVideo.set(k.video, []).get(k.video)!).push(i));
  for (const [video, indices] of byVideo) {
    const file = findVideo(videosDir, video, field);
    const info = await probeVideo(file);
    const clips = indices.map((i) => clipAround(Math.round(keyframes[i]!.timestamp * info.fps), a.numFrames, rate, info.frameCount));
    const frames = new Map<number, Uint8Array>();
    for await (const f of decodeFrames({ file, fps: info.fps, indices: [...new Set(clips.flat())].sort((x, y) => x - y), size: { width: size, height: size } })) frames.set(f.index, f.rgb);
    const lastFrame = Math.max(...frames.keys());
    for (const [n, i] of indices.entries()) {
      const clip = new Float32Array(3 * a.numFrames * size * size);
      packClip(clips[n]!.map((x) => frames.get(Math.min(x, lastFrame))!), { width: size, height: size }, { x: 0, y: 0, size }, backbone.folder.manifest.preprocessing, clip, 0);
      const { outputs } = await backbone.runner.run({ [BACKBONE_INPUT]: float32Tensor(clip, [1, 3, a.numFrames, size, size]) }, ['tokens']);
      const boxes = keyframes[i]!.boxes;
      const rois = Float32Array.from(boxes.flatMap((b) => b.map((v) => v * size)));
      const pooled = await pooling.run({ [AVA_HEAD_INPUTS.tokens]: outputs.tokens!, [AVA_HEAD_INPUTS.rois]: float32Tensor(rois, [boxes.length, 4]), [AVA_HEAD_INPUTS.batchIndices]: int64Tensor(new Array<number>(boxes.length).fill(0)) }, [AVA_HEAD_OUTPUTS.pooled]);
      out[i] = pooled.outputs[AVA_HEAD_OUTPUTS.pooled]!.data.slice();
    }
  }
  return out;
}

export async function runAvaStage(recipe: Recipe, index: number, spec: AvaStageSpec, progress: ProgressBar): Promise<StageResult> {
  const started = Date.now();
  const field = `stages[${index}]`;
  const outDir = resolvePath(recipe, spec.out);
  const name = spec.name ?? `${recipe.name}-ava`;
  const seed = spec.seed ?? recipe.seed;
  const labelsFile = resolvePath(recipe, spec.data.labels);
  const classes = readActionClasses(labelsFile);
  const classIndex = new Map(classes.map((c, i) => [c.id, i]));
  const trainCsv = resolvePath(recipe, spec.data.train);
  const videosDir = spec.data.videos ? resolvePath(recipe, spec.data.videos) : join(dirname(trainCsv), 'videos');
  const trainRows = readAvaGroundTruth(trainCsv);
  const valRows = spec.data.val ? readAvaGroundTruth(resolvePath(recipe, spec.data.val)) : [];
  const train = keyframesOf(trainRows, classIndex, classes.length);
  const val = keyframesOf(valRows, classIndex, classes.length);
  if (train.length === 0) throw new InvalidParameterError(`${field}.data.train`, trainCsv, 'has no boxes of the classes in the label file');
  mkdirSync(outDir, { recursive: true });
  const log = new MetricsLog(join(outDir, 'metrics.jsonl'), false);

  const backbone = await loadModel(resolvePath(recipe, spec.backbone), { device: 'cpu' });
  const a = backbone.folder.architecture;
  const head: AvaHeadConfig = { embedDim: a.embedDim, grid: { t: a.numFrames / a.tubeletSize, h: a.imageHeight / a.patchSize, w: a.imageWidth / a.patchSize }, patchSize: a.patchSize, numClasses: classes.length, roiSize: 7, samplingRatio: 2 };
  // The head graph with placeholder weights serves as the pooling of the serving path.
  const poolingFile = join(outDir, '.pooling.onnx');
  writeModel(buildAvaHeadGraph(head, new Map([['head.weight', { shape: [classes.length, a.embedDim], data: new Float32Array(classes.length * a.embedDim) }], ['head.bias', { shape: [classes.length], data: new Float32Array(classes.length) }]])), poolingFile);
  const pooling = await WorkerRunner.create(poolingFile, { device: 'cpu' });
  const poolStart = Date.now();
  let trainPooled: Float32Array[];
  let valPooled: Float32Array[];
  try {
    trainPooled = await pooledFeatures(train, backbone, pooling, videosDir, spec.clip.rate, `${field}.data.videos`);
    valPooled = await pooledFeatures(val, backbone, pooling, videosDir, spec.clip.rate, `${field}.data.videos`);
  } finally {
    await pooling.close();
    await backbone.runner.close();
    rmSync(poolingFile, { force: true });
  }
  progress.line(`stage ${index} 'ava' -> ${outDir}: ${train.length} train / ${val.length} val keyframes, ${classes.length} classes, backbone '${backbone.name}' frozen (features in ${((Date.now() - poolStart) / 1000).toFixed(1)} s)`);

  // Samples are boxes: pooled feature + multi-hot target.
  const D = a.embedDim;
  const C = classes.length;
  const samples: Array<{ x: Float32Array; y: Float32Array }> = [];
  train.forEach((k, i) => k.targets.forEach((y, b) => samples.push({ x: trainPooled[i]!.subarray(b * D, (b + 1) * D), y })));
  const uniform = seededUniform(seed);
  const w0 = new Float32Array(D * C);
  fillTruncatedNormal(w0, 0.02, uniform);
  const weight = tf.variable(tf.tensor2d(w0, [D, C]), true, `ava_head_weight_${Date.now()}`);
  const bias = tf.variable(tf.zeros([C]), true, `ava_head_bias_${Date.now()}`);
  const betas = spec.optimizer.betas ?? [0.9, 0.999];
  const optimizer = new AdamW({ beta1: betas[0], beta2: betas[1], eps: spec.optimizer.eps, weightDecay: spec.optimizer.weightDecay, ...(spec.optimizer.clipGrad ? { clipGrad: spec.optimizer.clipGrad } : {}) },
    new Map([['head.weight', { variable: weight, lrScale: 1, decay: true }], ['head.bias', { variable: bias, lrScale: 1, decay: false }]]));
  const perEpoch = Math.max(1, Math.ceil(samples.length / spec.batch));
  const totalSteps = spec.epochs * perEpoch;
  const schedule = { lr: spec.optimizer.lr, minLr: spec.optimizer.minLr, warmupSteps: Math.round(spec.optimizer.warmupEpochs * perEpoch), totalSteps };
  const losses: number[] = [];
  const metrics: Record<string, number> = {};
  const evaluate = (epoch: number): void => {
    if (val.length === 0) return;
    const scores = tf.tidy(() => tf.sigmoid(tf.add(tf.matMul(tf.tensor2d(concat(valPooled), [valPooled.reduce((s, p) => s + p.length, 0) / D, D]), weight), bias)).dataSync());
    const detections: AvaDetection[] = [];
    let row = 0;
    val.forEach((k) => k.boxes.forEach((box) => {
      classes.forEach((c, j) => detections.push({ video: k.video, timestamp: k.timestamp, box, actionId: c.id, score: scores[row * C + j]! }));
      row++;
    }));
    const result = evaluateAva(valRows, detections, { classes: classes.map((c) => c.id), detectionsPerFrame: Infinity });
    metrics['frame_mAP@0.5'] = result.mAP;
    log.write({ type: 'eval', stage: 'ava', epoch, frame_mAP: result.mAP, apPerClass: result.apPerClass });
    progress.line(`epoch ${epoch} held-out frame mAP@0.5 ${(100 * result.mAP).toFixed(1)} (${val.length} keyframes, ground-truth boxes)`);
  };

  let order: number[] = [];
  for (let step = 0; step < totalSteps; step++) {
    const t0 = Date.now();
    const epochIndex = Math.floor(step / perEpoch);
    if (step % perEpoch === 0) order = shuffle(samples.map((_, i) => i), stream(seed, STREAMS.order, epochIndex));
    const picks = order.slice((step % perEpoch) * spec.batch, (step % perEpoch + 1) * spec.batch);
    const lr = learningRateAt(schedule, step);
    const [lossTensor, normTensor] = tf.tidy(() => {
      const x = tf.tensor2d(concat(picks.map((i) => samples[i]!.x)), [picks.length, D]);
      const y = tf.tensor2d(concat(picks.map((i) => samples[i]!.y)), [picks.length, C]);
      return optimizer.step(() => tf.losses.sigmoidCrossEntropy(y, tf.add(tf.matMul(x, weight), bias)) as tf.Scalar, lr);
    });
    const loss = (await lossTensor!.data())[0]!;
    tf.dispose([lossTensor!, normTensor!]);
    if (!Number.isFinite(loss)) throw new ServiceError(500, 'training_diverged', `stage ${index} 'ava': loss became ${loss} at step ${step + 1}`);
    losses.push(loss);
    const done = step + 1;
    const epoch = Math.floor(step / perEpoch) + 1;
    log.write({ type: 'step', stage: 'ava', step: done, epoch, loss, lr, step_ms: Date.now() - t0 });
    progress.step({ stage: 'ava', step: done, totalSteps, epoch, epochs: spec.epochs, loss, lr, stepMs: Date.now() - t0 });
    if ((done % perEpoch === 0 || done === totalSteps) && (epoch % spec.evalEvery === 0 || done === totalSteps)) evaluate(epoch);
  }
  const tail = losses.slice(-Math.max(1, Math.min(20, Math.floor(losses.length / 4) || 1)));
  metrics.train_loss = tail.reduce((s, v) => s + v, 0) / tail.length;

  // Save: head.weight as PyTorch's [classes, D], the labels, the manifest; export the head graph.
  const wData = (await weight.data()) as Float32Array;
  const torchWeight = new Float32Array(C * D);
  for (let j = 0; j < D; j++) for (let k = 0; k < C; k++) torchWeight[k * D + j] = wData[j * C + k]!;
  writeSafetensors(join(outDir, 'weights.safetensors'), new Map([['head.weight', { shape: [C, D], data: torchWeight }], ['head.bias', { shape: [C], data: (await bias.data()) as Float32Array }]]), { format: 'pt', arch: 'ava_head' });
  copyFileSync(labelsFile, join(outDir, 'labels.txt'));
  writeSpatiotemporalManifest(outDir, {
    schemaVersion: 1, name, task: 'spatiotemporal-detection',
    description: `AVA head stage ${index} of recipe '${recipe.name}', on backbone '${backbone.name}' (frozen)`,
    head: { embedDim: D, numClasses: C, roiSize: 7, samplingRatio: 2, patchSize: a.patchSize, grid: head.grid },
    backbone: backbone.name,
    clip: { numFrames: a.numFrames, rate: spec.clip.rate, size: a.imageHeight },
    labels: { file: 'labels.txt', set: recipe.name },
    files: { weights: { path: 'weights.safetensors', sha256: await sha256File(join(outDir, 'weights.safetensors')) }, onnx: { path: 'model.onnx' } },
    provenance: { source: 'training', trained: true, seed, recipe: { name: recipe.name, stageIndex: index, stage: spec, steps: totalSteps, backbone: relative(outDir, resolvePath(recipe, spec.backbone)) }, metrics },
  });
  if (spec.export) await exportModelFolder(outDir);
  weight.dispose();
  bias.dispose();
  optimizer.dispose();
  log.write({ type: 'done', stage: 'ava', steps: totalSteps, metrics, seconds: (Date.now() - started) / 1000 });
  return { stage: 'ava', outDir, steps: totalSteps, completed: true, losses, metrics, seconds: (Date.now() - started) / 1000 };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
