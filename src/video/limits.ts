/**
 * Limits checked on ffprobe's facts before a single frame is decoded.
 */
import { DecodeBudgetError, TooLargeError, UnsupportedMediaError } from '../errors.js';
import { budgetMessage, estimateDecode, seekTargets, type DecodeEstimate, type DecodePass } from './decode-budget.js';
import { DEFAULT_CODECS, DEFAULT_CONTAINERS } from './formats.js';
import { probeSeekKeyframes, probeVideo, type VideoInfo } from './probe.js';

export interface VideoLimits {
  readonly maxBytes: number;
  readonly maxDurationSec: number;
  readonly maxWidth: number;
  readonly maxHeight: number;
  readonly maxFrames: number;
  /** Streams of any kind in the container (default 16). */
  readonly maxStreams?: number;
  /** ffprobe demuxer names (any of a comma-separated format_name) we accept. */
  readonly allowedContainers?: readonly string[];
  /** ffprobe codec names of the video stream we accept. */
  readonly allowedCodecs?: readonly string[];
  /** Most decode work one request may ask for, in decoded pixels (decode-budget.ts; default 16e9). */
  readonly maxDecodePixels?: number;
}

/** Defaults in the spirit of FFmpeg's own fuzzing limits (4096 x 4096). */
export const DEFAULT_LIMITS: VideoLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxDurationSec: 4 * 3600,
  maxWidth: 4096,
  maxHeight: 4096,
  maxFrames: 4 * 3600 * 60,
  maxStreams: 16,
  // 16 G decoded pixels (decode-budget.ts): about 16 s of CPU (user + sys) on the 2-core build
  // machine for static H.264, 40 s for moving 1080p. Estimate / measured total CPU of `videomae
  // predict` (about 7 s of it starting node and the model) with the default model's protocol:
  // a 10-minute 1080p video 6.8 G / 23 s; a one-hour 4096x4096 one (19 MB) 49 G / 55 s; a 16x16
  // stream of 100000 frames with one keyframe (1.3 MB) 40 G / 55 s. vtest.avi is at most 0.9 G
  // with any protocol or temporal detection, 1.3 G with spatiotemporal detection.
  // (Measured with per-group seeks, before the decode plans: the 16x16 stream is now one pass, 5 G.)
  maxDecodePixels: 16e9,
};

export function checkLimits(info: VideoInfo, limits: VideoLimits): void {
  const containers = limits.allowedContainers ?? DEFAULT_CONTAINERS;
  if (!info.container.split(',').some((name) => containers.includes(name))) {
    throw new UnsupportedMediaError(
      'unsupported_container',
      `upload 'video' is a '${info.container}' file, which is not a video container this service accepts (${containers.join(', ')})`,
      { parameter: 'video', value: info.container },
    );
  }
  const codecs = limits.allowedCodecs ?? DEFAULT_CODECS;
  if (!codecs.includes(info.codec)) {
    throw new UnsupportedMediaError(
      'unsupported_codec',
      `upload 'video' uses the '${info.codec}' codec, which this service does not accept (${codecs.join(', ')})`,
      { parameter: 'video', value: info.codec },
    );
  }
  if (info.bytes > limits.maxBytes) {
    throw new TooLargeError('upload_too_large', `upload 'video' is ${info.bytes} bytes; the limit is ${limits.maxBytes}`, {
      parameter: 'video',
      value: info.bytes,
    });
  }
  if (info.durationSec > limits.maxDurationSec) {
    throw new TooLargeError('video_too_long', `video lasts ${info.durationSec.toFixed(1)} s; the limit is ${limits.maxDurationSec} s`, {
      parameter: 'video',
      value: info.durationSec,
    });
  }
  if (info.width > limits.maxWidth || info.height > limits.maxHeight) {
    throw new TooLargeError(
      'video_too_large',
      `video is ${info.width}x${info.height}; the limit is ${limits.maxWidth}x${limits.maxHeight}`,
      { parameter: 'video', value: `${info.width}x${info.height}` },
    );
  }
  const maxStreams = limits.maxStreams ?? DEFAULT_LIMITS.maxStreams!;
  if (info.streamCount > maxStreams) {
    throw new TooLargeError('too_many_streams', `video has ${info.streamCount} streams; the limit is ${maxStreams}`, {
      parameter: 'video',
      value: info.streamCount,
    });
  }
  if (info.frameCount > limits.maxFrames) {
    throw new TooLargeError('too_many_frames', `video has ${info.frameCount} frames; the limit is ${limits.maxFrames}`, {
      parameter: 'video',
      value: info.frameCount,
    });
  }
}

/**
 * ffprobe (only the accepted demuxers may open the file) and the limits, before any decoding:
 * what every request path runs first on an upload.
 */
export async function probeWithinLimits(file: string, displayName: string, limits: VideoLimits, signal?: AbortSignal): Promise<VideoInfo> {
  const info = await probeVideo(file, displayName, limits.allowedContainers ?? DEFAULT_CONTAINERS, signal);
  checkLimits(info, limits);
  return info;
}

/**
 * Refuses (413 decode_budget_exceeded) a request whose decoding would cost more than
 * `limits.maxDecodePixels`, before any decoding. The first estimate assumes every seek decodes
 * from frame 0 (the cheaper plan so counted bounds the one decodeFrames runs); only when that is
 * over the limit does ffprobe find the keyframes the seeks would land on, and the estimate is made
 * again from them, of the plan the decoder then chooses. `hint` says what the client can change.
 */
export async function checkDecodeBudget(
  file: string,
  info: VideoInfo,
  passes: readonly DecodePass[],
  limits: VideoLimits,
  hint: string,
  signal?: AbortSignal,
): Promise<DecodeEstimate> {
  const limit = limits.maxDecodePixels ?? DEFAULT_LIMITS.maxDecodePixels!;
  let estimate = estimateDecode(info, passes);
  const targets = seekTargets(info, passes);
  if (estimate.pixels > limit && targets.length > 0) {
    const keyframes = await probeSeekKeyframes(file, info.fps, targets, limits.allowedContainers ?? DEFAULT_CONTAINERS, signal);
    if (keyframes) estimate = estimateDecode(info, passes, keyframes);
  }
  if (estimate.pixels > limit) throw new DecodeBudgetError(budgetMessage(estimate, limit, hint), estimate.pixels);
  return estimate;
}
