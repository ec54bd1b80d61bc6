/**
 * `videomae import-checkpoint CKPT --kind actionformer --config CONFIG.yaml`: an official
 * ActionFormer checkpoint (train.py's save_checkpoint: {'epoch', 'state_dict', 'scheduler',
 * 'optimizer', 'state_dict_ema'}, keys prefixed `module.` by nn.DataParallel) and its official
 * config -> a temporal model folder. Like the official eval.py it takes `state_dict_ema` when
 * the file has it. Every key and shape is checked against actionFormerParameters before anything
 * is written; the folder is staged beside --out and renamed into place only when complete.
 *
 * The model is features-only (no backbone here made its features, e.g. 2048-d I3D); it runs on
 * precomputed features (`videomae detect-features`, POST /detect-temporal with `features`).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { bundledLabelPath, readLabels } from '../config/labels.js';
import type { TemporalManifest } from '../config/manifest.js';
import { sha256File } from '../config/manifest.js';
import { readOfficialActionFormerConfig, type OfficialActionFormerSettings } from '../weights/actionformer-official-config.js';
import { InvalidParameterError, ServiceError } from '../errors.js';
import { actionFormerParameters } from './actionformer-parameters.js';
import { CheckpointLayoutError, locateStateDict } from './checkpoint-mapping.js';
import { createTemporalModelFolder } from './create-temporal-model.js';
import type { TensorMap } from './safetensors.js';
import { assertOutAvailable, stageModelFolder } from './staged-folder.js';
import { compareSpecs, StateDictMismatchError } from './state-dict-check.js';
import { FLOAT_DTYPES, TorchCheckpoint, TorchTensor } from './torch-checkpoint.js';

/** The official dataset_name -> our bundled label set, for --labels left out. */
const LABELS_BY_DATASET: Readonly<Record<string, string>> = { thumos: 'thumos14' };

export interface ActionFormerImportOptions {
  readonly checkpoint: string;
  /** The official config YAML the checkpoint was trained with. */
  readonly config: string;
  readonly out: string;
  /** A label file (one per line, line i is class i) or a bundled set name; default from dataset_name (thumos). */
  readonly labels?: string;
  /** Top-level key of the weights (default: state_dict_ema, else state_dict, as eval.py loads the EMA). */
  readonly stateDictKey?: string;
  readonly name?: string;
  readonly force?: boolean;
  /** Runs on the staged folder before it is moved to --out (the ONNX export). */
  readonly finish?: (stagedDir: string) => Promise<void>;
}

export interface ActionFormerImportResult {
  readonly dir: string;
  readonly manifest: TemporalManifest;
  readonly container: string | undefined;
  readonly settings: OfficialActionFormerSettings;
  readonly tensors: number;
  readonly parameters: number;
  readonly seconds: number;
}

export async function importActionFormerCheckpoint(options: ActionFormerImportOptions): Promise<ActionFormerImportResult> {
  const started = performance.now();
  const file = resolve(options.checkpoint);
  if (!existsSync(file))
    throw new ServiceError(400, 'file_not_found', `checkpoint '${options.checkpoint}' does not exist`, { parameter: 'checkpoint' });
  assertOutAvailable(options.out, options.force === true); // before any tensor is read
  const settings = readOfficialActionFormerConfig(resolve(options.config));
  const { config } = settings;
  const labels = resolveLabels(options.labels, settings);

  const checkpoint = TorchCheckpoint.open(file);
  const tensors: TensorMap = new Map();
  let container: string | undefined;
  const dtypes = new Set<string>();
  let parameters = 0;
  let count = 0;
  try {
    const root = checkpoint.root;
    const holds = (key: string) =>
      root instanceof Map &&
      root.get(key) instanceof Map &&
      [...(root.get(key) as Map<unknown, unknown>).values()].some((v) => v instanceof TorchTensor);
    const key = options.stateDictKey ?? (holds('state_dict_ema') ? 'state_dict_ema' : holds('state_dict') ? 'state_dict' : undefined);
    const located = locateStateDict(root, (v): v is TorchTensor => v instanceof TorchTensor, file, key);
    container = located.container;
    const entries = stripDataParallel(located.entries, file);
    const report = compareSpecs(actionFormerParameters(config), entries);
    if (report.missing.length || report.unexpected.length || report.mismatched.length) {
      throw new StateDictMismatchError(
        report,
        `checkpoint '${file}'${container ? ` ('${container}')` : ''} with config '${options.config}'`,
      );
    }
    for (const [name, tensor] of entries) {
      if (!FLOAT_DTYPES.has(tensor.dtype))
        throw new CheckpointLayoutError(file, `stores '${name}' as ${tensor.dtype}; ActionFormer weights are floating point`);
      dtypes.add(tensor.dtype);
      parameters += tensor.numel;
      count += 1;
      tensors.set(name, { shape: tensor.shape, data: checkpoint.readFloat32(tensor, name) });
    }
  } finally {
    checkpoint.close();
  }

  const sha256 = await sha256File(file);
  const out = resolve(options.out);
  return stageModelFolder(out, options.force === true, async (staged) => {
    const manifest = await createTemporalModelFolder({
      dir: staged,
      name: options.name ?? basename(out),
      config,
      tensors,
      labels: labels.names,
      labelSet: labels.set,
      features: {
        numFrames: settings.features.numFrames,
        featureStride: settings.features.featureStride,
        ...(settings.features.defaultFps !== null ? { defaultFps: settings.features.defaultFps } : {}),
      },
      postprocess: settings.postprocess,
      description: `ActionFormer (${settings.datasetName}, ${config.inputDim}-d features) imported from ${basename(file)} with ${basename(options.config)}; features-only: runs on precomputed features.`,
      provenance: {
        source: 'checkpoint',
        trained: true,
        metrics: {},
        checkpoint: {
          file: basename(file),
          sha256,
          arch: 'actionformer',
          format: 'pth',
          ...(container ? { container } : {}),
          dtypes: [...dtypes].sort(),
          storedAs: 'float32',
        },
        note: `official config ${basename(options.config)} (dataset_name ${settings.datasetName})`,
      },
    });
    tensors.clear(); // the export reads the written file
    await options.finish?.(staged);
    return { dir: out, manifest, container, settings, tensors: count, parameters, seconds: (performance.now() - started) / 1000 };
  });
}

/** nn.DataParallel's `module.` prefix off every key (only that one: ActionFormer's own keys start with `backbone.`). */
function stripDataParallel<T>(entries: Map<string, T>, file: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of entries) {
    let name = key;
    while (name.startsWith('module.')) name = name.slice('module.'.length);
    if (out.has(name)) throw new CheckpointLayoutError(file, `has two tensors that both map to '${name}' (one is '${key}')`);
    out.set(name, value);
  }
  return out;
}

function resolveLabels(given: string | undefined, settings: OfficialActionFormerSettings): { names: string[]; set: string } {
  const numClasses = settings.config.numClasses;
  const requested = given ?? LABELS_BY_DATASET[settings.datasetName];
  if (!requested) {
    throw new ServiceError(
      400,
      'missing_parameter',
      `--labels is required: the config's dataset_name '${settings.datasetName}' has no bundled label map (bundled: ${Object.keys(LABELS_BY_DATASET).join(', ')})`,
      { parameter: 'labels' },
    );
  }
  const path = bundledLabelPath(requested) ?? requested;
  if (!existsSync(path)) throw new InvalidParameterError('labels', requested, 'is neither a bundled label set nor an existing file');
  const names = readLabels(path);
  if (names.length !== numClasses)
    throw new InvalidParameterError(
      'labels',
      requested,
      `has ${names.length} labels but the config's dataset.num_classes is ${numClasses}`,
    );
  return { names, set: bundledLabelPath(requested) ? requested : basename(requested).replace(/\.[^.]*$/, '') };
}
