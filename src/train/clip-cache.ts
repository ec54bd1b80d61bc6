/**
 * Decoded training videos, held in memory as RGB24 frames at the working size. Decoding goes
 * through src/video (the service's ffprobe + ffmpeg path, no second decoder); each video is
 * decoded once and every epoch samples and augments from memory.
 */
import { resizeShortSide } from '../video/geometry.js';
import { probeVideo } from '../video/probe.js';
import { decodeFrames } from '../video/decode.js';
import type { FrameStack } from './augment.js';

export class ClipCache {
  private readonly videos = new Map<string, FrameStack>();

  constructor(private readonly shortSide: number) {}

  get(path: string): FrameStack {
    const video = this.videos.get(path);
    if (!video) throw new Error(`video '${path}' was not loaded`);
    return video;
  }

  get size(): number {
    return this.videos.size;
  }

  /** Decodes every video not yet cached, four at a time. */
  async load(paths: readonly string[], onProgress?: (done: number, total: number) => void): Promise<void> {
    const queue = [...new Set(paths)].filter((p) => !this.videos.has(p));
    const total = queue.length;
    let done = 0;
    const worker = async (): Promise<void> => {
      for (let path = queue.shift(); path; path = queue.shift()) {
        this.videos.set(path, await this.decode(path));
        onProgress?.(++done, total);
      }
    };
    // Small videos: process start-up dominates, so a few decoders overlap.
    await Promise.all(Array.from({ length: 4 }, worker));
  }

  private async decode(path: string): Promise<FrameStack> {
    const info = await probeVideo(path);
    const size = resizeShortSide(info, this.shortSide);
    const indices = Array.from({ length: info.frameCount }, (_, i) => i);
    const frames: Uint8Array[] = [];
    for await (const frame of decodeFrames({ file: path, fps: info.fps, indices, source: info, size })) frames.push(frame.rgb);
    if (frames.length === 0) throw new Error(`video '${path}' has no decodable frames`);
    return { width: size.width, height: size.height, frames };
  }
}
