/**
 * AVA's CSV files: ground truth and detections (`video_id, timestamp, x1, y1, x2, y2, action_id,
 * person_id | score`, boxes normalized), exclusions (`video_id, timestamp`) and the class list (our
 * `id: name` lines or the official .pbtxt). Every error names the file and the line.
 */
import { readFileSync } from 'node:fs';
import { ServiceError } from '../errors.js';
import type { AvaDetection, AvaGroundTruth } from '../eval/ava-map.js';
import type { Box } from '../postprocess/boxes.js';
import { frameKey } from '../eval/ava-map.js';

export class AvaFileError extends ServiceError {
  constructor(file: string, line: number, reason: string) {
    super(400, 'invalid_dataset_file', `'${file}' line ${line}: ${reason}`, { parameter: 'file' });
  }
}

function rows(file: string): Array<{ line: number; fields: string[] }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ServiceError(400, 'file_not_found', `'${file}' cannot be read: ${(error as Error).message}`, { parameter: 'file' });
  }
  return text
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, fields: l.split(',').map((f) => f.trim()) }))
    .filter((r) => r.fields.join('') !== '');
}

function parseRow(file: string, line: number, fields: string[], last: 'person' | 'score'): AvaDetection {
  if (fields.length < 7)
    throw new AvaFileError(
      file,
      line,
      `has ${fields.length} fields; expected video_id, timestamp, x1, y1, x2, y2, action_id, ${last === 'score' ? 'score' : 'person_id'}`,
    );
  const numbers = fields.slice(1).map(Number);
  if (numbers.slice(0, 6).some((n) => !Number.isFinite(n)))
    throw new AvaFileError(file, line, 'has a timestamp, box or action id that is not a number');
  const [timestamp, x1, y1, x2, y2, actionId] = numbers as [number, number, number, number, number, number];
  const box: Box = [x1, y1, x2, y2];
  if (box.some((v) => v < 0 || v > 1) || x2 < x1 || y2 < y1)
    throw new AvaFileError(file, line, `has box [${box.join(', ')}]; boxes are normalized [x1, y1, x2, y2] with x1 <= x2, y1 <= y2`);
  const score = last === 'score' ? Number(fields[7]) : 1;
  if (last === 'score' && !Number.isFinite(score)) throw new AvaFileError(file, line, 'has no score');
  return { video: fields[0]!, timestamp, box, actionId: Math.trunc(actionId), score };
}

export function readAvaGroundTruth(file: string): AvaGroundTruth[] {
  return rows(file).map(({ line, fields }) => {
    const { score: _score, ...gt } = parseRow(file, line, fields, 'person');
    return gt;
  });
}

export function readAvaDetections(file: string): AvaDetection[] {
  return rows(file).map(({ line, fields }) => parseRow(file, line, fields, 'score'));
}

export function readAvaExclusions(file: string): Set<string> {
  return new Set(
    rows(file).map(({ line, fields }) => {
      const t = Number(fields[1]);
      if (!fields[0] || !Number.isFinite(t)) throw new AvaFileError(file, line, 'must be video_id, timestamp');
      return frameKey(fields[0], t);
    }),
  );
}

/** Action ids of a class list: `id: name` lines, or the official pbtxt (`item { name: "..." id: N }`). */
export function readAvaClassIds(file: string): number[] {
  const text = readFileSync(file, 'utf8');
  const pbtxt = [...text.matchAll(/\bid:\s*(\d+)/g)].map((m) => Number(m[1]));
  if (/item\s*\{/.test(text)) return pbtxt;
  const ids = text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l) => Number(/^\s*(\d+)\s*:/.exec(l)?.[1] ?? Number.NaN));
  if (ids.some((id) => !Number.isInteger(id)))
    throw new ServiceError(400, 'invalid_labels', `label file '${file}' must have 'id: name' lines or be an AVA .pbtxt`, {
      parameter: 'labels',
    });
  return ids;
}
