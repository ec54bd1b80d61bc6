/**
 * The `ava` training stage: the AVA action head (Linear over the RoI-pooled token map, sigmoid)
 * on a backbone, frozen by default: then every ground-truth keyframe's clip goes through the
 * backbone and the head graph's pooling once (ONNX Runtime, the serving path) and the head
 * trains on those features. With `trainBackbone` the encoder trains with it in TF.js (RoiAlign as
 * a matrix, see roi-align-matrix.ts) and is written as its own model folder. Binary cross-entropy
 * and AdamW; each evaluation reports frame mAP at IoU 0.5 with the ground-truth boxes as
 * proposals. The output is a servable spatiotemporal model folder.
 */
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tokenGrid } from '../config/architectures.js';
import {
  readModelFolder,
  sha256File,
  writeSpatiotemporalManifest,
  type ModelFolder,
  type SpatiotemporalManifest,
} from '../config/manifest.js';
import { readAvaGroundTruth } from '../datasets/ava.js';
import { InvalidParameterError } from '../errors.js';
import { evaluateAva, type AvaDetection, type AvaGroundTruth } from '../eval/ava-map.js';
import { AVA_HEAD_OUTPUTS, buildAvaHeadGraph, type AvaHeadConfig } from '../onnx/ava-head-graph.js';
import { exportSpatiotemporalFolder, exportVitFolder } from '../onnx/export-model.js';
import { writeModel } from '../onnx/serialize.js';
import { BACKBONE_INPUT } from '../onnx/vit-graph.js';
import { readActionClasses } from '../config/labels.js';
import { loadModel, type LoadedModel } from '../runtime/model-registry.js';
import { float32Tensor } from '../runtime/tensor.js';
import {
  avaFrameGeometry,
  avaRois,
  clipFrames,
  clipNormalization,
  frameOffsetsOf,
  officialFrameOffsets,
  OFFICIAL_AVA_PIXEL_MEAN,
  OFFICIAL_AVA_PIXEL_STD,
  type AvaBoxSpec,
} from '../video/ava-clip.js';
import { clipsInOrder, neededFrames } from '../tasks/spatiotemporal/clip-stream.js';
import { headFeeds } from '../tasks/spatiotemporal/head-inputs.js';
import type { Size } from '../video/geometry.js';
import { decodeFrames } from '../video/decode.js';
import { probeVideo } from '../video/probe.js';
import { packFramesPadded, type Normalization } from '../video/transforms.js';
import { WorkerRunner } from '../runtime/worker-runner.js';
import { fillTruncatedNormal, seededUniform } from '../weights/random-init.js';
import { createModelFolder } from '../weights/create-model.js';
import { resizePositionTable } from '../weights/position-resize.js';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.js';
import { sinusoidTable } from '../weights/sinusoid-table.js';
import { epochOrder } from './batches.js';
import type { LoadedCheckpoint } from './checkpoint.js';
import { concatFloat32 } from './concat.js';
import { multiLabelBce } from './losses.js';
import { maxFirst } from './ops.js';
import type { ParameterGroup } from './optimizer.js';
import { ParameterStore } from './parameter-store.js';
import { inputPatches, patchVectorLength } from './patchify.js';
import { roiAlignMatrix } from './roi-align-matrix.js';
import { layerDecayScale, usesWeightDecay } from './schedule.js';
import { encode } from './vit.js';
import type { ProgressBar } from './progress.js';
import type { StageResult, TrainOptions } from './stage-result.js';
import { resolvePath, type AvaStageSpec, type Recipe } from './recipe.js';
import {
  groupTensors,
  refuseInit,
  restoreGroups,
  trainStages,
  type Evaluation,
  type LoopStage,
  type StageDefinition,
  type StepWork,
} from './stage-loop.js';

export interface Keyframe {
  video: string;
  timestamp: number;
  boxes: AvaGroundTruth['box'][];
  targets: Float32Array[];
}

/** Ground-truth rows -> keyframes with their distinct boxes and multi-hot targets. */
function keyframesOf(rows: readonly AvaGroundTruth[], classIndex: ReadonlyMap<number, number>, classes: number): Keyframe[] {
  const byKey = new Map<string, Keyframe>();
  for (const r of rows) {
    const k = classIndex.get(r.actionId);
    if (k === undefined) continue;
    const key = `${r.video},${r.timestamp}`;
    const frame = byKey.get(key) ?? byKey.set(key, { video: r.video, timestamp: r.timestamp, boxes: [], targets: [] }).get(key)!;
    let i = frame.boxes.findIndex((b) => b.every((v, j) => Math.abs(v - r.box[j]!) < 1e-6));
    if (i < 0) {
      frame.boxes.push(r.box);
      frame.targets.push(new Float32Array(classes));
      i = frame.boxes.length - 1;
    }
    frame.targets[i]![k] = 1;
  }
  return [...byKey.values()];
}

function findVideo(dir: string, id: string, field: string): string {
  const match = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(`${id}.`)) : undefined;
  if (!match) throw new InvalidParameterError(field, dir, `has no video for '${id}'`);
  return join(dir, match);
}

/** How a keyframe becomes the head's input: the manifest's clip and box semantics (ava-clip.ts) and the normalization in 0-1 units. */
export interface ClipSettings {
  readonly numFrames: number;
  readonly rate: number;
  readonly shortSide: number;
  readonly patchSize: number;
  readonly preprocessing: Normalization;
  readonly frameOffsets: readonly number[];
  readonly resize: SpatiotemporalManifest['clip']['resize'];
  readonly padMultiple?: number;
  readonly boxes: AvaBoxSpec;
}

/** The clip settings a served model folder implies (what serving does, for the training path to match). */
export function clipSettingsOf(manifest: SpatiotemporalManifest, backbone: Normalization): ClipSettings {
  const c = manifest.clip;
  return {
    numFrames: c.numFrames,
    rate: c.rate,
    shortSide: c.shortSide,
    patchSize: manifest.head.patchSize,
    preprocessing: clipNormalization(c, backbone),
    frameOffsets: frameOffsetsOf(c),
    resize: c.resize,
    ...(c.padMultiple ? { padMultiple: c.padMultiple } : {}),
    boxes: manifest.boxes,
  };
}

interface KeyframeClip {
  index: number;
  input: Size;
  content: Size;
  original: Size;
  clip: Float32Array;
}

/**
 * Every keyframe's clip as the serving path builds it: the whole frame resized as the manifest
 * says (ava-clip.ts), normalized, zero-padded, [3, T, H, W]. Each video is decoded once, in
 * order, holding only the frames clips still need (clip-stream.ts).
 */
async function* keyframeClips(
  keyframes: readonly Keyframe[],
  videosDir: string,
  c: ClipSettings,
  field: string,
): AsyncGenerator<KeyframeClip> {
  const byVideo = new Map<string, number[]>();
  keyframes.forEach((k, i) => (byVideo.get(k.video) ?? byVideo.set(k.video, []).get(k.video)!).push(i));
  for (const [video, unordered] of byVideo) {
    const file = findVideo(videosDir, video, field);
    const info = await probeVideo(file);
    const { content, input } = avaFrameGeometry(info, c, c.patchSize);
    const indices = [...unordered].sort((x, y) => keyframes[x]!.timestamp - keyframes[y]!.timestamp);
    const clips = indices.map((i) => clipFrames(Math.round(keyframes[i]!.timestamp * info.fps), c.frameOffsets, info.frameCount));
    const decoded = decodeFrames({ file, fps: info.fps, indices: neededFrames(clips), source: info, size: content });
    const original = { width: info.width, height: info.height };
    for await (const { clip, frames } of clipsInOrder(decoded, clips)) {
      yield { index: indices[clip]!, input, content, original, clip: packFramesPadded(frames, content, input, c.preprocessing) };
    }
  }
}

function boxesOf(k: Keyframe): Float32Array {
  return Float32Array.from(k.boxes.flat());
}

/** RoI-pooled features [boxes, D] of every keyframe, through the ONNX backbone and the head's pooling (the serving path). */
export async function pooledFeatures(
  keyframes: Keyframe[],
  backbone: LoadedModel,
  pooling: WorkerRunner,
  videosDir: string,
  c: ClipSettings,
  field: string,
): Promise<Float32Array[]> {
  const out: Float32Array[] = new Array(keyframes.length);
  for await (const { index, input, content, original, clip } of keyframeClips(keyframes, videosDir, c, field)) {
    const { outputs } = await backbone.runner.run(
      { [BACKBONE_INPUT]: float32Tensor(clip, [1, 3, c.numFrames, input.height, input.width]) },
      ['tokens'],
    );
    const pooled = await pooling.run(
      headFeeds(outputs.tokens!, input, c.patchSize, avaRois(boxesOf(keyframes[index]!), original, content, c.boxes)),
      [AVA_HEAD_OUTPUTS.pooled],
    );
    out[index] = pooled.outputs[AVA_HEAD_OUTPUTS.pooled]!.data.slice();
  }
  return out;
}

/** What the head's training loop needs from either path: logits of some units, and held-out scores. */
interface HeadInputs {
  /** Training units: boxes (frozen backbone) or keyframes (trained backbone). */
  readonly units: number;
  /** Multi-hot targets [R, C] of the units' boxes, in the order `logits` returns them. */
  targets(picks: readonly number[]): Float32Array;
  /** Logits [R, C] of the units' boxes (inside a tidy). */
  logits(picks: readonly number[], head: { weight: tf.Variable; bias: tf.Variable }): tf.Tensor2D;
  /** Sigmoid scores [val boxes, C], keyframe by keyframe, box by box. */
  valScores(head: { weight: tf.Variable; bias: tf.Variable }): Float32Array;
  readonly trainable: Map<string, ParameterGroup>;
  /** The encoder's parameters, when it trains with the head. */
  readonly backbone?: ParameterStore;
  dispose(): void;
}

/** Frozen backbone: each box's pooled feature computed once; the head trains on those. */
function frozenHeadInputs(train: Keyframe[], trainPooled: Float32Array[], valPooled: Float32Array[], D: number): HeadInputs {
  const samples: Array<{ x: Float32Array; y: Float32Array }> = [];
  train.forEach((k, i) => k.targets.forEach((y, b) => samples.push({ x: trainPooled[i]!.subarray(b * D, (b + 1) * D), y })));
  const valX = concatFloat32(valPooled);
  return {
    units: samples.length,
    trainable: new Map(),
    targets: (picks) => concatFloat32(picks.map((i) => samples[i]!.y)),
    logits: (picks, head) =>
      tf.add(
        tf.matMul(tf.tensor2d(concatFloat32(picks.map((i) => samples[i]!.x)), [picks.length, D]), head.weight),
        head.bias,
      ) as tf.Tensor2D,
    valScores: (head) =>
      tf.tidy(
        () => tf.sigmoid(tf.add(tf.matMul(tf.tensor2d(valX, [valX.length / D, D]), head.weight), head.bias)).dataSync() as Float32Array,
      ),
    dispose: () => undefined,
  };
}

interface EncodedKeyframe {
  patches: Float32Array;
  grid: { h: number; w: number };
  rois: Float32Array;
  boxes: number;
  targets: Float32Array;
}

/**
 * Trained backbone: the encoder (train/vit.ts) runs on each keyframe's patches with the
 * positional table at its grid; the token map's temporal mean goes through RoiAlign written as
 * a matrix per box (roi-align-matrix.ts) and a max, so gradients reach the backbone.
 */
async function trainableHeadInputs(
  train: Keyframe[],
  val: Keyframe[],
  backbone: ModelFolder,
  videosDir: string,
  c: ClipSettings,
  spec: AvaStageSpec,
  field: string,
  head: AvaHeadConfig,
  norm: LayerNormVars | undefined,
): Promise<HeadInputs> {
  const a = backbone.architecture;
  const D = a.embedDim;
  const T = a.numFrames / a.tubeletSize;
  const bins = 7 * 7;
  const trained = tokenGrid(a);
  const positions = new Map<string, tf.Tensor>();
  const encodeAll = async (keyframes: Keyframe[]): Promise<EncodedKeyframe[]> => {
    const out: EncodedKeyframe[] = new Array(keyframes.length);
    for await (const { index, input, content, original, clip } of keyframeClips(keyframes, videosDir, c, field)) {
      const grid = { h: input.height / a.patchSize, w: input.width / a.patchSize };
      const geometry = { frames: a.numFrames, height: input.height, width: input.width, tubelet: a.tubeletSize, patch: a.patchSize };
      const count = T * grid.h * grid.w;
      const patches = new Float32Array(count * patchVectorLength(geometry));
      inputPatches(
        clip,
        geometry,
        Int32Array.from({ length: count }, (_, i) => i),
        patches,
      );
      const key = `${grid.h}x${grid.w}`;
      if (!positions.has(key)) {
        const table = resizePositionTable(sinusoidTable(trained.count, D), D, { t: T, from: { h: trained.h, w: trained.w }, to: grid });
        positions.set(key, tf.tensor(table, [1, count, D]));
      }
      const k = keyframes[index]!;
      const pixels = avaRois(boxesOf(k), original, content, c.boxes);
      const rois = concatFloat32(
        k.boxes.map((_, b) =>
          roiAlignMatrix(pixels.subarray(4 * b, 4 * b + 4), {
            height: grid.h,
            width: grid.w,
            size: head.roiSize,
            samplingRatio: head.samplingRatio,
            spatialScale: 1 / a.patchSize,
            aligned: head.aligned ?? true,
          }),
        ),
      );
      out[index] = { patches, grid, rois, boxes: k.boxes.length, targets: concatFloat32(k.targets) };
    }
    return out;
  };
  const trainData = await encodeAll(train);
  const valData = await encodeAll(val);
  const store = new ParameterStore(
    readSafetensors(backbone.weightsPath).tensors,
    (name) => name.startsWith('blocks.') || name.startsWith('patch_embed.'),
  );
  const layerDecay = spec.optimizer.layerDecay;
  const trainable = new Map<string, ParameterGroup>(
    store.trainableNames().map((name) => {
      const variable = store.get(name);
      return [
        `backbone.${name}`,
        {
          variable,
          lrScale: spec.backboneLrScale * (layerDecay < 1 ? layerDecayScale(name, a.depth, layerDecay) : 1),
          decay: usesWeightDecay(name, variable.shape),
        },
      ];
    }),
  );
  // Keyframes of one grid go through the encoder together; their boxes come back in pick order.
  const pooled = (data: EncodedKeyframe[], picks: readonly number[]): tf.Tensor2D => {
    const groups = new Map<string, number[]>();
    for (const i of picks) {
      const key = `${data[i]!.grid.h}x${data[i]!.grid.w}`;
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(i);
    }
    const parts = new Map<number, tf.Tensor>();
    for (const [key, members] of groups) {
      const { h, w } = data[members[0]!]!.grid;
      const n = T * h * w;
      const length = data[members[0]!]!.patches.length / n;
      const encoded = encode(
        store,
        a,
        tf.tensor3d(concatFloat32(members.map((i) => data[i]!.patches)), [members.length, n, length]),
        positions.get(key)!,
      );
      const tokens = norm ? layerNorm(encoded, norm, head.layerNormEps ?? 1e-6) : encoded;
      const maps = tf.unstack(tf.mean(tf.reshape(tokens, [members.length, T, h * w, D]), 1)); // B x [HW, D]
      members.forEach((i, b) => {
        const e = data[i]!;
        const sampled = tf.matMul(tf.tensor2d(e.rois, [e.boxes * bins, h * w]), maps[b] as tf.Tensor2D);
        parts.set(i, maxFirst(tf.reshape(sampled, [e.boxes, bins, D]) as tf.Tensor3D));
      });
    }
    return tf.concat(
      picks.map((i) => parts.get(i)!),
      0,
    ) as tf.Tensor2D;
  };
  const logits = (data: EncodedKeyframe[], picks: readonly number[], head: { weight: tf.Variable; bias: tf.Variable }): tf.Tensor2D =>
    tf.add(tf.matMul(pooled(data, picks), head.weight), head.bias) as tf.Tensor2D;
  return {
    units: trainData.length,
    trainable,
    targets: (picks) => concatFloat32(picks.map((i) => trainData[i]!.targets)),
    logits: (picks, head) => logits(trainData, picks, head),
    valScores: (head) => {
      const parts: Float32Array[] = [];
      for (let from = 0; from < valData.length; from += spec.batch) {
        const picks = Array.from({ length: Math.min(spec.batch, valData.length - from) }, (_, i) => from + i);
        parts.push(tf.tidy(() => tf.sigmoid(logits(valData, picks, head)).dataSync() as Float32Array));
      }
      return concatFloat32(parts);
    },
    backbone: store,
    dispose: () => {
      store.dispose();
      for (const p of positions.values()) p.dispose();
    },
  };
}

/**
 * The `ava` stage for the loop (stage-loop.ts). Batch k is a pure function of (seed, k): the
 * epoch's order of units (boxes, or keyframes with a trained backbone) by epochOrder, sliced.
 * Checkpoints hold the trained variables (head, final norm, encoder blocks) as AdamW sees them.
 */
export function avaStage(recipe: Recipe, index: number, spec: AvaStageSpec): StageDefinition {
  const outDir = resolvePath(recipe, spec.out);
  return { index, spec, outDir, prepare: (context) => prepareAvaStage(recipe, index, spec, outDir, context) };
}

async function prepareAvaStage(
  recipe: Recipe,
  index: number,
  spec: AvaStageSpec,
  outDir: string,
  { progress, resume }: { progress: ProgressBar; resume?: LoadedCheckpoint },
): Promise<LoopStage> {
  const field = `stages[${index}]`;
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
  const backboneDir = resolvePath(recipe, spec.backbone);
  const backboneFolder = readModelFolder(backboneDir);
  const a = backboneFolder.architecture;
  const D = a.embedDim;
  const C = classes.length;
  const head: AvaHeadConfig = {
    embedDim: D,
    temporalTokens: a.numFrames / a.tubeletSize,
    patchSize: a.patchSize,
    numClasses: C,
    roiSize: 7,
    samplingRatio: spec.head.samplingRatio,
    aligned: spec.head.aligned,
    finalNorm: spec.head.finalNorm,
    layerNormEps: a.layerNormEps,
  };
  // The clip and box semantics the served manifest will carry; training and its evaluation go through the same.
  const clipManifest: SpatiotemporalManifest['clip'] = {
    numFrames: a.numFrames,
    rate: spec.clip.rate,
    shortSide: spec.clip.shortSide,
    frameOffsets: spec.clip.frameOffsets ?? officialFrameOffsets(a.numFrames, spec.clip.rate),
    resize: spec.clip.resize,
    padMultiple: spec.clip.padMultiple ?? a.patchSize,
    ...(spec.clip.normalization === 'official'
      ? {
          normalization: {
            mean: [...OFFICIAL_AVA_PIXEL_MEAN] as [number, number, number],
            std: [...OFFICIAL_AVA_PIXEL_STD] as [number, number, number],
          },
        }
      : {}),
  };
  const boxesManifest: AvaBoxSpec = { enlarge: spec.clip.boxEnlarge, convention: 'official' };
  if (clipManifest.frameOffsets!.length !== a.numFrames)
    throw new InvalidParameterError(
      `${field}.clip.frameOffsets`,
      spec.clip.frameOffsets,
      `must list ${a.numFrames} offsets (the backbone's frames)`,
    );
  const clipSettings = clipSettingsOf(
    { clip: clipManifest, boxes: boxesManifest, head: { patchSize: a.patchSize } } as SpatiotemporalManifest,
    backboneFolder.manifest.preprocessing,
  );
  const featuresStart = Date.now();
  const norm: LayerNormVars | undefined =
    spec.trainBackbone && head.finalNorm
      ? {
          weight: tf.variable(tf.ones([D]), true, `ava_norm_weight_${Date.now()}`),
          bias: tf.variable(tf.zeros([D]), true, `ava_norm_bias_${Date.now()}`),
        }
      : undefined;
  let inputs: HeadInputs;
  if (spec.trainBackbone) {
    inputs = await trainableHeadInputs(train, val, backboneFolder, videosDir, clipSettings, spec, `${field}.data.videos`, head, norm);
  } else {
    // The head graph with placeholder weights serves as the pooling of the serving path.
    const backbone = await loadModel(backboneDir, { device: 'cpu' });
    const poolingFile = join(outDir, '.pooling.onnx');
    writeModel(
      buildAvaHeadGraph(
        head,
        new Map([
          ...identityNorm(D),
          ['head.weight', { shape: [C, D], data: new Float32Array(C * D) }],
          ['head.bias', { shape: [C], data: new Float32Array(C) }],
        ]),
      ),
      poolingFile,
    );
    const pooling = await WorkerRunner.create(poolingFile, { device: 'cpu' });
    try {
      const trainPooled = await pooledFeatures(train, backbone, pooling, videosDir, clipSettings, `${field}.data.videos`);
      const valPooled = await pooledFeatures(val, backbone, pooling, videosDir, clipSettings, `${field}.data.videos`);
      inputs = frozenHeadInputs(train, trainPooled, valPooled, D);
    } finally {
      await pooling.close();
      await backbone.runner.close();
      rmSync(poolingFile, { force: true });
    }
  }
  const backboneName = backboneFolder.manifest.name;
  progress.line(
    `stage ${index} 'ava' -> ${outDir}: ${train.length} train / ${val.length} val keyframes, ${C} classes, short side ${spec.clip.shortSide}, backbone '${backboneName}' ${spec.trainBackbone ? 'trained' : 'frozen'} (clips in ${((Date.now() - featuresStart) / 1000).toFixed(1)} s)`,
  );

  const uniform = seededUniform(seed);
  const w0 = new Float32Array(D * C);
  fillTruncatedNormal(w0, 0.02, uniform);
  const weight = tf.variable(tf.tensor2d(w0, [D, C]), true, `ava_head_weight_${Date.now()}`);
  const bias = tf.variable(tf.zeros([C]), true, `ava_head_bias_${Date.now()}`);
  const headVars = { weight, bias };
  const groups = new Map<string, ParameterGroup>([...avaHeadGroups(headVars, norm), ...inputs.trainable]);
  if (resume) restoreGroups(groups, resume.params);
  const perEpoch = Math.max(1, Math.ceil(inputs.units / spec.batch));
  const evaluate = (epoch: number): Evaluation | undefined => {
    if (val.length === 0) return undefined;
    const scores = inputs.valScores(headVars);
    const detections: AvaDetection[] = [];
    let row = 0;
    val.forEach((k) =>
      k.boxes.forEach((box) => {
        classes.forEach((c, j) =>
          detections.push({ video: k.video, timestamp: k.timestamp, box, actionId: c.id, score: scores[row * C + j]! }),
        );
        row++;
      }),
    );
    const result = evaluateAva(valRows, detections, { classes: classes.map((c) => c.id), detectionsPerFrame: Infinity });
    return {
      metrics: { 'frame_mAP@0.5': result.mAP },
      record: { frame_mAP: result.mAP, apPerClass: result.apPerClass },
      line: `epoch ${epoch} held-out frame mAP@0.5 ${(100 * result.mAP).toFixed(1)} (${val.length} keyframes, ground-truth boxes)`,
    };
  };

  let order: { epoch: number; order: number[] } | undefined;
  const step = (step: number): StepWork => {
    const epoch = Math.floor(step / perEpoch);
    if (order?.epoch !== epoch) order = { epoch, order: epochOrder(inputs.units, seed, epoch) };
    const picks = order.order.slice((step % perEpoch) * spec.batch, ((step % perEpoch) + 1) * spec.batch);
    return {
      loss: () => {
        const y = inputs.targets(picks);
        return multiLabelBce(inputs.logits(picks, headVars), tf.tensor2d(y, [y.length / C, C]));
      },
    };
  };

  const finish = async (steps: number, metrics: Record<string, number>): Promise<void> => {
    // A trained backbone becomes its own model folder beside the head (features and tokens only:
    // its classifier no longer matches the encoder).
    let servedBackbone = backboneName;
    if (inputs.backbone) {
      const store = inputs.backbone;
      const backboneOut = spec.backboneOut ? resolvePath(recipe, spec.backboneOut) : `${outDir}-backbone`;
      servedBackbone = `${name}-backbone`;
      const keep = (n: string): boolean => n.startsWith('blocks.') || n.startsWith('patch_embed.') || n.startsWith('fc_norm.');
      await createModelFolder({
        dir: backboneOut,
        name: servedBackbone,
        architecture: { ...a, numClasses: 0 },
        tensors: await store.toTensorMap(keep),
        shortSide: backboneFolder.manifest.preprocessing.shortSide,
        description: `Backbone of '${backboneName}' fine-tuned with the AVA head of stage ${index} of recipe '${recipe.name}'`,
        provenance: {
          source: 'training',
          trained: true,
          seed,
          recipe: { name: recipe.name, stageIndex: index, stage: spec, steps, init: relative(backboneOut, backboneDir) || '.' },
          metrics,
        },
      });
      if (spec.export) await exportVitFolder(backboneOut);
    }

    // The head: head.weight as PyTorch's [classes, D], the labels, the manifest; export the head graph.
    const wData = (await weight.data()) as Float32Array;
    const torchWeight = new Float32Array(C * D);
    for (let j = 0; j < D; j++) for (let k = 0; k < C; k++) torchWeight[k * D + j] = wData[j * C + k]!;
    // The final LayerNorm: trained with the encoder, else left as it starts (unit gain, zero shift), which the frozen path pooled with.
    const normTensors = !head.finalNorm
      ? []
      : norm
        ? ([
            ['norm.weight', { shape: [D], data: (await norm.weight.data()) as Float32Array }],
            ['norm.bias', { shape: [D], data: (await norm.bias.data()) as Float32Array }],
          ] as Array<[string, { shape: number[]; data: Float32Array }]>)
        : identityNorm(D);
    writeSafetensors(
      join(outDir, 'weights.safetensors'),
      new Map([
        ...normTensors,
        ['head.weight', { shape: [C, D], data: torchWeight }],
        ['head.bias', { shape: [C], data: (await bias.data()) as Float32Array }],
      ]),
      { format: 'pt', arch: 'ava_head' },
    );
    copyFileSync(labelsFile, join(outDir, 'labels.txt'));
    writeSpatiotemporalManifest(outDir, {
      schemaVersion: 1,
      name,
      task: 'spatiotemporal-detection',
      description: `AVA head stage ${index} of recipe '${recipe.name}', on backbone '${servedBackbone}' (${spec.trainBackbone ? `fine-tuned from '${backboneName}'` : 'frozen'})`,
      head: {
        embedDim: D,
        numClasses: C,
        roiSize: 7,
        samplingRatio: head.samplingRatio,
        aligned: head.aligned ?? true,
        finalNorm: head.finalNorm ?? false,
        layerNormEps: a.layerNormEps,
        patchSize: a.patchSize,
        temporalTokens: head.temporalTokens,
      },
      backbone: servedBackbone,
      clip: clipManifest,
      boxes: boxesManifest,
      postprocess: { personScoreThreshold: spec.personScoreThreshold },
      labels: { file: 'labels.txt', set: recipe.name },
      files: {
        weights: { path: 'weights.safetensors', sha256: await sha256File(join(outDir, 'weights.safetensors')) },
        onnx: { path: 'model.onnx' },
      },
      provenance: {
        source: 'training',
        trained: true,
        seed,
        recipe: { name: recipe.name, stageIndex: index, stage: spec, steps, backbone: relative(outDir, backboneDir) },
        metrics,
      },
    });
    if (spec.export) await exportSpatiotemporalFolder(outDir);
  };

  return {
    name,
    groups,
    defaultBetas: [0.9, 0.999],
    stepsPerEpoch: perEpoch,
    step,
    evaluate,
    checkpointParams: () => groupTensors(groups),
    finish,
    dispose: () => {
      weight.dispose();
      bias.dispose();
      if (norm) {
        norm.weight.dispose();
        norm.bias.dispose();
      }
      inputs.dispose();
    },
  };
}

/** norm.weight = 1, norm.bias = 0: the LayerNorm as initialized. */
function identityNorm(D: number): Array<[string, { shape: number[]; data: Float32Array }]> {
  if (D <= 0) return [];
  return [
    ['norm.weight', { shape: [D], data: new Float32Array(D).fill(1) }],
    ['norm.bias', { shape: [D], data: new Float32Array(D) }],
  ];
}

/** The trainable final LayerNorm `norm` of the official head, on [B, N, D] tokens. */
interface LayerNormVars {
  weight: tf.Variable;
  bias: tf.Variable;
}

function layerNorm(x: tf.Tensor, v: LayerNormVars, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), v.weight), v.bias);
}

/** The head's AdamW groups: weight decay on the Linear weight only, not on its bias or the final norm. */
export function avaHeadGroups(head: { weight: tf.Variable; bias: tf.Variable }, norm?: LayerNormVars): Map<string, ParameterGroup> {
  return new Map<string, ParameterGroup>([
    ['head.weight', { variable: head.weight, lrScale: 1, decay: true }],
    ['head.bias', { variable: head.bias, lrScale: 1, decay: false }],
    ...(norm
      ? ([
          ['norm.weight', { variable: norm.weight, lrScale: 1, decay: false }],
          ['norm.bias', { variable: norm.bias, lrScale: 1, decay: false }],
        ] as const)
      : []),
  ]);
}

/** A recipe of AVA head stages, resumable from a checkpoint. */
export function trainAvaRecipe(recipe: Recipe, options: TrainOptions): Promise<StageResult[]> {
  refuseInit(options, 'AVA');
  return trainStages(
    recipe,
    recipe.ava.map((spec, index) => avaStage(recipe, index, spec)),
    options,
  );
}
