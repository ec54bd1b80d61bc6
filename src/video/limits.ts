/**
 * Limits checked on ffprobe's facts before a single frame is decoded.
 */
import { TooLargeError } from '../errors.js';
import type { VideoInfo } from './probe.js';

export interface VideoLimits {
  readonly maxBytes: number;
  readonly maxDurationSec: number;
  readonly maxWidth: number;
  readonly maxHeight: number;
  readonly maxFrames: number;
}

/** Defaults in the spirit of FFmpeg's own fuzzing limits (4096 x 4096). */
export const DEFAULT_LIMITS: VideoLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxDurationSec: 4 * 3600,
  maxWidth: 4096,
  maxHeight: 4096,
  maxFrames: 4 * 3600 * 60,
};

export function checkLimits(info: VideoInfo, limits: VideoLimits): void {
  if (info.bytes > limits.maxBytes) {
    throw new TooLargeError('upload_too_large', `upload 'video' is ${info.bytes} bytes; the limit is ${limits.maxBytes}`, { parameter: 'video', value: info.bytes });
  }
  if (info.durationSec > limits.maxDurationSec) {
    throw new TooLargeError('video_too_long', `video lasts ${info.durationSec.toFixed(1)} s; the limit is ${limits.maxDurationSec} s`, { parameter: 'video', value: info.durationSec });
  }
  if (info.width > limits.maxWidth || info.height > limits.maxHeight) {
    throw new TooLargeError('video_too_large', `video is ${info.width}x${info.height}; the limit is ${limits.maxWidth}x${limits.maxHeight}`, { parameter: 'video', value: `${info.width}x${info.height}` });
  }
  if (info.frameCount > limits.maxFrames) {
    throw new TooLargeError('too_many_frames', `video has ${info.frameCount} frames; the limit is ${limits.maxFrames}`, { parameter: 'video', value: info.frameCount });
  }
}
