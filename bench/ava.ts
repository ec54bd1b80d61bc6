/**
 * `npm run bench:ava`: spatiotemporal detection on the pedestrian video (vtest.avi, 768x576,
 * 10 fps): person detector time per frame (CenterNet, TF.js in its worker), backbone time per
 * keyframe clip, action head time per person, and the whole pipeline per keyframe. Writes the
 * `ava` section of docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CenterNetDetector } from '../src/detector/centernet.js';
import { AVA_HEAD_OUTPUTS } from '../src/onnx/ava-head-graph.js';
import { BACKBONE_INPUT } from '../src/onnx/vit-graph.js';
import { loadModel, loadSpatiotemporalModel } from '../src/runtime/model-registry.js';
import { float32Tensor, type Float32Tensor } from '../src/runtime/tensor.js';
import { detectSpatiotemporal } from '../src/tasks/spatiotemporal/detect.js';
import { headFeeds, roisInPixels } from '../src/tasks/spatiotemporal/head-inputs.js';
import { avaFrameGeometry } from '../src/video/ava-clip.js';
import { decodeFrames } from '../src/video/decode.js';
import { DEFAULT_LIMITS } from '../src/video/limits.js';
import { machineDescription, median, ROOT, table, writeSection } from './report.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const head = await loadSpatiotemporalModel(join(ROOT, 'models', 'ava'), { device: 'cpu' });
// Bundled models live in folders named after them.
const backbone = await loadModel(join(ROOT, 'models', head.folder.manifest.backbone), { device: 'cpu' });
const detector = new CenterNetDetector({ scoreThreshold: 0.4, iouThreshold: 0.5, maxPeople: 20, enlarge: 1 });
const rows: Array<Array<string | number>> = [];
const time = async (run: () => Promise<unknown>, repeats = 10): Promise<number> => {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return median(times);
};

const frames: Uint8Array[] = [];
for await (const f of decodeFrames({
  file: VTEST,
  fps: 10,
  indices: [100, 200, 300, 400, 500],
  source: { width: 768, height: 576 },
  size: { width: 512, height: 512 },
}))
  frames.push(f.rgb);
let i = 0;
const detectMs = await time(() => detector.detect({ rgb: frames[i++ % frames.length]!, width: 512, height: 512 }));
rows.push(['person detector (CenterNet 512x512, TF.js wasm, worker thread)', 'per frame', detectMs.toFixed(1)]);

const a = backbone.folder.architecture;
const vtestSize = { width: 768, height: 576 };
const clipOf = (frames: number, size: { width: number; height: number }): Float32Tensor =>
  float32Tensor(new Float32Array(3 * frames * size.width * size.height).fill(0.1), [1, 3, frames, size.height, size.width]);
const { input } = avaFrameGeometry(vtestSize, head.folder.manifest.clip, a.patchSize);
const clip = clipOf(a.numFrames, input);
const backboneMs = await time(() => backbone.runner.run({ [BACKBONE_INPUT]: clip }, ['tokens']));
rows.push([
  `backbone '${backbone.name}' (${a.numFrames}x${input.height}x${input.width}: short side ${head.folder.manifest.clip.shortSide})`,
  'per keyframe clip',
  backboneMs.toFixed(1),
]);
// The official AVA input: an (untrained) ViT-S on 16 frames of this video at short side 256.
const work = mkdtempSync(join(tmpdir(), 'videomae-bench-ava-'));
try {
  execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src', 'cli.ts'),
      'init-model',
      '--arch',
      'vit_small_patch16_224',
      '--labels',
      'k400',
      '--out',
      join(work, 'vit-s'),
    ],
    { cwd: ROOT, stdio: 'ignore' },
  );
  const vitS = await loadModel(join(work, 'vit-s'), { device: 'cpu' });
  // The official geometry: short side 256, long side floored, zero-padded to a multiple of 16.
  const { input: full } = avaFrameGeometry(vtestSize, { resize: 'floor-pad', shortSide: 256, padMultiple: 16 }, 16);
  const fullClip = clipOf(16, full);
  const vitMs = await time(() => vitS.runner.run({ [BACKBONE_INPUT]: fullClip }, ['tokens']), 3);
  rows.push([
    `ViT-S untrained (16x${full.height}x${full.width}: short side 256, ${8 * (full.height / 16) * (full.width / 16)} tokens)`,
    'per keyframe clip',
    vitMs.toFixed(1),
  ]);
  const at224 = clipOf(16, { width: 224, height: 224 });
  const vit224Ms = await time(() => vitS.runner.run({ [BACKBONE_INPUT]: at224 }, ['tokens']), 3);
  rows.push(['ViT-S untrained (16x224x224, 1568 tokens; for comparison)', 'per clip', vit224Ms.toFixed(1)]);
  await vitS.runner.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
const { outputs } = await backbone.runner.run({ [BACKBONE_INPUT]: clip }, ['tokens']);
for (const people of [1, 8]) {
  const boxes = Float32Array.from({ length: people * 4 }, (_, k) => [0.1, 0.1, 0.5, 0.9][k % 4]!);
  const headMs = await time(() =>
    head.runner.run(headFeeds(outputs.tokens!, input, a.patchSize, roisInPixels(boxes, input)), [AVA_HEAD_OUTPUTS.scores]),
  );
  rows.push([
    `action head '${head.name}' (RoiAlign 7x7, max, Linear ${head.classes.length})`,
    `${people} ${people === 1 ? 'person' : 'people'} (${(headMs / people).toFixed(2)} ms per person)`,
    headMs.toFixed(2),
  ]);
}
const timestamps = Array.from({ length: 20 }, (_, k) => 2 + k * 3.5);
const t0 = performance.now();
const result = await detectSpatiotemporal(
  { file: VTEST, displayName: 'vtest' },
  { head, backbone },
  { timestamps },
  { limits: DEFAULT_LIMITS, detector },
);
const total = performance.now() - t0;
const people = result.keyframes.reduce((s, k) => s + k.people.length, 0);
rows.push([
  `whole pipeline, ${timestamps.length} keyframes (${people} people found)`,
  'per keyframe',
  (total / timestamps.length).toFixed(1),
]);
rows.push(['  of which people (decode 512x512 + detector)', 'per keyframe', (result.timings.peopleMs / timestamps.length).toFixed(1)]);
rows.push([
  '  of which actions (decode clip + backbone + head)',
  'per keyframe',
  (result.timings.actionsMs / timestamps.length).toFixed(1),
]);
for (const r of rows) console.log(r.join(' | '));
await detector.close();
await head.runner.close();
await backbone.runner.close();

writeSection(
  'ava',
  `## Spatiotemporal detection (issue 6)

Machine: ${machineDescription()}. Command: \`npm run bench:ava\`, ${new Date().toISOString().slice(0, 10)}.
Debian's pedestrian video \`vtest.avi\` (768x576, 10 fps, 79.5 s); the bundled action head (\`models/ava\`) and its
backbone, on whole frames at the model's short side; person threshold 0.4. Medians of 10 runs after a warm-up; the pipeline row is one run over 20 keyframes.

${table(['step', 'unit', 'ms'], rows)}
`,
);
