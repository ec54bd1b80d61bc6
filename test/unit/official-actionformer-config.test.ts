import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  mergeOfficialDefaults,
  OfficialConfigError,
  readOfficialActionFormerConfig,
} from '../../src/weights/actionformer-official-config.js';

const FIXTURE = join(__dirname, '..', 'fixtures', 'actionformer', 'thumos_tiny.yaml');
const dir = mkdtempSync(join(tmpdir(), 'af-config-'));

function variant(name: string, edit: (text: string) => string): string {
  const file = join(dir, name);
  writeFileSync(file, edit(readFileSync(FIXTURE, 'utf8')));
  return file;
}

describe('official ActionFormer config', () => {
  it('merges the file over the official defaults and maps every key', () => {
    const s = readOfficialActionFormerConfig(FIXTURE);
    expect(s.datasetName).toBe('thumos');
    expect(s.config).toMatchObject({
      inputDim: 32,
      numClasses: 20,
      maxSeqLen: 2304,
      backboneArch: [2, 2, 5],
      numHeads: 4,
      mhaWinSize: [19, 19, 19, 19, 19, 19],
      embdDim: 16,
      fpnDim: 16,
      headDim: 16,
      embdKernelSize: 3,
      headKernelSize: 3,
      headNumLayers: 3,
      embdWithLn: true,
      fpnWithLn: true,
      headWithLn: true,
      clsPriorProb: 0.01,
      centerSampleRadius: 1.5,
      dropPath: 0.1,
      useAbsPe: false,
      useRelPe: false,
    });
    expect(s.config.regressionRanges).toEqual([
      [0, 4],
      [4, 8],
      [8, 16],
      [16, 32],
      [32, 64],
      [64, 10000],
    ]);
    // test_cfg: the file's values over the defaults (pre_nms_thresh, iou_threshold, nms_sigma, duration_thresh from DEFAULTS)
    expect(s.postprocess).toEqual({
      scoreThreshold: 0.001,
      topK: 2000,
      minDuration: 0.05,
      nms: { method: 'gaussian', iouThreshold: 0.1, sigma: 0.5, minScore: 0.001, maxSegments: 200, perClass: true, votingThreshold: 0.7 },
    });
    expect(s.features).toEqual({ featureStride: 4, numFrames: 16, defaultFps: null });
  });

  it('merges nested sections key by key, as the official _merge does', () => {
    const merged = mergeOfficialDefaults({ model: { n_mha_win_size: 19 }, extra: 1 });
    expect((merged.model as Record<string, unknown>).n_mha_win_size).toBe(19);
    expect((merged.model as Record<string, unknown>).embd_dim).toBe(512);
    expect((merged.test_cfg as Record<string, unknown>).pre_nms_topk).toBe(5000);
    expect(merged.extra).toBe(1);
  });

  it('takes the absolute position embedding, global attention (window <= 1) and YAML 1.1 booleans', () => {
    const s = readOfficialActionFormerConfig(
      variant('abs-pe.yaml', (t) =>
        t.replace('fpn_type: identity,', 'fpn_type: identity,\n  use_abs_pe: yes,').replace('n_mha_win_size: 19,', 'n_mha_win_size: -1,'),
      ),
    );
    expect(s.config.useAbsPe).toBe(true);
    expect(s.config.mhaWinSize).toEqual([-1, -1, -1, -1, -1, -1]);
  });

  it('takes a window per level and hard NMS', () => {
    const file = variant('per-level.yaml', (t) =>
      t
        .replace('n_mha_win_size: 19,', 'n_mha_win_size: [19, 19, 19, 9, 9, 9],')
        .replace('multiclass_nms: True,', 'multiclass_nms: True,\n  nms_method: hard,'),
    );
    const s = readOfficialActionFormerConfig(file);
    expect(s.config.mhaWinSize).toEqual([19, 19, 19, 9, 9, 9]);
    expect(s.postprocess.nms.method).toBe('hard');
  });

  const refusals: Array<[string, (t: string) => string, string]> = [
    ['backbone_type conv', (t) => t.replace('fpn_type: identity,', 'fpn_type: identity,\n  backbone_type: conv,'), 'model.backbone_type'],
    ['fpn_type fpn', (t) => t.replace('fpn_type: identity,', 'fpn_type: fpn,'), 'model.fpn_type'],
    ['use_rel_pe', (t) => t.replace('fpn_type: identity,', 'fpn_type: identity,\n  use_rel_pe: True,'), 'model.use_rel_pe'],
    [
      'ext_score_file',
      (t) => t.replace('multiclass_nms: True,', 'multiclass_nms: False,\n  ext_score_file: ./scores.pkl,'),
      'test_cfg.ext_score_file',
    ],
    ['nms_method none', (t) => t.replace('multiclass_nms: True,', 'multiclass_nms: True,\n  nms_method: none,'), 'test_cfg.nms_method'],
    ['downsample_rate', (t) => t.replace('num_frames: 16,', 'num_frames: 16,\n  downsample_rate: 2,'), 'dataset.downsample_rate'],
    ['a wrong type', (t) => t.replace('embd_dim: 16,', 'embd_dim: wide,'), 'model.embd_dim'],
    ['an indivisible max_seq_len', (t) => t.replace('max_seq_len: 2304,', 'max_seq_len: 2300,'), 'dataset.max_seq_len'],
  ];
  for (const [what, edit, key] of refusals) {
    it(`refuses ${what}, naming ${key}`, () => {
      const file = variant(`${key}.yaml`, edit);
      let caught: unknown;
      try {
        readOfficialActionFormerConfig(file);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OfficialConfigError);
      expect((caught as OfficialConfigError).message).toContain(`'${key}'`);
      expect((caught as OfficialConfigError).status).toBe(422);
    });
  }

  it('refuses a file that is not YAML or missing', () => {
    expect(() => readOfficialActionFormerConfig(join(dir, 'nope.yaml'))).toThrow(/cannot be read/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'model: {');
    expect(() => readOfficialActionFormerConfig(bad)).toThrow(/not valid YAML/);
  });
});
