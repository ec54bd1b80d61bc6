/**
 * One feature extraction in its own process, so its peak memory is its own. Prints
 * {seconds, clips, frames, maxRssMiB} as JSON.
 */
import { loadModel } from '../src/runtime/model-registry.js';
import { defaultFeatureSettings, extractFeatures } from '../src/tasks/temporal/features.js';

const [file, modelDir, batch] = process.argv.slice(2);
const model = await loadModel(modelDir!, { device: 'cpu' });
const started = performance.now();
const result = await extractFeatures({ file: file!, model, settings: defaultFeatureSettings(model), maxBatch: Number(batch ?? 4) });
const seconds = (performance.now() - started) / 1000;
await model.runner.close();
console.log(JSON.stringify({ seconds, clips: result.clips, frames: result.frames, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
