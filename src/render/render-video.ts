/**
 * An annotated copy of a video: every frame decoded in order (video/decode.ts), the result's
 * marks for its time drawn on it (overlays.ts), and encoded to a browser-playable H.264 MP4
 * (video/ffmpeg.ts), one frame in memory at a time. The MP4 is written beside its destination and
 * renamed when complete, so a reader never sees half a file and a failure or cancel leaves none.
 */
import { renameSync, rmSync } from 'node:fs';
import { checkDecodeBudget, probeWithinLimits, type VideoLimits } from '../video/limits.js';
import { streamFrames } from '../video/decode.js';
import { encodeFrameStream } from '../video/ffmpeg.js';
import type { VideoInfo } from '../video/probe.js';
import { marksAt, paintMarks, type Annotation } from './overlays.js';

export const RENDER_BUDGET_HINT = 'rendering decodes every frame: send a shorter or smaller video, or leave render off';

export interface RenderRequest {
  /** A local, server-owned (or the user's own) video file. */
  readonly file: string;
  /** The name the user knows the video by, for messages. */
  readonly displayName: string;
  /** Where the MP4 goes. */
  readonly out: string;
  readonly annotation: Annotation;
  readonly limits: VideoLimits;
  readonly signal?: AbortSignal;
  /** 0..1, the frames done of those the probe counts. */
  readonly onProgress?: (fraction: number) => void;
}

export interface RenderReport {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly ms: number;
}

/** The probe's limits and the decode budget of a render (every frame), before anything is decoded. */
export async function checkRenderInput(file: string, displayName: string, limits: VideoLimits, signal?: AbortSignal): Promise<VideoInfo> {
  const info = await probeWithinLimits(file, displayName, limits, signal);
  await checkDecodeBudget(file, info, [{ kind: 'stream' }], limits, RENDER_BUDGET_HINT, signal);
  return info;
}

/**
 * Draws `annotation` on every frame of `file` into `out`.
 *
 * @example
 * await renderAnnotatedVideo({ file: 'in.mp4', displayName: 'in.mp4', out: 'out.mp4', limits: DEFAULT_LIMITS,
 *   annotation: { task: 'classification', result } }); // out.mp4: in.mp4 with the top labels in its corner
 */
export async function renderAnnotatedVideo(request: RenderRequest): Promise<RenderReport> {
  const started = performance.now();
  const { signal } = request;
  const info = await checkRenderInput(request.file, request.displayName, request.limits, signal);
  const size = { width: info.width, height: info.height };
  const partial = `${request.out}.part`;
  const encoder = encodeFrameStream({ file: partial, ...size, fps: info.fps, ...(signal ? { signal } : {}) });
  let frames = 0;
  try {
    for await (const rgb of streamFrames({
      file: request.file,
      source: size,
      size,
      displayName: request.displayName,
      ...(request.limits.allowedContainers ? { formats: request.limits.allowedContainers } : {}),
      ...(signal ? { signal } : {}),
    })) {
      // Frame n is shown at n / fps (the decode passes every frame through, in order).
      paintMarks({ data: rgb, ...size }, marksAt(request.annotation, frames / info.fps, size));
      await encoder.write(rgb);
      frames++;
      request.onProgress?.(Math.min(1, frames / Math.max(1, info.frameCount)));
    }
    await encoder.end();
    signal?.throwIfAborted();
    renameSync(partial, request.out);
  } catch (error) {
    encoder.kill();
    // ffmpeg gone first, so nothing writes the file after it is removed.
    await encoder.end().catch(() => undefined);
    rmSync(partial, { force: true });
    // A cancel kills ffmpeg too; the caller hears why it was cancelled, not that ffmpeg died.
    throw signal?.aborted ? (signal.reason ?? error) : error;
  }
  return { frames, ...size, fps: info.fps, ms: Math.round(performance.now() - started) };
}
