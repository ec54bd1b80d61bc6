/**
 * ActivityNet-style files, the format ActionFormer trains and evaluates on: annotations
 * `{database: {video: {subset, duration, fps?, annotations: [{segment: [start, end], label}]}}}`
 * and results `{results: {video: [{segment: [start, end], label, score}]}}`. Read and checked
 * here; every error names the file and the field.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ServiceError } from '../errors.js';
import type { TemporalInstance, TemporalPrediction } from '../eval/temporal-map.js';

const Segment = z.tuple([z.number(), z.number()]).refine(([s, e]) => e >= s, 'segment end must not precede its start');

const AnnotationsSchema = z.object({
  database: z.record(
    z.string(),
    z.object({
      subset: z.string(),
      duration: z.number().nonnegative(),
      fps: z.number().positive().optional(),
      annotations: z.array(z.object({ segment: Segment, label: z.string() })).default([]),
    }),
  ),
});

const ResultsSchema = z.object({
  results: z.record(z.string(), z.array(z.object({ segment: Segment, label: z.union([z.string(), z.number()]), score: z.number() }))),
});

export type ActivityNetAnnotations = z.infer<typeof AnnotationsSchema>;

export class DatasetFileError extends ServiceError {
  constructor(file: string, reason: string) {
    super(400, 'invalid_dataset_file', `'${file}' ${reason}`, { parameter: 'file' });
  }
}

function parseJson<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DatasetFileError(file, `cannot be read as JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DatasetFileError(file, `is invalid at '${issue.path.join('.')}': ${issue.message}`);
  }
  return parsed.data;
}

export function readActivityNetAnnotations(file: string): ActivityNetAnnotations {
  return parseJson(file, AnnotationsSchema);
}

/** Ground-truth instances, optionally of one subset (compared case-insensitively: 'validation' = 'Validation'). */
export function groundTruthInstances(annotations: ActivityNetAnnotations, subset?: string): TemporalInstance[] {
  const out: TemporalInstance[] = [];
  for (const [video, entry] of Object.entries(annotations.database)) {
    if (subset && entry.subset.toLowerCase() !== subset.toLowerCase()) continue;
    for (const a of entry.annotations) out.push({ video, label: a.label, start: a.segment[0], end: a.segment[1] });
  }
  return out;
}

export function readActivityNetResults(file: string): TemporalPrediction[] {
  const results = parseJson(file, ResultsSchema).results;
  return Object.entries(results).flatMap(([video, list]) =>
    list.map((r) => ({ video, label: String(r.label), start: r.segment[0], end: r.segment[1], score: r.score })),
  );
}
