/**
 * The only module that starts ffmpeg or ffprobe (decoding through fluent-ffmpeg). Arguments are
 * fixed arrays (never a shell), stdin is closed, only local files and pipes are readable, only the
 * allowed demuxers may open the input (so an HLS playlist or a concat list never makes ffmpeg read
 * the files it names), and every process is killed when its AbortSignal fires, its time runs out
 * or its consumer stops reading.
 */
import { execFile } from 'node:child_process';
import ffmpeg from 'fluent-ffmpeg';
import { PassThrough, type Readable } from 'node:stream';

if (process.env.FFMPEG_PATH) ffmpeg.setFfmpegPath(process.env.FFMPEG_PATH);

export type ProbeData = ffmpeg.FfprobeData;

let failures = 0;

/** ffmpeg and ffprobe runs that failed on their own (not killed by us), since the process started. */
export function ffmpegFailures(): number {
  return failures;
}

/** Longest a probe may take (a hostile file can make the demuxer crawl). */
export const PROBE_TIMEOUT_MS = 20_000;

export interface ProbeOptions {
  /** ffprobe options such as -count_packets. */
  readonly extraArgs?: readonly string[];
  /** Demuxers allowed to open the file (FFmpeg's format_whitelist). */
  readonly formats: readonly string[];
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs ffprobe on a local file (a server-made path) and parses its JSON. Spawned directly rather
 * than through fluent-ffmpeg so that a timeout and an AbortSignal can kill it.
 */
export function ffprobe(file: string, options: ProbeOptions): Promise<ProbeData> {
  const args = [
    '-v', 'error', '-protocol_whitelist', 'file', '-format_whitelist', options.formats.join(','),
    '-print_format', 'json', '-show_format', '-show_streams', ...(options.extraArgs ?? []), file,
  ];
  return new Promise((resolve, reject) => {
    const child = execFile(process.env.FFPROBE_PATH || 'ffprobe', args, {
      timeout: options.timeoutMs ?? PROBE_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024,
      ...(options.signal ? { signal: options.signal } : {}),
    }, (error, stdout, stderr) => {
      if (error) {
        if (!options.signal?.aborted) failures++;
        reject(new Error(lastLines(stderr) || error.message));
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { streams?: ProbeData['streams']; format?: ProbeData['format'] };
        resolve({ streams: parsed.streams ?? [], format: parsed.format ?? {}, chapters: [] });
      } catch (parseError) {
        reject(parseError as Error);
      }
    });
    // ffprobe has no -nostdin: its stdin is closed instead.
    child.stdin?.end();
  });
}

export interface RawDecodeRequest {
  readonly file: string;
  /** Seconds to seek (input option -ss, accurate seek) before decoding; 0 decodes from the start. */
  readonly seekSeconds: number;
  /** The -vf filter chain; must end in format=rgb24. */
  readonly filter: string;
  /** Stop after this many output frames. */
  readonly maxFrames: number;
  /** Demuxers allowed to open the file (FFmpeg's format_whitelist). */
  readonly formats: readonly string[];
  readonly signal?: AbortSignal;
}

export interface RawDecodeProcess {
  /** Raw rgb24 frames, back to back. */
  readonly stdout: Readable;
  /** Resolves when ffmpeg exits; rejects with its stderr tail when it fails. */
  readonly done: Promise<void>;
  kill(): void;
}

/** Spawns ffmpeg writing raw RGB24 frames of the first video stream to a pipe. */
export function decodeRawFrames(request: RawDecodeRequest): RawDecodeProcess {
  const inputOptions = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,pipe', '-format_whitelist', request.formats.join(',')];
  if (request.seekSeconds > 0) inputOptions.push('-ss', request.seekSeconds.toFixed(6));
  const command = ffmpeg(request.file)
    .inputOptions(inputOptions)
    .outputOptions([
      '-map', '0:v:0', '-an', '-sn', '-dn',
      '-vf', request.filter,
      '-fps_mode', 'passthrough',
      '-frames:v', String(request.maxFrames),
      '-pix_fmt', 'rgb24',
    ])
    .format('rawvideo');

  let settled = false;
  let killed = false;
  const kill = (): void => {
    if (settled || killed) return;
    killed = true;
    command.kill('SIGKILL');
  };
  const done = new Promise<void>((resolve, reject) => {
    command.on('end', () => {
      settled = true;
      resolve();
    });
    command.on('error', (error: Error, _stdout: string | null, stderr: string | null) => {
      settled = true;
      if (killed) resolve();
      else {
        failures++;
        reject(new Error(lastLines(stderr) || error.message));
      }
    });
  });
  const onAbort = (): void => kill();
  request.signal?.addEventListener('abort', onAbort, { once: true });
  void done.finally(() => request.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  const stdout = command.pipe() as Readable;
  return { stdout, done, kill };
}

function lastLines(text: string | null | undefined, count = 3): string {
  return (text ?? '').trim().split('\n').slice(-count).join(' | ');
}

export interface RawEncodeRequest {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** RGB24 frames, each width * height * 3 bytes. */
  readonly frames: readonly Uint8Array[];
  /** Output codec options; H.264 in yuv420p by default (what cameras and phones write). */
  readonly codecOptions?: readonly string[];
}

/** Encodes raw RGB24 frames (fed through stdin) into a video file. */
export function encodeRawFrames(request: RawEncodeRequest): Promise<void> {
  const input = new PassThrough();
  const done = new Promise<void>((resolve, reject) => {
    ffmpeg(input)
      .inputOptions(['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${request.width}x${request.height}`, '-r', String(request.fps)])
      .outputOptions([...(request.codecOptions ?? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']), '-an'])
      .on('error', (error: Error) => reject(new Error(`ffmpeg could not encode '${request.file}': ${error.message}`)))
      .on('end', () => resolve())
      .save(request.file);
  });
  for (const frame of request.frames) input.write(frame);
  input.end();
  return done;
}
