/**
 * Builds training and evaluation batches on typed arrays: sample frames, crop, normalize,
 * patchify, mask. Every random choice of step s comes from streams keyed by (seed, s), and the
 * order of epoch e from (seed, e), so a resumed run sees the same batches.
 */
import { tokenGrid, type VitArchitecture } from '../config/architectures.js';
import { sinusoidTable } from '../weights/sinusoid-table.js';
import { resolveProtocol, clipFrameIndices, type ProtocolName, type SamplingProtocol } from '../video/sampling.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../weights/create-model.js';
import {
  betaSample,
  cropResizeNormalize,
  randomColourTransform,
  multiScaleCropBox,
  randomResizedCropBox,
  trainFrameIndices,
  type Box,
  type FrameStack,
} from './augment.js';
import { indicesWhere, maskedCount, runningCellMask, tubeMask } from './masking.js';
import { inputPatches, patchVectorLength, targetPatches, type PatchGeometry } from './patchify.js';
import type { LabelledEntry } from './plan.js';
import { randomInt, type Uniform } from '../weights/random-init.js';
import { shuffle, stream, STREAMS } from './rng.js';
import type { ClipCache } from './clip-cache.js';

export function geometryOf(config: VitArchitecture): PatchGeometry {
  return {
    frames: config.numFrames,
    height: config.imageHeight,
    width: config.imageWidth,
    tubelet: config.tubeletSize,
    patch: config.patchSize,
  };
}

/** Sample order of an epoch: a seeded permutation, the same on every run. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  return shuffle(
    Array.from({ length: count }, (_, i) => i),
    stream(seed, STREAMS.order, epoch),
  );
}

export interface BatchSource {
  readonly entries: readonly LabelledEntry[];
  readonly cache: ClipCache;
  readonly config: VitArchitecture;
  readonly protocol: ProtocolName;
  readonly seed: number;
  readonly batch: number;
}

export function stepsPerEpoch(source: BatchSource): number {
  return Math.floor(source.entries.length / source.batch);
}

/** One clip of the model's length under the stage's sampling preset. */
function samplingOf(source: Pick<BatchSource, 'config' | 'protocol'>): SamplingProtocol {
  return resolveProtocol(source.protocol, { numFrames: source.config.numFrames, numClips: 1, numCrops: 1 });
}

/** The last epoch order drawn: every step of an epoch reuses it instead of reshuffling. */
let cachedOrder: { count: number; seed: number; epoch: number; order: number[] } | undefined;

function cachedEpochOrder(count: number, seed: number, epoch: number): number[] {
  if (!cachedOrder || cachedOrder.count !== count || cachedOrder.seed !== seed || cachedOrder.epoch !== epoch) {
    cachedOrder = { count, seed, epoch, order: epochOrder(count, seed, epoch) };
  }
  return cachedOrder.order;
}

/** The batch's entries at a global step. */
export function batchEntries(source: BatchSource, step: number): LabelledEntry[] {
  const perEpoch = stepsPerEpoch(source);
  const epoch = Math.floor(step / perEpoch);
  const order = cachedEpochOrder(source.entries.length, source.seed, epoch);
  const offset = (step % perEpoch) * source.batch;
  return order.slice(offset, offset + source.batch).map((i) => source.entries[i]!);
}

function clipLength(config: VitArchitecture): number {
  return 3 * config.numFrames * config.imageHeight * config.imageWidth;
}

/** A normalized training clip [3, T, S, S] with random frames, crop and optional flip. */
function trainClip(
  video: FrameStack,
  source: BatchSource,
  crop: (v: FrameStack, u: Uniform) => Box,
  flip: boolean,
  colour: number,
  uniform: Uniform,
  out: Float32Array,
): void {
  const indices = trainFrameIndices(samplingOf(source), video.frames.length, uniform);
  const box = crop(video, uniform);
  const mirrored = flip && uniform() < 0.5;
  cropResizeNormalize(
    video,
    indices,
    box,
    source.config.imageHeight,
    mirrored,
    IMAGENET_MEAN,
    IMAGENET_STD,
    out,
    randomColourTransform(colour, uniform),
  );
}

/** The serving view: the centred clip, centre crop of the short side. */
export function evalClip(video: FrameStack, source: Pick<BatchSource, 'config' | 'protocol'>, out: Float32Array): void {
  const indices = clipFrameIndices(samplingOf(source), video.frames.length)[0]!;
  const side = Math.min(video.width, video.height);
  const box = { x: Math.floor((video.width - side) / 2), y: Math.floor((video.height - side) / 2), width: side, height: side };
  cropResizeNormalize(video, indices, box, source.config.imageHeight, false, IMAGENET_MEAN, IMAGENET_STD, out);
}

export interface ClassificationBatch {
  /** [B, N, P] patch vectors of every token. */
  readonly patches: Float32Array;
  /** [B, C] soft targets (label smoothing, mixup/cutmix applied). */
  readonly targets: Float32Array;
  /** Hard labels, for accuracy. */
  readonly labels: Int32Array;
  /** Normalized clips [B, 3, T, S, S] (kept for a teacher with another patch size). */
  readonly clips: Float32Array;
}

export interface ClassificationAugment {
  readonly scale: readonly [number, number];
  readonly ratio: readonly [number, number];
  readonly flip: boolean;
  /** Colour augmentation strength, 0 = off. */
  readonly colour: number;
  readonly labelSmoothing: number;
  readonly mixup: number;
  readonly cutmix: number;
  readonly numClasses: number;
}

export function classificationBatch(source: BatchSource, step: number, augment: ClassificationAugment): ClassificationBatch {
  const { config, batch } = source;
  const geometry = geometryOf(config);
  const grid = tokenGrid(config);
  const p = patchVectorLength(geometry);
  const entries = batchEntries(source, step);
  const clipSize = clipLength(config);
  const clips = new Float32Array(batch * clipSize);
  const patches = new Float32Array(batch * grid.count * p);
  const all = Int32Array.from({ length: grid.count }, (_, i) => i);
  const crop = (v: FrameStack, u: Uniform): Box => randomResizedCropBox(v.width, v.height, augment.scale, augment.ratio, u);
  entries.forEach((entry, b) => {
    const clip = clips.subarray(b * clipSize, (b + 1) * clipSize);
    trainClip(source.cache.get(entry.path), source, crop, augment.flip, augment.colour, stream(source.seed, STREAMS.sample, step, b), clip);
  });
  const labels = Int32Array.from(entries, (e) => e.target);
  const targets = smoothedTargets(labels, augment.numClasses, augment.labelSmoothing);
  mixBatch(clips, targets, source, step, augment);
  for (let b = 0; b < batch; b++)
    inputPatches(clips.subarray(b * clipSize, (b + 1) * clipSize), geometry, all, patches, b * grid.count * p);
  return { patches, targets, labels, clips };
}

export function smoothedTargets(labels: Int32Array, classes: number, smoothing: number): Float32Array {
  const out = new Float32Array(labels.length * classes).fill(smoothing / classes);
  labels.forEach((label, b) => {
    out[b * classes + label] = 1 - smoothing + smoothing / classes;
  });
  return out;
}

/**
 * timm-style batch mixing against the reversed batch: mixup blends whole clips with
 * lam ~ Beta(a, a); cutmix pastes a box (whole frames in time) and sets lam by its area. One of
 * the two is chosen per step when both are on. Targets mix with the same lam.
 */
function mixBatch(clips: Float32Array, targets: Float32Array, source: BatchSource, step: number, augment: ClassificationAugment): void {
  if (augment.mixup <= 0 && augment.cutmix <= 0) return;
  const uniform = stream(source.seed, STREAMS.mix, step);
  const useCutmix = augment.cutmix > 0 && (augment.mixup <= 0 || uniform() < 0.5);
  let lam = betaSample(useCutmix ? augment.cutmix : augment.mixup, uniform);
  const { batch, config } = source;
  const size = config.imageHeight;
  const clipSize = clipLength(config);
  const original = clips.slice();
  const plane = size * size;
  let box: Box | undefined;
  if (useCutmix) {
    const cut = Math.sqrt(1 - lam);
    const w = Math.round(size * cut);
    const cx = randomInt(uniform, size);
    const cy = randomInt(uniform, size);
    const x0 = Math.max(0, cx - Math.floor(w / 2));
    const y0 = Math.max(0, cy - Math.floor(w / 2));
    const x1 = Math.min(size, cx + Math.ceil(w / 2));
    const y1 = Math.min(size, cy + Math.ceil(w / 2));
    box = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    lam = 1 - (box.width * box.height) / plane;
  }
  for (let b = 0; b < batch; b++) {
    const other = batch - 1 - b;
    const dst = clips.subarray(b * clipSize, (b + 1) * clipSize);
    const src = original.subarray(other * clipSize, (other + 1) * clipSize);
    if (box) {
      for (let ct = 0; ct < clipSize / plane; ct++) {
        for (let y = box.y; y < box.y + box.height; y++) {
          const row = ct * plane + y * size;
          dst.set(src.subarray(row + box.x, row + box.x + box.width), row + box.x);
        }
      }
    } else {
      for (let i = 0; i < clipSize; i++) dst[i] = lam * original[b * clipSize + i]! + (1 - lam) * src[i]!;
    }
  }
  const classes = augment.numClasses;
  const mixed = targets.slice();
  for (let b = 0; b < batch; b++) {
    const other = batch - 1 - b;
    for (let c = 0; c < classes; c++) mixed[b * classes + c] = lam * targets[b * classes + c]! + (1 - lam) * targets[other * classes + c]!;
  }
  targets.set(mixed);
}

export interface PretrainBatch {
  readonly visiblePatches: Float32Array;
  readonly visiblePositions: Float32Array;
  readonly decoderVisiblePositions: Float32Array;
  readonly decoderMaskPositions: Float32Array;
  readonly targets: Float32Array;
  readonly weights: Float32Array;
  readonly visibleCount: number;
  readonly maskCount: number;
}

export interface MaskingSpec {
  readonly encoderRatio: number;
  readonly decoderRatio: number;
}

/** Sinusoid tables of the encoder and decoder widths, computed once per stage. */
export function positionTables(config: VitArchitecture): { encoder: Float32Array; decoder: Float32Array } {
  const n = tokenGrid(config).count;
  return { encoder: sinusoidTable(n, config.embedDim), decoder: sinusoidTable(n, config.decoder!.embedDim) };
}

function gatherRows(table: Float32Array, width: number, rows: ArrayLike<number>, out: Float32Array, offset: number): void {
  for (let i = 0; i < rows.length; i++) out.set(table.subarray(rows[i]! * width, (rows[i]! + 1) * width), offset + i * width);
}

/**
 * One pretraining batch: tube mask for the encoder, running-cell mask for the decoder (ratio 0:
 * the decoder reconstructs exactly the encoder-masked tokens, as VideoMAE v1). The loss weight is
 * 1 on tokens masked for the encoder and reconstructed.
 */
export function pretrainBatch(
  source: BatchSource,
  step: number,
  masking: MaskingSpec,
  tables: { encoder: Float32Array; decoder: Float32Array },
): PretrainBatch {
  const { config, batch } = source;
  const geometry = geometryOf(config);
  const grid = tokenGrid(config);
  const p = patchVectorLength(geometry);
  const d = config.embedDim;
  const dd = config.decoder!.embedDim;
  const entries = batchEntries(source, step);
  const clipSize = clipLength(config);
  const clip = new Float32Array(clipSize);
  const perFrame = grid.h * grid.w;
  const visibleCount = (perFrame - maskedCount(masking.encoderRatio, perFrame)) * grid.t;
  const maskCount =
    masking.decoderRatio > 0 ? grid.count - maskedCount(masking.decoderRatio, 4) * (grid.count / 4) : grid.count - visibleCount;
  const out: PretrainBatch = {
    visiblePatches: new Float32Array(batch * visibleCount * p),
    visiblePositions: new Float32Array(batch * visibleCount * d),
    decoderVisiblePositions: new Float32Array(batch * visibleCount * dd),
    decoderMaskPositions: new Float32Array(batch * maskCount * dd),
    targets: new Float32Array(batch * maskCount * p),
    weights: new Float32Array(batch * maskCount),
    visibleCount,
    maskCount,
  };
  const crop = (v: FrameStack, u: Uniform): Box => multiScaleCropBox(v.width, v.height, u);
  entries.forEach((entry, b) => {
    const uniform = stream(source.seed, STREAMS.sample, step, b);
    trainClip(source.cache.get(entry.path), source, crop, false, 0, uniform, clip);
    const maskUniform = stream(source.seed, STREAMS.mask, step, b);
    const encoderMask = tubeMask(grid, masking.encoderRatio, maskUniform);
    const decoderMask =
      masking.decoderRatio > 0
        ? runningCellMask(grid, masking.decoderRatio, randomInt(maskUniform, 4))
        : Uint8Array.from(encoderMask, (m) => 1 - m);
    const visible = indicesWhere(encoderMask, 0);
    const reconstructed = indicesWhere(decoderMask, 0);
    inputPatches(clip, geometry, visible, out.visiblePatches, b * visibleCount * p);
    gatherRows(tables.encoder, d, visible, out.visiblePositions, b * visibleCount * d);
    gatherRows(tables.decoder, dd, visible, out.decoderVisiblePositions, b * visibleCount * dd);
    gatherRows(tables.decoder, dd, reconstructed, out.decoderMaskPositions, b * maskCount * dd);
    targetPatches(clip, geometry, reconstructed, IMAGENET_MEAN, IMAGENET_STD, out.targets, b * maskCount * p);
    reconstructed.forEach((token, i) => {
      out.weights[b * maskCount + i] = encoderMask[token]!;
    });
  });
  return out;
}

/** Evaluation batches over a split: every clip once, in order, the last batch possibly short. */
export function* evalBatches(
  entries: readonly LabelledEntry[],
  cache: ClipCache,
  config: VitArchitecture,
  protocol: ProtocolName,
  batch: number,
): Generator<{ patches: Float32Array; clips: Float32Array; labels: Int32Array; size: number }> {
  const geometry = geometryOf(config);
  const grid = tokenGrid(config);
  const p = patchVectorLength(geometry);
  const clipSize = clipLength(config);
  const all = Int32Array.from({ length: grid.count }, (_, i) => i);
  for (let start = 0; start < entries.length; start += batch) {
    const chunk = entries.slice(start, start + batch);
    const clips = new Float32Array(chunk.length * clipSize);
    const patches = new Float32Array(chunk.length * grid.count * p);
    chunk.forEach((entry, b) => {
      const clip = clips.subarray(b * clipSize, (b + 1) * clipSize);
      evalClip(cache.get(entry.path), { config, protocol }, clip);
      inputPatches(clip, geometry, all, patches, b * grid.count * p);
    });
    yield { patches, clips, labels: Int32Array.from(chunk, (e) => e.target), size: chunk.length };
  }
}
