/**
 * Test-time sampling protocols of the official VideoMAE (V2) code, as pure index arithmetic.
 *
 * - `stride` (Kinetics): frames 0, r, 2r, ... over the whole video (the last one repeated while
 *   fewer than T), then clip c takes T consecutive samples from int(c * (M - T) / (clips - 1)).
 * - `segments` (Something-Something V2): the video is cut into T segments of `tick` frames;
 *   clip c takes int(tick * x + tick * c / clips) for x = 0..T-1 (with 2 clips: segment starts,
 *   then segment middles, exactly the interleaved lists of the official ssv2.py).
 */
import { InvalidParameterError } from '../errors.js';

export type ProtocolName = 'k400' | 'ssv2' | 'fast';
export type TemporalMode = 'stride' | 'segments';

export interface SamplingProtocol {
  readonly name: ProtocolName;
  readonly temporal: TemporalMode;
  readonly numClips: number;
  readonly numCrops: number;
  readonly numFrames: number;
  /** Frame stride of `stride` sampling; unused by `segments`. */
  readonly samplingRate: number;
}

export const PROTOCOLS: Readonly<Record<ProtocolName, SamplingProtocol>> = {
  k400: { name: 'k400', temporal: 'stride', numClips: 5, numCrops: 3, numFrames: 16, samplingRate: 4 },
  ssv2: { name: 'ssv2', temporal: 'segments', numClips: 2, numCrops: 3, numFrames: 16, samplingRate: 1 },
  fast: { name: 'fast', temporal: 'stride', numClips: 1, numCrops: 1, numFrames: 16, samplingRate: 4 },
};

export interface ProtocolOverrides {
  numClips?: number;
  numCrops?: number;
  numFrames?: number;
  samplingRate?: number;
}

/** A named preset with explicit parameters applied on top. */
export function resolveProtocol(name: ProtocolName, overrides: ProtocolOverrides = {}): SamplingProtocol {
  const base = PROTOCOLS[name];
  const protocol: SamplingProtocol = {
    ...base,
    numClips: overrides.numClips ?? base.numClips,
    numCrops: overrides.numCrops ?? base.numCrops,
    numFrames: overrides.numFrames ?? base.numFrames,
    samplingRate: overrides.samplingRate ?? base.samplingRate,
  };
  for (const key of ['numClips', 'numCrops', 'numFrames', 'samplingRate'] as const) {
    const value = protocol[key];
    if (!Number.isInteger(value) || value < 1) throw new InvalidParameterError(key, value, 'must be a positive integer');
  }
  return protocol;
}

/**
 * Frame indices of every clip, `[numClips][numFrames]`, always within [0, frameCount).
 *
 * @example
 * clipFrameIndices({ ...PROTOCOLS.k400, numClips: 2, numFrames: 4 }, 40)
 * // samples 0,4,...,36 (M = 10); starts 0 and 6 -> [[0,4,8,12], [24,28,32,36]]
 */
export function clipFrameIndices(protocol: SamplingProtocol, frameCount: number): number[][] {
  if (!Number.isInteger(frameCount) || frameCount < 1) {
    throw new InvalidParameterError('frameCount', frameCount, 'must be a positive integer');
  }
  return protocol.temporal === 'stride' ? strideClips(protocol, frameCount) : segmentClips(protocol, frameCount);
}

function strideClips({ numClips, numFrames, samplingRate }: SamplingProtocol, frameCount: number): number[][] {
  const samples: number[] = [];
  for (let i = 0; i < frameCount; i += samplingRate) samples.push(i);
  while (samples.length < numFrames) samples.push(samples[samples.length - 1]!);
  const spare = samples.length - numFrames;
  const clips: number[][] = [];
  for (let c = 0; c < numClips; c++) {
    // One clip: the official code divides by zero here; the centred clip is what it intends.
    const start = numClips > 1 ? Math.trunc(c * Math.max(spare / (numClips - 1), 0)) : Math.trunc(spare / 2);
    clips.push(samples.slice(start, start + numFrames));
  }
  return clips;
}

function segmentClips({ numClips, numFrames }: SamplingProtocol, frameCount: number): number[][] {
  const tick = frameCount / numFrames;
  const clips: number[][] = [];
  for (let c = 0; c < numClips; c++) {
    const offset = (tick * c) / numClips;
    clips.push(Array.from({ length: numFrames }, (_, x) => Math.min(Math.trunc(tick * x + offset), frameCount - 1)));
  }
  return clips;
}
