/**
 * What ffprobe says about a file, reduced to the facts sampling and limits need.
 */
import { statSync } from 'node:fs';
import { UnsupportedMediaError } from '../errors.js';
import { ffprobe, ffprobeSeekPackets, type ProbeData } from './ffmpeg.js';
import { DEFAULT_CONTAINERS } from './formats.js';

export interface VideoInfo {
  readonly durationSec: number;
  readonly fps: number;
  /** Frames in the first video stream (container count, packet count, or duration x fps). */
  readonly frameCount: number;
  /** Display size (after rotation metadata is applied, as ffmpeg decodes it). */
  readonly width: number;
  readonly height: number;
  readonly codec: string;
  readonly container: string;
  readonly streamCount: number;
  readonly bytes: number;
}

type Stream = ProbeData['streams'][number];

export function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [num, den] = rate.split('/').map(Number);
  if (!Number.isFinite(num) || num === undefined) return 0;
  const value = den ? num / den : num;
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function positive(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function rotationOf(stream: Stream): number {
  const sideData = (stream as { side_data_list?: Array<{ rotation?: number }> }).side_data_list ?? [];
  const fromSide = sideData.find((s) => typeof s.rotation === 'number')?.rotation;
  const fromTag = Number((stream.tags as Record<string, string> | undefined)?.rotate ?? 0);
  return Math.abs(Math.round(fromSide ?? fromTag)) % 180;
}

/** The first real video stream: cover art (attached pictures) is not video. */
export function pickVideoStream(data: ProbeData): Stream | undefined {
  return data.streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
}

/**
 * Pure mapping from ffprobe's JSON to VideoInfo; `packetCount` comes from a second, counting
 * probe when the container does not store a frame count.
 */
export function toVideoInfo(data: ProbeData, bytes: number, file: string, packetCount?: number): VideoInfo {
  const stream = pickVideoStream(data);
  if (!stream) throw new UnsupportedMediaError('no_video_stream', `upload '${file}' has no video stream`, { parameter: 'video' });
  const fps = parseRate(stream.avg_frame_rate) || parseRate(stream.r_frame_rate);
  const durationSec = positive(stream.duration) ?? positive(data.format.duration) ?? 0;
  const frameCount = Math.round(
    positive(stream.nb_frames) ??
      positive(packetCount) ??
      positive((stream as { nb_read_packets?: string }).nb_read_packets) ??
      durationSec * fps,
  );
  const rawWidth = stream.width ?? 0;
  const rawHeight = stream.height ?? 0;
  const rotated = rotationOf(stream) === 90;
  const width = rotated ? rawHeight : rawWidth;
  const height = rotated ? rawWidth : rawHeight;
  if (!(width > 0 && height > 0)) {
    throw new UnsupportedMediaError('undecodable_media', `upload '${file}' has a video stream without a frame size`, {
      parameter: 'video',
    });
  }
  if (!(fps > 0) || !(frameCount > 0)) {
    throw new UnsupportedMediaError(
      'undecodable_media',
      `upload '${file}' has no frames that can be counted (fps ${fps}, frames ${frameCount})`,
      { parameter: 'video' },
    );
  }
  return {
    durationSec: durationSec || frameCount / fps,
    fps,
    frameCount,
    width,
    height,
    codec: stream.codec_name ?? 'unknown',
    container: data.format.format_name ?? 'unknown',
    streamCount: data.streams.length,
    bytes,
  };
}

/**
 * Probes a local file; anything ffprobe cannot read (or that only a demuxer outside `formats`
 * would open) is a 415.
 */
export async function probeVideo(
  file: string,
  displayName = file,
  formats: readonly string[] = DEFAULT_CONTAINERS,
  signal?: AbortSignal,
): Promise<VideoInfo> {
  const bytes = statSync(file).size;
  if (bytes === 0) throw new UnsupportedMediaError('empty_upload', `upload '${displayName}' is empty (0 bytes)`, { parameter: 'video' });
  let data: ProbeData;
  try {
    // -count_packets demuxes the whole file (no decoding): the real packet count catches a
    // truncated file, and gives a frame count where the container keeps none (Matroska).
    data = await ffprobe(file, { formats, extraArgs: ['-count_packets'], ...(signal ? { signal } : {}) });
  } catch {
    signal?.throwIfAborted();
    throw new UnsupportedMediaError(
      'undecodable_media',
      `upload '${displayName}' is not a video ffmpeg can read in an accepted container (${formats.join(', ')})`,
      { parameter: 'video' },
    );
  }
  const stream = pickVideoStream(data);
  const read = positive((stream as { nb_read_packets?: string } | undefined)?.nb_read_packets);
  const declared = positive(stream?.nb_frames);
  if (declared !== undefined && read !== undefined && read < declared - 1) {
    throw new UnsupportedMediaError(
      'truncated_media',
      `upload '${displayName}' is truncated: its index lists ${declared} frames but only ${read} are in the file`,
      { parameter: 'video' },
    );
  }
  return toVideoInfo(data, bytes, displayName, read);
}

/**
 * The keyframes that seeks to `frames` start decoding from (decode.ts seeks half a frame early,
 * from the file's start time, as ffmpeg's -ss counts): ffprobe seeks the same way and names the
 * first packet it reads, in one short run whatever the file's length, where listing every
 * packet's flags would take seconds for a long file. Frame indices, sorted and unique; undefined
 * when ffprobe cannot tell (then the caller assumes the worst).
 */
export async function probeSeekKeyframes(
  file: string,
  fps: number,
  frames: readonly number[],
  formats: readonly string[] = DEFAULT_CONTAINERS,
  signal?: AbortSignal,
): Promise<number[] | undefined> {
  if (frames.length === 0) return [];
  const options = { formats, ...(signal ? { signal } : {}) };
  try {
    const startSec = Number((await ffprobe(file, options)).format.start_time) || 0;
    const packets = await ffprobeSeekPackets(
      file,
      frames.map((f) => startSec + (f - 0.5) / fps),
      options,
    );
    const landed = packets
      .map((p) => [p.pts_time, p.dts_time].map(Number).find(Number.isFinite))
      .filter((t): t is number => t !== undefined)
      .map((t) => Math.max(0, Math.round((t - startSec) * fps)));
    return [...new Set(landed)].sort((a, b) => a - b);
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}
