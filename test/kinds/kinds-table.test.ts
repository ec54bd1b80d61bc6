/**
 * The table of model kinds is the one place a kind is wired in: every manifest schema, task,
 * recipe stage and job kind must be claimed by exactly one entry, and the dispatchers must find
 * each kind's folders through it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AnyManifestSchema, modelTask } from '../../src/config/manifest.js';
import { kindForTask, kindNamed, MODEL_KINDS } from '../../src/kinds/index.js';
import { STAGE_KINDS } from '../../src/train/recipe.js';
import { REPO_MODELS } from '../helpers/models.js';

describe('the model kinds table', () => {
  it('gives every task, manifest schema and recipe stage exactly one kind', () => {
    const names = MODEL_KINDS.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
    const unionTasks = AnyManifestSchema.options.map((schema) => schema.shape.task.value);
    expect(MODEL_KINDS.map((k) => k.task).sort()).toEqual([...unionTasks].sort());
    for (const kind of MODEL_KINDS) expect(AnyManifestSchema.options).toContain(kind.schema);
    for (const stage of STAGE_KINDS) {
      expect(
        MODEL_KINDS.filter((k) => k.training?.stages.includes(stage)).map((k) => k.name),
        `stage ${stage}`,
      ).toHaveLength(1);
    }
    // Detectors run as jobs; the classifier answers in the request.
    expect(
      MODEL_KINDS.filter((k) => k.runJob)
        .map((k) => k.task)
        .sort(),
    ).toEqual(['spatiotemporal-detection', 'temporal-detection']);
  });

  it('finds the kind of each bundled folder by its task, and names the known kinds when asked for another', () => {
    expect(kindForTask(modelTask(join(REPO_MODELS, 'default'))).name).toBe('vit');
    expect(kindForTask(modelTask(join(REPO_MODELS, 'temporal'))).name).toBe('actionformer');
    expect(kindForTask(modelTask(join(REPO_MODELS, 'ava'))).name).toBe('ava');
    expect(() => kindNamed('i3d', '--kind')).toThrow(/parameter '--kind' must be one of vit, actionformer, ava \(got 'i3d'\)/);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'kinds-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuses a folder whose manifest names a task no kind serves, naming the known ones', () => {
    const dir = join(scratch, 'odd');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ schemaVersion: 1, name: 'odd', task: 'captioning' }));
    expect(() => modelTask(dir)).toThrow(
      /has task "captioning"; known tasks: classification, temporal-detection, spatiotemporal-detection/,
    );
  });
});
