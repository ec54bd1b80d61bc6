/**
 * Dataset manifests: CSV with a `path,label` header, one video per row; paths are relative to
 * the CSV's folder. A `labels.txt` beside the CSV (one name per line) fixes the class order.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InvalidParameterError } from '../errors.js';

export const LABELS_FILE = 'labels.txt';

export interface DatasetEntry {
  /** Absolute path of the video. */
  readonly path: string;
  readonly label: string;
  /** 1-based line in the CSV, for messages. */
  readonly line: number;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function writeDatasetManifest(file: string, rows: ReadonlyArray<{ path: string; label: string }>): void {
  writeFileSync(file, ['path,label', ...rows.map((r) => `${csvField(r.path)},${csvField(r.label)}`)].join('\n') + '\n');
}

/** Splits one CSV line (RFC 4180 quoting). */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields;
}

/** Reads and checks a manifest; `field` names the recipe field in messages. */
export function readDatasetManifest(file: string, field: string): DatasetEntry[] {
  if (!existsSync(file)) throw new InvalidParameterError(field, file, 'does not exist');
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const header = parseCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const pathColumn = header.indexOf('path');
  const labelColumn = header.indexOf('label');
  if (pathColumn < 0 || labelColumn < 0) throw new InvalidParameterError(field, file, "must start with a 'path,label' header");
  const base = dirname(resolve(file));
  const entries: DatasetEntry[] = [];
  lines.slice(1).forEach((text, i) => {
    if (!text.trim()) return;
    const fields = parseCsvLine(text);
    const path = fields[pathColumn]?.trim();
    const label = fields[labelColumn]?.trim();
    const line = i + 2;
    if (!path || !label) throw new InvalidParameterError(field, `${file}:${line}`, 'has a row without path or label');
    const full = isAbsolute(path) ? path : join(base, path);
    if (!existsSync(full)) throw new InvalidParameterError(field, `${file}:${line}`, `names a video that does not exist: ${full}`);
    entries.push({ path: full, label, line });
  });
  if (entries.length === 0) throw new InvalidParameterError(field, file, 'lists no videos');
  return entries;
}

/**
 * The videos of a list: a CSV with a `path` column (other columns ignored) or a text file with one
 * path per line; relative paths are relative to the list.
 */
export function readVideoList(file: string, field: string): string[] {
  if (!existsSync(file)) throw new InvalidParameterError(field, file, 'does not exist');
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim());
  const base = dirname(resolve(file));
  let paths: string[];
  if (file.toLowerCase().endsWith('.csv')) {
    const column = parseCsvLine(lines[0] ?? '')
      .map((h) => h.trim().toLowerCase())
      .indexOf('path');
    if (column < 0) throw new InvalidParameterError(field, file, "must start with a header that has a 'path' column");
    paths = lines.slice(1).map((line) => parseCsvLine(line)[column]?.trim() ?? '');
  } else {
    paths = lines.map((l) => l.trim());
  }
  const full = paths.map((p) => (isAbsolute(p) ? p : join(base, p)));
  const missing = full.find((p) => !p || !existsSync(p));
  if (missing !== undefined)
    throw new InvalidParameterError(field, file, `names a video that does not exist: ${missing || '(empty path)'}`);
  if (full.length === 0) throw new InvalidParameterError(field, file, 'lists no videos');
  return full;
}

/** The class names of a manifest: labels.txt beside it when present, else first appearance order. */
export function manifestLabels(file: string, entries: readonly DatasetEntry[]): string[] {
  const labelsFile = join(dirname(resolve(file)), LABELS_FILE);
  if (existsSync(labelsFile)) return readLabelList(labelsFile);
  return [...new Set(entries.map((e) => e.label))];
}

export function readLabelList(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * One label space for several datasets: identical names merge, order of first appearance
 * (as Kinetics-710 merges K400/K600/K700).
 */
export function mergeLabelSpaces(spaces: ReadonlyArray<readonly string[]>): string[] {
  const merged: string[] = [];
  const seen = new Set<string>();
  for (const space of spaces)
    for (const name of space)
      if (!seen.has(name)) {
        seen.add(name);
        merged.push(name);
      }
  return merged;
}
