/**
 * Sliding-clip backbone features of a whole video, as the official TAD feature extraction does
 * them: clips of the backbone's `numFrames` frames every `featureStride` frames at the video's
 * own fps, starting at frame 0, each through the backbone's `features` output. Frames arrive as
 * a stream and only the last `numFrames` are held, so memory does not grow with the video.
 */
import { BACKBONE_INPUT } from '../../onnx/vit-graph.js';
import type { LoadedModel } from '../../runtime/model-registry.js';
import { float32Tensor } from '../../runtime/tensor.js';
import { streamFrames } from '../../video/decode.js';
import type { DecodePass } from '../../video/decode-budget.js';
import type { Size } from '../../video/geometry.js';
import { packClip, type Normalization } from '../../video/transforms.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../weights/create-model.js';
import { InternalError } from '../../errors.js';
import type { FeatureNormalization, FeatureSettings } from '../../datasets/feature-index.js';

export const NORMALIZATIONS: Readonly<Record<FeatureNormalization, Normalization>> = {
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
  imagenet: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
};

/** The official settings for a backbone: its clip length and input size, stride 4, pixels / 255. */
export function defaultFeatureSettings(model: LoadedModel, overrides: Partial<FeatureSettings> = {}): FeatureSettings {
  const a = model.folder.architecture;
  return { numFrames: a.numFrames, featureStride: 4, size: a.imageHeight, normalization: 'unit', ...overrides };
}

/**
 * Clip starts for a video of `frameCount` frames: 0, stride, 2 x stride, ... while a whole clip
 * fits; a video shorter than one clip gives one clip (its last frame repeated).
 *
 * @example
 * featureClipStarts(40, 16, 4) // -> [0, 4, 8, 12, 16, 20, 24]
 */
export function featureClipStarts(frameCount: number, numFrames: number, stride: number): number[] {
  if (frameCount <= 0) return [];
  if (frameCount < numFrames) return [0];
  return Array.from({ length: Math.floor((frameCount - numFrames) / stride) + 1 }, (_, i) => i * stride);
}

/** The decoding extractFeatures does, for the decode budget: every frame, as one stream. */
export const FEATURE_DECODE_PASSES: readonly DecodePass[] = [{ kind: 'stream' }];

export interface FeatureProgress {
  readonly framesDecoded: number;
  readonly clipsDone: number;
}

export interface FeatureRequest {
  readonly file: string;
  /** The video's frame size as probed (VideoInfo width x height). */
  readonly source: Size;
  readonly displayName?: string;
  readonly model: LoadedModel;
  readonly settings: FeatureSettings;
  /** Clips per ONNX Runtime run. */
  readonly maxBatch: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: FeatureProgress) => void;
}

export interface VideoFeatures {
  /** `[T, D]`: row i is the clip starting at frame i x featureStride. */
  readonly features: Float32Array;
  readonly clips: number;
  readonly dim: number;
  readonly frames: number;
  readonly settings: FeatureSettings;
}

export async function extractFeatures(request: FeatureRequest): Promise<VideoFeatures> {
  const { settings, model } = request;
  const a = model.folder.architecture;
  if (settings.numFrames !== a.numFrames || settings.size !== a.imageHeight || settings.size !== a.imageWidth) {
    throw new InternalError(
      `feature clips of ${settings.numFrames}x${settings.size}x${settings.size} do not fit backbone '${model.name}' (${a.numFrames}x${a.imageHeight}x${a.imageWidth})`,
    );
  }
  const { numFrames, featureStride, size } = settings;
  const dim = a.embedDim;
  const clipLength = 3 * numFrames * size * size;
  const norm = NORMALIZATIONS[settings.normalization];
  const box = { x: 0, y: 0, size };
  const frameSize = { width: size, height: size };
  const rows: Float32Array[] = [];
  let clipsDone = 0;
  let framesDecoded = 0;
  let inFlight: Promise<void> = Promise.resolve();
  // Two batch buffers: one being packed while the other's run is in flight.
  const buffers = [new Float32Array(request.maxBatch * clipLength), new Float32Array(request.maxBatch * clipLength)];
  let current = 0;
  let filled = 0;

  const submit = (): void => {
    const count = filled;
    const video = float32Tensor(buffers[current]!.subarray(0, count * clipLength), [count, 3, numFrames, size, size]);
    inFlight = inFlight.then(async () => {
      const { outputs } = await model.runner.run({ [BACKBONE_INPUT]: video }, ['features']);
      const out = outputs.features;
      if (!out || out.dims[0] !== count || out.dims[1] !== dim) {
        throw new InternalError(`backbone '${model.name}' returned features [${out?.dims.join(', ')}], expected [${count}, ${dim}]`);
      }
      rows.push(out.data.slice());
      clipsDone += count;
      request.onProgress?.({ framesDecoded, clipsDone });
    });
    current = 1 - current;
    filled = 0;
  };
  const addClip = async (frames: readonly Uint8Array[]): Promise<void> => {
    packClip(frames, frameSize, box, norm, buffers[current]!, filled * clipLength);
    filled++;
    if (filled === request.maxBatch) {
      await inFlight; // the other buffer's run is done: at most one run waits while we decode
      submit();
    }
  };

  try {
    const window: Uint8Array[] = [];
    const stream = streamFrames({
      file: request.file,
      source: request.source,
      size: frameSize,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.displayName ? { displayName: request.displayName } : {}),
    });
    for await (const frame of stream) {
      window.push(frame);
      if (window.length > numFrames) window.shift();
      framesDecoded++;
      const start = framesDecoded - numFrames;
      if (start >= 0 && start % featureStride === 0) await addClip(window);
    }
    if (framesDecoded > 0 && framesDecoded < numFrames) {
      // Shorter than one clip: repeat the last frame, as the official loaders do.
      while (window.length < numFrames) window.push(window[window.length - 1]!);
      await addClip(window);
    }
    if (filled > 0) {
      await inFlight;
      submit();
    }
    await inFlight;
  } catch (error) {
    await inFlight.catch(() => undefined); // never leave a run's failure unobserved
    throw error;
  }
  const features = new Float32Array(clipsDone * dim);
  let offset = 0;
  for (const row of rows) {
    features.set(row, offset);
    offset += row.length;
  }
  return { features, clips: clipsDone, dim, frames: framesDecoded, settings };
}
