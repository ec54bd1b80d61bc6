/** What the render tests read back from a video file: ffprobe's frame count and stream facts, one decoded frame. */
import { execFileSync } from 'node:child_process';

/** Frames ffprobe decodes and counts, and the stream's codec, pixel format and size. */
export function probeFrames(file: string): { frames: number; codec: string; pixFmt: string; width: number; height: number } {
  const json = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames,codec_name,pix_fmt,width,height',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8' },
  );
  const s = JSON.parse(json).streams[0];
  return { frames: Number(s.nb_read_frames), codec: s.codec_name, pixFmt: s.pix_fmt, width: s.width, height: s.height };
}

/** Frame `n` of `file` as RGB24. */
export function decodeFrame(file: string, n: number): Buffer {
  return execFileSync(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    {
      maxBuffer: 64 * 2 ** 20,
    },
  );
}
