/**
 * Accuracy of a served model on a dataset manifest, through the same path as POST /classify
 * (ffprobe + ffmpeg decode + ONNX Runtime), so the figure is what users of the service get.
 */
import { readDatasetManifest } from '../../datasets/manifest.js';
import { ServiceError } from '../../errors.js';
import type { LoadedModel } from '../../runtime/model-registry.js';
import { DEFAULT_LIMITS } from '../../video/limits.js';
import { combineAgreements, viewAgreement, type ViewAgreement } from './agreement.js';
import { classifyVideo } from './pipeline.js';
import type { ClassifyOptions } from './prepare.js';

export interface EvaluationResult {
  readonly model: string;
  readonly videos: number;
  readonly top1: number;
  readonly top5: number;
  readonly seconds: number;
  /** With a reference model: the same views through it, compared view by view. */
  readonly agreement?: ViewAgreement & { readonly reference: string; readonly top1Agreement: number };
}

/** Logits of every view of one video through `model`. */
async function viewLogits(file: string, model: LoadedModel, options: ClassifyOptions): Promise<Float32Array> {
  let logits: Float32Array = new Float32Array(0);
  await classifyVideo({ file }, model, options, { limits: DEFAULT_LIMITS, maxBatch: 4, onViewLogits: (l) => (logits = l) });
  return logits;
}

export async function evaluateManifest(
  file: string,
  model: LoadedModel,
  options: ClassifyOptions = {},
  reference?: LoadedModel,
): Promise<EvaluationResult> {
  const entries = readDatasetManifest(file, 'manifest');
  const labelIndex = new Map(model.labels.map((l, i) => [l, i]));
  const started = performance.now();
  let top1 = 0;
  let top5 = 0;
  const agreements: ViewAgreement[] = [];
  for (const entry of entries) {
    const target = labelIndex.get(entry.label);
    if (target === undefined)
      throw new ServiceError(
        400,
        'invalid_parameter',
        `manifest '${file}' line ${entry.line} has label '${entry.label}', which model '${model.name}' does not know`,
        { parameter: 'manifest' },
      );
    let logits: Float32Array = new Float32Array(0);
    const result = await classifyVideo(
      { file: entry.path },
      model,
      { ...options, topK: 5 },
      { limits: DEFAULT_LIMITS, maxBatch: 4, onViewLogits: (l) => (logits = l) },
    );
    if (reference)
      agreements.push(viewAgreement(logits, await viewLogits(entry.path, reference, options), model.folder.architecture.numClasses));
    const ranks = result.labels.map((l) => l.index);
    if (ranks[0] === target) top1++;
    if (ranks.includes(target)) top5++;
  }
  return {
    model: model.name,
    videos: entries.length,
    top1: top1 / entries.length,
    top5: top5 / entries.length,
    seconds: (performance.now() - started) / 1000,
    ...(reference ? { agreement: agreementSummary(reference.name, combineAgreements(agreements)) } : {}),
  };
}

function agreementSummary(reference: string, total: ViewAgreement): NonNullable<EvaluationResult['agreement']> {
  return { reference, ...total, top1Agreement: total.views ? total.agreeing / total.views : 1 };
}
