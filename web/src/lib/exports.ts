/**
 * Results as files to download, made in the page from the result (pure): ActivityNet-style JSON
 * for temporal detection (what `videomae evaluate temporal --predictions` and the ActivityNet kit
 * read) and for classification (the kit's classification results). AVA CSV comes from the
 * server itself (GET /jobs/{id}?format=ava-csv); JSON is the result as the server sent it.
 */
import type { ClassifyResponse, TemporalResult } from './types.js';

/**
 * The video id ActivityNet and AVA files key a video by: the file name without its extension
 * (as the server names it).
 *
 * @example
 * videoIdOf('C:\\clips\\vtest.avi') // 'vtest'
 */
export function videoIdOf(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  const id = dot > 0 ? base.slice(0, dot) : base;
  return id || 'video';
}

export interface ActivityNetDetections {
  readonly version: string;
  readonly results: Record<string, Array<{ label: string; score: number; segment: [number, number] }>>;
  readonly external_data: Record<string, never>;
}

/**
 * @example
 * toActivityNetDetections({ segments: [{ label: 'jump', labelIndex: 0, start: 1, end: 2, score: 0.9 }], ... }, 'v')
 * // { version: 'VERSION 1.3', results: { v: [{ label: 'jump', score: 0.9, segment: [1, 2] }] }, external_data: {} }
 */
export function toActivityNetDetections(result: Pick<TemporalResult, 'segments'>, videoId: string, threshold = 0): ActivityNetDetections {
  return {
    version: 'VERSION 1.3',
    results: {
      [videoId]: result.segments
        .filter((s) => s.score >= threshold)
        .map((s) => ({ label: s.label, score: s.score, segment: [s.start, s.end] })),
    },
    external_data: {},
  };
}

export interface ActivityNetClassification {
  readonly version: string;
  readonly results: Record<string, Array<{ label: string; score: number }>>;
  readonly external_data: Record<string, never>;
}

export function toActivityNetClassification(result: Pick<ClassifyResponse, 'labels'>, videoId: string): ActivityNetClassification {
  return {
    version: 'VERSION 1.3',
    results: { [videoId]: result.labels.map((l) => ({ label: l.label, score: l.score })) },
    external_data: {},
  };
}

/** A download's file name: the video id, what it holds, its extension. */
export function downloadName(videoId: string, what: string, extension: string): string {
  return `${videoId.replace(/[^A-Za-z0-9._-]+/g, '_')}.${what}.${extension}`;
}
