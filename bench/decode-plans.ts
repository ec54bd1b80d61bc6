/**
 * The two decode plans timed against each other (part of `npm run bench:decode`): one pass from
 * the start vs the grouped keyframe seeks, both forced, on vtest.avi with 8-frame clips (the
 * k400 stride protocol, as the classify path samples them) and on a long testsrc2 video with the
 * same protocol. Each round runs both, in alternating order, on the shared machine; the report is
 * the median of the per-round ratios, what the auto planner chose, and its estimated ratio. Every
 * round checks that both plans gave byte-identical frames. Writes the `decode-plans` section.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { estimateDecode } from '../src/video/decode-budget.js';
import { chooseDecodePlan, decodeFrames, type DecodeRequest } from '../src/video/decode.js';
import type { DecodePlanKind } from '../src/video/decode-plan.js';
import { probeSeekKeyframes, probeVideo, type VideoInfo } from '../src/video/probe.js';
import { resolveProtocol } from '../src/video/sampling.js';
import { neededFrames, planViews } from '../src/video/views.js';
import { childCpuMs, machineDescription, median, table, writeSection } from './report.js';

const PREPROCESSING = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], shortSide: 224, cropSize: 224 } as const;
const PROTOCOL = resolveProtocol('k400', { numFrames: 8 });
const PLANS: readonly DecodePlanKind[] = ['single-pass', 'seek'];

interface Timing {
  ms: number;
  ffmpegCpuMs: number;
  /** sha256 over the frames, in order. */
  digest: string;
}

async function timedDecode(request: DecodeRequest, plan: DecodePlanKind): Promise<Timing> {
  const children = childCpuMs();
  const started = performance.now();
  const hash = createHash('sha256');
  let frames = 0;
  for await (const f of decodeFrames({ ...request, plan })) {
    hash.update(String(f.index)).update(f.rgb);
    frames++;
  }
  const ms = performance.now() - started;
  if (frames !== request.indices.length) throw new Error(`${plan}: ${frames} frames of ${request.indices.length}`);
  return { ms, ffmpegCpuMs: childCpuMs() - children, digest: hash.digest('hex') };
}

export interface PlanBenchOptions {
  readonly rounds: number;
  /** The long synthetic video (testsrc2 320x240, 25 fps). */
  readonly longVideo: string;
}

export async function benchDecodePlans(options: PlanBenchOptions): Promise<void> {
  const videos = [
    { label: () => 'vtest.avi (768x576 MS-MPEG4, 795 frames)', file: '/usr/share/doc/opencv-doc/examples/data/vtest.avi' },
    {
      label: (info: VideoInfo) =>
        `testsrc2 320x240 H.264 (x264 veryfast, keyint 250), ${info.durationSec.toFixed(0)} s, ${info.frameCount} frames`,
      file: options.longVideo,
    },
  ].filter((v) => existsSync(v.file));
  const rows: Array<Array<string | number>> = [];
  for (const video of videos) {
    const info = await probeVideo(video.file);
    const plan = planViews(info, PROTOCOL, PREPROCESSING);
    const request: DecodeRequest = {
      file: video.file,
      fps: info.fps,
      indices: neededFrames(plan),
      source: info,
      size: plan.resized,
      frameCount: info.frameCount,
    };
    const auto = await chooseDecodePlan(request);
    // The planner's estimate of each plan, from the keyframes the seeks land on.
    const seekPlan = await chooseDecodePlan({ ...request, plan: 'seek' });
    const keyframes = await probeSeekKeyframes(
      video.file,
      info.fps,
      seekPlan.runs.map((r) => r.from).filter((f) => f > 0),
    );
    const estimate = (p: DecodePlanKind): number =>
      estimateDecode(info, [{ kind: 'frames', indices: request.indices, plan: p }], keyframes).pixels;
    for (const p of PLANS) await timedDecode(request, p); // warm the page cache
    const ms: Record<DecodePlanKind, number[]> = { 'single-pass': [], seek: [] };
    const cpu: Record<DecodePlanKind, number[]> = { 'single-pass': [], seek: [] };
    const ratios: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? PLANS : [...PLANS].reverse();
      const result: Partial<Record<DecodePlanKind, Timing>> = {};
      for (const p of order) result[p] = await timedDecode(request, p);
      const [single, seek] = [result['single-pass']!, result.seek!];
      if (single.digest !== seek.digest) throw new Error(`${video.label(info)}: the plans decoded different frames`);
      ms['single-pass'].push(single.ms);
      ms.seek.push(seek.ms);
      cpu['single-pass'].push(single.ffmpegCpuMs);
      cpu.seek.push(seek.ffmpegCpuMs);
      ratios.push(single.ms / seek.ms);
    }
    rows.push([
      video.label(info),
      `${request.indices.length} in ${seekPlan.runs.length} groups`,
      median(ms['single-pass']).toFixed(0),
      median(ms.seek).toFixed(0),
      `${median(cpu['single-pass']).toFixed(0)} / ${median(cpu.seek).toFixed(0)}`,
      median(ratios).toFixed(2),
      `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
      (estimate('single-pass') / estimate('seek')).toFixed(2),
      auto.kind,
      'yes',
    ]);
    console.log(rows.at(-1)!.join(' | '));
  }
  const date = new Date().toISOString().slice(0, 10);
  writeSection(
    'decode-plans',
    `
## Decode plans: one pass vs keyframe seeks (issue 20)

- Machine: ${machineDescription()}; shared with other work and noisy: read the ratios.
- Command: \`nice -n 10 npm run bench:decode\` (${options.rounds} rounds of the plans), ${date}
- The frames of the k400 stride protocol with 8-frame clips (5 clips, short side 224, as the classify path samples and resizes them), decoded by each plan forced (\`plan: 'single-pass' | 'seek'\` of decodeFrames), in alternating order each round. single / seek < 1: the single pass is faster. "estimated" is the planner's cost ratio (src/video/decode-cost.ts, keyframes from ffprobe); "auto" what decodeFrames chooses by itself. Every round compares the frames of both plans byte for byte.

${table(['video', 'needed frames', 'single-pass ms (median)', 'seek ms (median)', 'ffmpeg CPU ms single / seek', 'single / seek, median of rounds', 'range of rounds', 'estimated single / seek', 'auto', 'identical frames'], rows)}

### Reading

- On a short video the five ffmpeg start-ups and their pre-roll cost more than decoding every frame once; on a long one the pass decodes every frame up to the last clip for 40 of them, and the seeks (each from the keyframe before its group) win. The planner only needs the estimated ratio on the right side of 1; it decides vtest.avi without probing keyframes, and probes them (two short ffprobe runs) for the long video.
- test/e2e/decode-plans.test.ts checks the identical frames and the auto choice on real files in the test suite (vtest.avi, and a ten-minute ramp video whose frames name themselves).
`,
  );
}
