/**
 * An official VideoMAE-Action-Detection checkpoint (tools/make_ava_golden.py: a tiny model of the
 * official structure, saved as utils.save_model saves it) imported with
 * `import-checkpoint --kind ava`, then served on vtest.avi with the golden's boxes: per-box scores
 * equal the official test path (OpenCV decode, TemporalCrop, Resize + cv2 bilinear, Normalize,
 * pad to 16, boxes enlarged by (0.1, 0.05), final norm, roi_align aligned=False ratio 0, sigmoid x
 * box score, box_thresh 0.8) within 1e-4. Also: the refusals of the import.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSpatiotemporalModelFolder } from '../../src/config/manifest.js';
import { loadSpatiotemporalModel } from '../../src/runtime/model-registry.js';
import { loadModels } from '../../src/kinds/load-models.js';
import { detectSpatiotemporal } from '../../src/tasks/spatiotemporal/detect.js';
import { avaFrameGeometry, avaRois, officialFrameOffsets } from '../../src/video/ava-clip.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { importAvaCheckpoint } from '../../src/weights/import-ava.js';
import { exportModelFolder } from '../../src/kinds/index.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const CKPT = join(FIXTURES, 'ava-official', 'ava-tiny.pth');
const root = join(import.meta.dirname, '..', '..');
const cli = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'cli.ts')];
interface Golden {
  fps: number;
  frameCount: number;
  size: [number, number];
  keyframeSeconds: number;
  keyframe: number;
  frames: number[];
  content: [number, number];
  input: [number, number];
  boxesPixels: number[][];
  kept: number[];
  rois: number[][];
  scores: number[][];
  scoresEma: number[][];
  architecture: { depth: number; embedDim: number; numHeads: number };
}
const golden = JSON.parse(readFileSync(join(FIXTURES, 'ava-official', 'vtest-ava.json'), 'utf8')) as Golden;
const tiny = { depth: golden.architecture.depth, embedDim: golden.architecture.embedDim, numHeads: golden.architecture.numHeads };
const work = mkdtempSync(join(tmpdir(), 'videomae-ava-official-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const [W, H] = golden.size;
const normalized = golden.boxesPixels.map((b) => [b[0]! / W, b[1]! / H, b[2]! / W, b[3]! / H, b[4]!]);

async function served(modelsDir: string, name: string): Promise<number[][]> {
  const registry = await loadModels(modelsDir, { device: 'cpu' });
  try {
    const { head, backbone } = registry.resolveSpatiotemporal(name);
    const result = await detectSpatiotemporal(
      { file: VTEST, displayName: 'vtest.avi' },
      { head, backbone },
      { boxes: [{ timestamp: golden.keyframeSeconds, boxes: normalized }], scoreThreshold: 0, topK: 80 },
      { limits: DEFAULT_LIMITS },
    );
    expect(result.clip).toMatchObject({
      numFrames: 16,
      rate: 4,
      shortSide: 256,
      content: { width: golden.content[0], height: golden.content[1] },
      input: { width: golden.input[0], height: golden.input[1] },
    });
    expect(result.keyframes[0]!.frame).toBe(golden.keyframe);
    const people = result.keyframes[0]!.people;
    expect(people).toHaveLength(golden.kept.length); // box_thresh 0.8 drops the 0.5 box
    return people.map((p) => {
      const row = new Array<number>(80).fill(NaN);
      head.classes.forEach((c, k) => {
        row[k] = p.actions.find((a) => a.id === c.id)!.score;
      });
      return row;
    });
  } finally {
    await registry.close();
  }
}

function worstGap(ours: number[][], expected: number[][]): number {
  let worst = 0;
  golden.kept.forEach((box, r) =>
    expected[r]!.forEach((s, k) => {
      worst = Math.max(worst, Math.abs(ours[r]![k]! - s * golden.boxesPixels[box]![4]!));
    }),
  );
  return worst;
}

describe('import-checkpoint --kind ava: an official VideoMAE-Action-Detection checkpoint', () => {
  it('the official test geometry: frame offsets, 768x576 -> 341x256 padded to 352x256, enlarged and clipped RoIs', () => {
    expect(officialFrameOffsets(16, 4)).toEqual(golden.frames.map((f) => f - golden.keyframe));
    const geometry = avaFrameGeometry({ width: W, height: H }, { resize: 'floor-pad', shortSide: 256, padMultiple: 16 }, 16);
    expect(geometry).toEqual({ content: { width: 341, height: 256 }, input: { width: 352, height: 256 } });
    const kept = Float32Array.from(golden.kept.flatMap((i) => normalized[i]!.slice(0, 4)));
    const rois = avaRois(kept, { width: W, height: H }, geometry.content, { enlarge: [0.1, 0.05], convention: 'official' });
    golden.rois.forEach((r, i) => r.forEach((v, j) => expect(Math.abs(rois[4 * i + j]! - v)).toBeLessThan(1e-3)));
  });

  it.skipIf(!existsSync(VTEST))(
    'imported with the CLI, served from the parent folder: per-box scores within 1e-4 of the official path (model and model_ema)',
    async () => {
      const models = join(work, 'models');
      const run = spawnSync(
        process.execPath,
        [
          ...cli,
          'import-checkpoint',
          CKPT,
          '--kind',
          'ava',
          '--arch',
          'vit_base_patch16_224',
          '--depth',
          String(tiny.depth),
          '--embed-dim',
          String(tiny.embedDim),
          '--num-heads',
          String(tiny.numHeads),
          '--out',
          join(models, 'ava-tiny'),
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/ava-tiny-backbone/);
      expect(run.stdout).toMatch(/under 'model'/);
      const folder = readSpatiotemporalModelFolder(join(models, 'ava-tiny'));
      expect(folder.manifest).toMatchObject({
        backbone: 'ava-tiny-backbone',
        head: { numClasses: 80, embedDim: 32, samplingRatio: 0, aligned: false, finalNorm: true, patchSize: 16, temporalTokens: 8 },
        clip: {
          numFrames: 16,
          rate: 4,
          shortSide: 256,
          resize: 'floor-pad',
          padMultiple: 16,
          frameOffsets: officialFrameOffsets(16, 4),
          normalization: { mean: [122.7717, 115.9465, 102.9801], std: [57.375, 57.375, 57.375] },
        },
        boxes: { enlarge: [0.1, 0.05], convention: 'official' },
        postprocess: { personScoreThreshold: 0.8 },
        provenance: { source: 'checkpoint', checkpoint: { container: 'model', arch: 'vit_base_patch16_224' } },
      });
      const worst = worstGap(await served(models, 'ava-tiny'), golden.scores);
      console.log(`AVA parity (model): worst |score - official| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-4);

      // --state-dict-key model_ema: the EMA weights, through the function the CLI calls.
      const emaModels = join(work, 'ema');
      await importAvaCheckpoint({
        checkpoint: CKPT,
        out: join(emaModels, 'ava-ema'),
        arch: 'vit_base_patch16_224',
        architecture: tiny,
        stateDictKey: 'model_ema',
        finish: async (d) => {
          await exportModelFolder(d);
        },
      });
      const worstEma = worstGap(await served(emaModels, 'ava-ema'), golden.scoresEma);
      console.log(`AVA parity (model_ema): worst |score - official| = ${worstEma.toExponential(2)}`);
      expect(worstEma).toBeLessThanOrEqual(1e-4);

      // The pooling semantics live in the head graph: a manifest edited after export is not served as if it held.
      const manifestFile = join(emaModels, 'ava-ema', 'model.json');
      const edited = JSON.parse(readFileSync(manifestFile, 'utf8')) as { head: { aligned: boolean } };
      edited.head.aligned = true;
      writeFileSync(manifestFile, JSON.stringify(edited));
      await expect(loadSpatiotemporalModel(join(emaModels, 'ava-ema'), { device: 'cpu' })).rejects.toThrow(
        /head graph was exported for .*"aligned":false.*run 'videomae export/,
      );
    },
    120_000,
  );

  it('refuses checkpoints that are not AVA ones, or not of the --arch, before writing anything', async () => {
    const out = join(work, 'refused');
    const attempt = (checkpoint: string, extra: Partial<Parameters<typeof importAvaCheckpoint>[0]> = {}) =>
      importAvaCheckpoint({ checkpoint, out, arch: 'vit_base_patch16_224', architecture: tiny, ...extra });
    await expect(attempt(join(FIXTURES, 'checkpoints', 'finetune-module.pth'))).rejects.toThrow(/fc_norm.*classification checkpoint/);
    await expect(attempt(join(FIXTURES, 'checkpoints', 'pretrain.pth'))).rejects.toThrow(/pretraining checkpoint/);
    await expect(attempt(CKPT, { architecture: { ...tiny, embedDim: 64 } })).rejects.toThrow(
      /wrong shapes: patch_embed\.proj\.weight \[32,3,2,16,16\] != \[64,3,2,16,16\]/,
    );
    await expect(attempt(CKPT, { architecture: { ...tiny, depth: 3 } })).rejects.toThrow(/missing keys: blocks\.2\./);
    await expect(attempt(CKPT, { stateDictKey: 'optimizer' })).rejects.toThrow(
      /no state dict under --state-dict-key 'optimizer'.*'model', 'model_ema'/,
    );
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}-backbone`)).toBe(false);
  });
});
