/**
 * One feature extraction (or, given a temporal model folder, the whole detection pipeline) in its
 * own process, so its peak memory is its own. Prints JSON: seconds, clips, frames, maxRssMiB and,
 * for detection, the pipeline's timings and segment count.
 */
import { loadModel, loadTemporalModel } from '../src/runtime/model-registry.js';
import { detectTemporal } from '../src/tasks/temporal/detect.js';
import { defaultFeatureSettings, extractFeatures } from '../src/tasks/temporal/features.js';
import { DEFAULT_LIMITS } from '../src/video/limits.js';
import { probeVideo } from '../src/video/probe.js';

const [file, modelDir, batch, temporalDir] = process.argv.slice(2);
const model = await loadModel(modelDir!, { device: 'cpu' });
const started = performance.now();
if (temporalDir) {
  const detector = await loadTemporalModel(temporalDir, { device: 'cpu' });
  const t0 = performance.now();
  const result = await detectTemporal(
    { file: file!, displayName: file! },
    { detector, backbone: model },
    {},
    { limits: DEFAULT_LIMITS, maxBatch: Number(batch ?? 4) },
  );
  const seconds = (performance.now() - t0) / 1000;
  await detector.runner.close();
  await model.runner.close();
  console.log(
    JSON.stringify({
      seconds,
      clips: result.features.clips,
      frames: result.video.frameCount,
      segments: result.segments.length,
      timings: result.timings,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
} else {
  const result = await extractFeatures({
    file: file!,
    source: await probeVideo(file!),
    model,
    settings: defaultFeatureSettings(model),
    maxBatch: Number(batch ?? 4),
  });
  const seconds = (performance.now() - started) / 1000;
  await model.runner.close();
  console.log(JSON.stringify({ seconds, clips: result.clips, frames: result.frames, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}
