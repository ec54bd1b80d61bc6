/**
 * The only module that starts ffmpeg or ffprobe, always through src/process/spawn-child.ts (so
 * none outlives a killed server). Arguments are fixed arrays (never a shell), stdin is /dev/null
 * (or the frames to encode), only local files and pipes are readable, only the allowed demuxers
 * may open the input (so an HLS playlist or a concat list never makes ffmpeg read the files it
 * names), and every process is killed when its AbortSignal fires, its time runs out or its
 * consumer stops reading. fluent-ffmpeg runs nothing (only its types are used): it spawns through
 * its own child_process call, and `ffmpeg -encoders` / `-formats` behind the scenes, out of reach
 * of a prefix or a process group.
 */
import type { Readable } from 'node:stream';
import type ffmpeg from 'fluent-ffmpeg';
import { spawnChild, type RunningChild } from '../process/spawn-child.js';

const ffmpegPath = (): string => process.env.FFMPEG_PATH || 'ffmpeg';
const ffprobePath = (): string => process.env.FFPROBE_PATH || 'ffprobe';

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

/** Most JSON a probe may print (a file with absurdly many streams is refused, not buffered). */
const PROBE_MAX_OUTPUT = 16 * 1024 * 1024;

/** Runs ffprobe on a local file (a server-made path) and parses its JSON. */
export async function ffprobe(file: string, options: ProbeOptions): Promise<ProbeData> {
  const parsed = (await runProbe(['-show_format', '-show_streams', ...(options.extraArgs ?? [])], file, options)) as {
    streams?: ProbeData['streams'];
    format?: ProbeData['format'];
  };
  return { streams: parsed.streams ?? [], format: parsed.format ?? {}, chapters: [] };
}

/** A packet as ffprobe prints it (times in seconds, as strings). */
export interface ProbedPacket {
  readonly pts_time?: string;
  readonly dts_time?: string;
  readonly flags?: string;
}

/**
 * The first video packet ffprobe reads after seeking to each of `seconds` (absolute times, one
 * -read_intervals entry each): its seek goes back to a keyframe, as ffmpeg's -ss does.
 */
export async function ffprobeSeekPackets(file: string, seconds: readonly number[], options: ProbeOptions): Promise<ProbedPacket[]> {
  const intervals = seconds.map((t) => `${t.toFixed(6)}%+#1`).join(',');
  const parsed = (await runProbe(
    ['-select_streams', 'v:0', '-read_intervals', intervals, '-show_entries', 'packet=pts_time,dts_time,flags'],
    file,
    options,
  )) as { packets?: ProbedPacket[] };
  return parsed.packets ?? [];
}

/** ffprobe with `args` on `file`, its JSON output parsed. */
async function runProbe(args: readonly string[], file: string, options: ProbeOptions): Promise<unknown> {
  const argv = [
    '-v',
    'error',
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    options.formats.join(','),
    '-print_format',
    'json',
    ...args,
    file,
  ];
  if (options.signal?.aborted) throw new Error('ffprobe not started: aborted');
  // ffprobe has no -nostdin: its stdin is /dev/null instead.
  const run = spawnChild(ffprobePath(), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = run.process.stdout!;
  stdout.setEncoding('utf8');
  let json = '';
  let limit: string | undefined;
  stdout.on('data', (chunk: string) => {
    if (limit) return;
    json += chunk;
    if (json.length > PROBE_MAX_OUTPUT) {
      limit = `ffprobe printed more than ${PROBE_MAX_OUTPUT} bytes`;
      run.kill();
    }
  });
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const timer = setTimeout(() => {
    limit ??= `ffprobe took longer than ${timeoutMs} ms`;
    run.kill();
  }, timeoutMs);
  const onAbort = (): void => run.kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const outcome = await finished(run, 'ffprobe', [stdout, run.process.stderr!]);
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  const error = limit ?? outcome.error?.message;
  if (error !== undefined) {
    if (!options.signal?.aborted) failures++;
    throw new Error(lastLines(outcome.stderr) || error);
  }
  return JSON.parse(json) as unknown;
}

/** What a finished child left: `error` says how it failed (undefined when it exited 0). */
interface Outcome {
  readonly error?: Error;
  /** The end of its stderr. */
  readonly stderr: string;
}

const STDERR_TAIL = 64 * 1024;

/**
 * Resolves once the child has exited and `streams` have closed (those the caller reads to the
 * end; not a stdout the consumer may stop reading), with fluent-ffmpeg's wording of a failure.
 */
function finished(run: RunningChild, name: string, streams: readonly Readable[]): Promise<Outcome> {
  const child = run.process;
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  return new Promise((resolve) => {
    let exit: Error | null | undefined; // undefined while it runs, null once it exited 0
    let open = streams.length;
    const settle = (): void => {
      if (exit !== undefined && open === 0) resolve({ ...(exit ? { error: exit } : {}), stderr });
    };
    for (const stream of streams)
      stream.once('close', () => {
        open--;
        settle();
      });
    // A child that could not be started: no exit follows, nor output worth waiting for.
    child.once('error', (error) => {
      exit = error;
      open = 0;
      settle();
    });
    child.once('exit', (code, signal) => {
      exit = signal ? new Error(`${name} was killed with signal ${signal}`) : code ? new Error(`${name} exited with code ${code}`) : null;
      settle();
    });
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
  const inputOptions = [
    '-nostdin',
    '-hide_banner',
    '-loglevel',
    'error',
    '-protocol_whitelist',
    'file,pipe',
    '-format_whitelist',
    request.formats.join(','),
  ];
  if (request.seekSeconds > 0) inputOptions.push('-ss', request.seekSeconds.toFixed(6));
  const run = spawnChild(
    ffmpegPath(),
    [
      ...inputOptions,
      '-i',
      request.file,
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-vf',
      request.filter,
      '-fps_mode',
      'passthrough',
      '-frames:v',
      String(request.maxFrames),
      '-pix_fmt',
      'rgb24',
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );

  let settled = false;
  let killed = false;
  const kill = (): void => {
    if (settled || killed) return;
    killed = true;
    run.kill();
  };
  const done = finished(run, 'ffmpeg', [run.process.stderr!]).then((outcome) => {
    settled = true;
    if (!outcome.error || killed) return;
    failures++;
    throw new Error(lastLines(outcome.stderr) || outcome.error.message);
  });
  const onAbort = (): void => kill();
  if (request.signal?.aborted) kill();
  else request.signal?.addEventListener('abort', onAbort, { once: true });
  void done.finally(() => request.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  return { stdout: run.process.stdout!, done, kill };
}

function lastLines(text: string | null | undefined, count = 3): string {
  return (text ?? '').trim().split('\n').slice(-count).join(' | ');
}

/** ffmpeg's input side for RGB24 frames piped through stdin, overwriting the output. */
function rawRgbInput(size: { readonly width: number; readonly height: number; readonly fps: number }): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${size.width}x${size.height}`,
    '-r',
    String(size.fps),
    '-i',
    'pipe:0',
    '-y',
  ];
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
export async function encodeRawFrames(request: RawEncodeRequest): Promise<void> {
  const run = spawnChild(ffmpegPath(), [
    ...rawRgbInput(request),
    ...(request.codecOptions ?? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']),
    '-an',
    request.file,
  ]);
  const { stdin, stdout, stderr } = run.process;
  // An ffmpeg that dies early breaks the pipe; its exit status and stderr say why.
  stdin!.on('error', () => undefined);
  stdout!.resume();
  const outcome = finished(run, 'ffmpeg', [stderr!]);
  for (const frame of request.frames) stdin!.write(frame);
  stdin!.end();
  const { error, stderr: tail } = await outcome;
  if (error) throw new Error(`ffmpeg could not encode '${request.file}': ${error.message}${lastLines(tail) ? `: ${lastLines(tail)}` : ''}`);
}

export interface EncodeStreamRequest {
  /** Where the MP4 goes (written as it comes: rename it when done). */
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly signal?: AbortSignal;
}

export interface FrameEncoder {
  /** Queues one RGB24 frame; resolves once ffmpeg can take more (the pipe's backpressure). */
  write(frame: Uint8Array): Promise<void>;
  /** No more frames: resolves when the file is complete, rejects with ffmpeg's reason. */
  end(): Promise<void>;
  /** Stops ffmpeg at once (the file is left incomplete). */
  kill(): void;
}

/**
 * An H.264 MP4 that browsers play (libx264, yuv420p, its index at the front: +faststart) from
 * RGB24 frames written one at a time, so a long video never sits in memory. Odd sizes are padded
 * by a pixel (4:2:0 needs even ones). Every frame written is one frame out, at `fps`.
 */
export function encodeFrameStream(request: EncodeStreamRequest): FrameEncoder {
  const run = spawnChild(ffmpegPath(), [
    '-nostdin',
    ...rawRgbInput(request),
    '-vf',
    'pad=ceil(iw/2)*2:ceil(ih/2)*2',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '20',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    '-an',
    '-f',
    'mp4',
    request.file,
  ]);
  const { stdin, stdout, stderr } = run.process;
  let killed = false;
  const kill = (): void => {
    killed = true;
    run.kill();
  };
  // An ffmpeg that dies early breaks the pipe; its exit status and stderr say why.
  stdin!.on('error', () => undefined);
  stdout!.resume();
  const outcome = finished(run, 'ffmpeg', [stderr!]);
  const onAbort = (): void => kill();
  if (request.signal?.aborted) kill();
  else request.signal?.addEventListener('abort', onAbort, { once: true });
  const done = outcome.then(({ error, stderr: tail }) => {
    request.signal?.removeEventListener('abort', onAbort);
    if (!error) return;
    if (!killed) failures++;
    throw new Error(`ffmpeg could not encode '${request.file}': ${error.message}${lastLines(tail) ? `: ${lastLines(tail)}` : ''}`);
  });
  done.catch(() => undefined);
  return {
    write(frame) {
      if (killed || stdin!.destroyed) return done.then(() => Promise.reject(new Error('ffmpeg is not encoding any more')));
      if (stdin!.write(frame)) return Promise.resolve();
      // Wait for room, or for ffmpeg to be gone (then `done` says why).
      return new Promise((resolve, reject) => {
        const onDrain = (): void => {
          stdin!.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          stdin!.off('drain', onDrain);
          done.then(() => reject(new Error('ffmpeg closed its input early')), reject);
        };
        stdin!.once('drain', onDrain);
        stdin!.once('close', onClose);
      });
    },
    end() {
      stdin!.end();
      return done;
    },
    kill,
  };
}
