/**
 * Label maps: one label per line, line i is class i. AVA-style "id: name" lines keep their name.
 * Built-in sets resolve to the official maps bundled under models/labels/.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ServiceError } from '../errors.js';

/** models/labels/ in this package, wherever it was installed. */
export const BUNDLED_LABELS_DIR = fileURLToPath(new URL('../../models/labels/', import.meta.url));

export const LABEL_SETS: Readonly<Record<string, string>> = {
  k400: 'label_map_k400.txt',
  k600: 'label_map_k600.txt',
  k700: 'label_map_k700.txt',
  k710: 'label_map_k710.txt',
  sthv2: 'label_map_sthv2.txt',
  ucf101: 'label_map_ucf101.txt',
  hmdb51: 'label_map_hmdb51.txt',
  thumos14: 'label_map_thumos14.txt',
  ava: 'ava_v2.2_80.txt',
};

export function bundledLabelPath(set: string): string | undefined {
  const file = LABEL_SETS[set];
  return file ? join(BUNDLED_LABELS_DIR, file) : undefined;
}

export function readLabels(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ServiceError(422, 'invalid_labels', `label file '${file}' cannot be read: ${(error as Error).message}`);
  }
  return parseLabels(text);
}

export function parseLabels(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => line.replace(/^\d+:\s*/, ''));
}

/** `id: name` lines -> [{id, label}] (plain lines get ids 1..n). */
export function readActionClasses(file: string): Array<{ id: number; label: string }> {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((line, i) => {
      const m = /^\s*(\d+)\s*:\s*(.*)$/.exec(line);
      return m ? { id: Number(m[1]), label: m[2]!.trim() } : { id: i + 1, label: line.trim() };
    });
}
