/**
 * Real video files made with ffmpeg at test time. The "ramp" videos encode the frame index in the
 * brightness (Y = 16 + 2 * (n mod 100)), so a decoded frame tells which frame it was.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface VideoSpec {
  readonly name: string;
  readonly codecArgs: string[];
}

/** Several containers and codecs ffmpeg (Debian build) writes. */
export const CONTAINERS: readonly VideoSpec[] = [
  { name: 'h264.mp4', codecArgs: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p'] },
  { name: 'vp9.webm', codecArgs: ['-c:v', 'libvpx-vp9', '-lossless', '1', '-deadline', 'realtime', '-cpu-used', '8'] },
  { name: 'mjpeg.avi', codecArgs: ['-c:v', 'mjpeg', '-q:v', '1', '-pix_fmt', 'yuvj444p'] },
  { name: 'mpeg4.mkv', codecArgs: ['-c:v', 'mpeg4', '-q:v', '1'] },
  { name: 'h264.mov', codecArgs: ['-c:v', 'libx264', '-crf', '1', '-bf', '3', '-g', '50'] },
];

export class VideoFactory {
  readonly dir = mkdtempSync(join(tmpdir(), 'videomae-videos-'));

  private run(args: string[]): void {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** `frames` frames at `fps`, brightness ramp by frame index. */
  ramp(spec: VideoSpec, frames = 300, fps = 25, width = 64, height = 48): string {
    const file = join(this.dir, `ramp-${frames}-${width}x${height}-${spec.name}`);
    this.run([
      '-f',
      'lavfi',
      '-i',
      `nullsrc=s=${width}x${height}:r=${fps},geq=lum='16+2*mod(N\\,100)':cb=128:cr=128`,
      '-frames:v',
      String(frames),
      ...spec.codecArgs,
      file,
    ]);
    return file;
  }

  /** A moving test pattern, closer to real footage (used by the HTTP tests). */
  pattern(name: string, seconds: number, size = '320x240', fps = 25, codecArgs = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']): string {
    const file = join(this.dir, name);
    this.run(['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}:duration=${seconds}`, ...codecArgs, file]);
    return file;
  }

  text(name: string, content: string | Buffer): string {
    const file = join(this.dir, name);
    writeFileSync(file, content);
    return file;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Frame index (mod 100) read back from a ramp frame's first pixel. */
export function rampIndex(rgb: Uint8Array): number {
  return Math.round((rgb[0]! * 219) / 255 / 2);
}
