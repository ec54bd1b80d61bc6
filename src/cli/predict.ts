/**
 * `videomae predict VIDEO`: the /classify result of one file; `--temporal` the /detect-temporal
 * result (of a list too, optionally as ActivityNet results), `--spatiotemporal` the
 * /detect-spatiotemporal result. `--render out.mp4` also writes the video with the result drawn on it.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CENTERNET_OPTIONS } from '../detector/centernet.js';
import { ServiceError } from '../errors.js';
import type { DeviceRequest } from '../runtime/inference-runner.js';
import { classifyVideo } from '../tasks/classify/pipeline.js';
import type { ClassifyOptions } from '../tasks/classify/prepare.js';
import type { Annotation } from '../render/overlays.js';
import { DEFAULT_LIMITS } from '../video/limits.js';
import { BUNDLED_MODELS_DIR, deviceOption, positiveInt, positiveNumber, protocolOption } from './options.js';
import { loadRegistry } from './registry.js';

export function addPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'classify one video file and print the same JSON as POST /classify; with --temporal, detect actions in time (the /detect-temporal result); ' +
        'with --spatiotemporal, who does what where (the /detect-spatiotemporal result)',
    )
    .argument('<video>', 'video file (with --temporal also a list: .csv with a path column, or .txt)')
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name>', 'model to use (default: the default model)')
    .option('--top-k <k>', 'labels to return', positiveInt)
    .addOption(protocolOption())
    .option('--num-clips <n>', 'clips per video', positiveInt)
    .option('--num-crops <n>', 'crops per clip', positiveInt)
    .option('--num-frames <n>', 'frames per clip', positiveInt)
    .option('--sampling-rate <n>', 'frame stride within a clip', positiveInt)
    .option('--max-batch <n>', 'views per ONNX Runtime run', positiveInt, 4)
    .option('--threads <n>', 'ONNX Runtime threads per run', positiveInt)
    .addOption(deviceOption())
    .option('--temporal', 'temporal action detection with a temporal-detection model (ActionFormer)')
    .option('--score-threshold <s>', 'temporal: leave out segments scoring below this', Number.parseFloat)
    .option('--max-segments <n>', 'temporal: at most this many segments per video', positiveInt)
    .option(
      '--results <file>',
      'temporal: also write ActivityNet results {results: {video: [{segment, label, score}]}} (for evaluate temporal)',
    )
    .option('--spatiotemporal', 'AVA-style detection: people found by the person detector, each with its actions, at every keyframe')
    .option('--keyframe-interval <seconds>', 'spatiotemporal: seconds between keyframes', positiveNumber)
    .option(
      '--person-threshold <score>',
      'spatiotemporal: person boxes the detector keeps (CenterNet score)',
      Number.parseFloat,
      DEFAULT_CENTERNET_OPTIONS.scoreThreshold,
    )
    .option(
      '--render <out.mp4>',
      'also write the video with the result drawn on it (H.264 MP4): top labels, segment captions, or boxes with actions',
    )
    .action(async (video: string, flags) => {
      if (!existsSync(video)) throw new ServiceError(400, 'file_not_found', `video '${video}' does not exist`, { parameter: 'video' });
      if (flags.render !== undefined) checkRenderPath(flags.render, video);
      if (flags.temporal && flags.spatiotemporal)
        throw new ServiceError(400, 'invalid_parameter', 'choose one of --temporal and --spatiotemporal', { parameter: 'spatiotemporal' });
      if (flags.temporal) {
        await predictTemporal(video, flags);
        return;
      }
      if (isVideoList(video)) {
        throw new ServiceError(
          400,
          'invalid_parameter',
          `'${video}' is a list of videos; predict classifies one video: run it once per file, use --temporal for temporal detection over a list, ` +
            "or 'videomae evaluate LIST.csv' (path,label) for accuracy on a labelled list",
          { parameter: 'video', value: video },
        );
      }
      if (flags.spatiotemporal) {
        await predictSpatiotemporal(video, flags);
        return;
      }
      const registry = await loadRegistry(
        flags.models,
        { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) },
        flags.model,
      );
      try {
        const options: ClassifyOptions = {};
        if (flags.model) options.model = flags.model;
        if (flags.topK) options.topK = flags.topK;
        if (flags.protocol) options.protocol = flags.protocol;
        if (flags.numClips) options.numClips = flags.numClips;
        if (flags.numCrops) options.numCrops = flags.numCrops;
        if (flags.numFrames) options.numFrames = flags.numFrames;
        if (flags.samplingRate) options.samplingRate = flags.samplingRate;
        const result = await classifyVideo({ file: resolve(video), displayName: video }, registry.resolve(flags.model), options, {
          limits: DEFAULT_LIMITS,
          maxBatch: flags.maxBatch,
        });
        console.log(JSON.stringify(result, null, 2));
        if (flags.render) await renderTo(video, flags.render, { task: 'classification', result });
      } finally {
        await registry.close();
      }
    });
}

/** `--render`: an .mp4 in a folder that exists, for one video (checked before any inference). */
function checkRenderPath(out: string, video: string): void {
  const refuse = (reason: string): never => {
    throw new ServiceError(400, 'invalid_parameter', `--render '${out}' ${reason}`, { parameter: '--render', value: out });
  };
  if (!/\.mp4$/i.test(out)) refuse('must name an .mp4 file (the annotated video is H.264 MP4)');
  const folder = dirname(resolve(out));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) refuse(`is in a folder that does not exist (${folder})`);
  if (resolve(out) === resolve(video)) refuse('would overwrite the input video');
  if (isVideoList(video)) refuse('draws on one video; a list of videos has no single video to draw on');
}

/** Draws `annotation` on `video` into `out`; says so on stderr (stdout stays the JSON result). */
async function renderTo(video: string, out: string, annotation: Annotation): Promise<void> {
  const { renderAnnotatedVideo } = await import('../render/render-video.js');
  const report = await renderAnnotatedVideo({
    file: resolve(video),
    displayName: video,
    out: resolve(out),
    annotation,
    limits: DEFAULT_LIMITS,
  });
  console.error(`wrote ${resolve(out)}: ${report.frames} frames, ${report.width}x${report.height}, ${(report.ms / 1000).toFixed(1)} s`);
}

async function predictTemporal(
  input: string,
  flags: {
    models: string;
    model?: string;
    device: DeviceRequest;
    threads?: number;
    maxBatch: number;
    scoreThreshold?: number;
    maxSegments?: number;
    results?: string;
    render?: string;
  },
): Promise<void> {
  const { detectTemporal, withBackbone } = await import('../tasks/temporal/detect.js');
  const { readVideoList } = await import('../datasets/manifest.js');
  const { videoId } = await import('../tasks/temporal/extract.js');
  const videos = isVideoList(input) ? readVideoList(resolve(input), 'video') : [resolve(input)];
  const registry = await loadRegistry(
    flags.models,
    { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) },
    undefined,
  );
  try {
    const models = withBackbone(registry.resolveTemporal(flags.model));
    const results: Record<string, Array<{ segment: [number, number]; label: string; score: number }>> = {};
    for (const file of videos) {
      const result = await detectTemporal(
        { file, displayName: file },
        models,
        {
          ...(flags.scoreThreshold !== undefined ? { scoreThreshold: flags.scoreThreshold } : {}),
          ...(flags.maxSegments ? { maxSegments: flags.maxSegments } : {}),
        },
        { limits: DEFAULT_LIMITS, maxBatch: flags.maxBatch },
      );
      results[videoId(file)] = result.segments.map((s) => ({ segment: [s.start, s.end], label: s.label, score: s.score }));
      if (videos.length === 1) {
        console.log(JSON.stringify(result, null, 2));
        if (flags.render) await renderTo(file, flags.render, { task: 'temporal-detection', result });
      } else
        console.log(
          `[${Object.keys(results).length}/${videos.length}] ${videoId(file)}: ${result.segments.length} segments in ${(result.timings.totalMs / 1000).toFixed(1)} s`,
        );
    }
    if (flags.results) {
      writeFileSync(
        resolve(flags.results),
        `${JSON.stringify({ version: 'videomae-serve', results, external_data: { model: models.detector.name, backbone: models.backbone.name } })}\n`,
      );
      console.log(`wrote ActivityNet results for ${videos.length} videos to ${resolve(flags.results)}`);
    }
  } finally {
    await registry.close();
  }
}

/** A .csv or .txt argument is a list of videos (what readVideoList reads). */
function isVideoList(path: string): boolean {
  return /\.(csv|txt)$/i.test(path);
}

async function predictSpatiotemporal(
  video: string,
  flags: {
    models: string;
    model?: string;
    device: DeviceRequest;
    threads?: number;
    topK?: number;
    scoreThreshold?: number;
    keyframeInterval?: number;
    personThreshold: number;
    render?: string;
  },
): Promise<void> {
  const { detectSpatiotemporal } = await import('../tasks/spatiotemporal/detect.js');
  const { CenterNetDetector } = await import('../detector/centernet.js');
  const registry = await loadRegistry(
    flags.models,
    { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) },
    undefined,
  );
  const detector = new CenterNetDetector({ ...DEFAULT_CENTERNET_OPTIONS, scoreThreshold: flags.personThreshold });
  try {
    const result = await detectSpatiotemporal(
      { file: resolve(video), displayName: video },
      registry.resolveSpatiotemporal(flags.model),
      {
        ...(flags.topK ? { topK: flags.topK } : {}),
        ...(flags.scoreThreshold !== undefined ? { scoreThreshold: flags.scoreThreshold } : {}),
        ...(flags.keyframeInterval ? { keyframeInterval: flags.keyframeInterval } : {}),
      },
      { limits: DEFAULT_LIMITS, detector },
    );
    console.log(JSON.stringify(result, null, 2));
    if (flags.render) await renderTo(video, flags.render, { task: 'spatiotemporal-detection', result });
  } finally {
    await detector.close();
    await registry.close();
  }
}
