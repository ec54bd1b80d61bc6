/**
 * Classification, step 1: from request options and the model's manifest to a sampling protocol
 * and the preprocessing it needs. No I/O.
 */
import type { ModelFolder } from '../../config/manifest.js';
import { InvalidParameterError } from '../../errors.js';
import { resolveProtocol, type ProtocolName, type ProtocolOverrides, type SamplingProtocol } from '../../video/sampling.js';
import type { Preprocessing } from '../../video/views.js';

export interface ClassifyOptions extends ProtocolOverrides {
  /** Model name; the registry's default when absent. */
  model?: string;
  topK?: number;
  protocol?: ProtocolName;
  /** Also give each clip's scores for the ranked labels. */
  clipScores?: boolean;
}

export const DEFAULT_TOP_K = 5;

export function chooseProtocol(folder: ModelFolder, options: ClassifyOptions): SamplingProtocol {
  const frames = folder.architecture.numFrames;
  const { numClips, numCrops, samplingRate } = options;
  // A preset's clip length is the model's own unless the request names one.
  const numFrames = options.numFrames ?? frames;
  const protocol = resolveProtocol(options.protocol ?? folder.manifest.sampling.protocol, { numClips, numCrops, numFrames, samplingRate });
  if (protocol.numFrames !== frames) {
    throw new InvalidParameterError(
      'numFrames',
      protocol.numFrames,
      `must be ${frames}, the clip length model '${folder.manifest.name}' was exported for`,
    );
  }
  return protocol;
}

export function modelPreprocessing(folder: ModelFolder): Preprocessing {
  const { mean, std, shortSide, cropSize } = folder.manifest.preprocessing;
  return { mean, std, shortSide, cropSize };
}
