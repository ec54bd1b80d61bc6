#!/usr/bin/env node
/**
 * The `videomae` command: serve, train, make-dataset, export, import-checkpoint, pull, init-model, predict, evaluate,
 * extract-features.
 * Training modules (TF.js) load only for the commands that need them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { architectureNames, makeArchitecture, type ArchitectureOptions } from './config/architectures.js';
import { BUNDLED_LABELS_DIR, readLabels, bundledLabelPath } from './config/labels.js';
import { ServiceError } from './errors.js';
import { DEFAULT_ADMISSION } from './http/admission.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './http/app.js';
import { DEFAULT_URL_LIMITS } from './http/fetch-url.js';
import { DEFAULT_JOB_OPTIONS } from './http/jobs/job-manager.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, startServer } from './http/server.js';
import { ListenError } from './http/listen.js';
import { DEFAULT_UPLOAD_IDLE_TIMEOUT_MS } from './http/upload.js';
import { exportModelFolder } from './onnx/export-model.js';
import type { DeviceRequest } from './runtime/inference-runner.js';
import { loadModel, ModelRegistry } from './runtime/model-registry.js';
import { classifyVideo } from './tasks/classify/pipeline.js';
import type { ClassifyOptions } from './tasks/classify/prepare.js';
import { DEFAULT_LIMITS, type VideoLimits } from './video/limits.js';
import { DEFAULT_CENTERNET_OPTIONS } from './detector/centernet.js';
import type { ProtocolName } from './video/sampling.js';
import { createModelFolder } from './weights/create-model.js';
import { randomWeights } from './weights/random-init.js';
import { addPullCommand } from './cli/pull.js';

/** The released VideoMAE V2 architectures (timm-style names, as the official code registers them). */
const OFFICIAL_ARCHS = ['vit_small_patch16_224', 'vit_base_patch16_224', 'vit_large_patch16_224', 'vit_huge_patch16_224', 'vit_giant_patch14_224'];

/** models/ of this package: the bundled default lives there. */
const BUNDLED_MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url));

/** The version in this package's package.json (one level above src/ and dist/). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a positive integer`);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`'${value}' is not a positive number`);
  return n;
}

const deviceOption = () => new Option('--device <device>', 'execution provider: auto (CUDA when available), cuda or cpu')
  .choices(['auto', 'cuda', 'cpu']).default('auto');
const protocolOption = () => new Option('--protocol <name>', 'sampling preset').choices(['k400', 'ssv2', 'fast']);

interface LimitFlags {
  maxUploadMb: number;
  maxDuration: number;
  maxWidth: number;
  maxHeight: number;
  maxFrames: number;
  maxDecodePixels: number;
}

function addLimitOptions(command: Command): Command {
  return command
    .option('--max-upload-mb <mb>', 'largest accepted upload', positiveNumber, DEFAULT_LIMITS.maxBytes / 2 ** 20)
    .option('--max-duration <seconds>', 'longest accepted video', positiveNumber, DEFAULT_LIMITS.maxDurationSec)
    .option('--max-width <px>', 'widest accepted video', positiveInt, DEFAULT_LIMITS.maxWidth)
    .option('--max-height <px>', 'tallest accepted video', positiveInt, DEFAULT_LIMITS.maxHeight)
    .option('--max-frames <n>', 'most frames in an accepted video', positiveInt, DEFAULT_LIMITS.maxFrames)
    .option('--max-decode-pixels <n>', 'most decode work one request may ask for, in decoded pixels (frames x width x height, seek pre-roll and per-frame overhead included; 413 decode_budget_exceeded beyond)', positiveNumber, DEFAULT_LIMITS.maxDecodePixels);
}

function limitsFrom(flags: LimitFlags): VideoLimits {
  return {
    maxBytes: Math.round(flags.maxUploadMb * 2 ** 20),
    maxDurationSec: flags.maxDuration,
    maxWidth: flags.maxWidth,
    maxHeight: flags.maxHeight,
    maxFrames: flags.maxFrames,
    maxDecodePixels: flags.maxDecodePixels,
  };
}

/** API keys from a file (one per line, # comments) and VIDEOMAE_API_KEYS (comma-separated). */
function readApiKeys(file: string | undefined): string[] {
  const fromFile = file ? readFileSync(resolve(file), 'utf8').split('\n') : [];
  const fromEnv = (process.env.VIDEOMAE_API_KEYS ?? '').split(',');
  const keys = [...fromFile, ...fromEnv].map((k) => k.trim()).filter((k) => k && !k.startsWith('#'));
  const short = keys.find((k) => k.length < 16);
  if (short !== undefined) throw new InvalidArgumentError('API keys must be at least 16 characters long');
  return keys;
}

function buildCli(): Command {
  const program = new Command('videomae')
    .description('VideoMAE V2 video understanding: serve, export and run models')
    .version(packageVersion(), '-V, --version', 'print the version of videomae')
    .showHelpAfterError();

  addLimitOptions(program.command('serve')
    .description('start the HTTP service')
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on', (v) => Number.parseInt(v, 10), 8080)
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--default-model <name>', 'model used when a request names none')
    .addOption(deviceOption())
    .option('--threads <n>', 'ONNX Runtime threads per run (default: all cores)', positiveInt)
    .option('--max-batch <n>', 'views per ONNX Runtime run', positiveInt, 4)
    .option('--batch-across-requests', 'let concurrent /classify requests share ONNX Runtime runs')
    .option('--batch-max <n>', 'with --batch-across-requests: views per shared run at most', positiveInt, 16)
    .option('--batch-wait-ms <ms>', 'with --batch-across-requests: how long an idle model waits for more views', (v) => { const n = Number(v); if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of milliseconds`); return n; }, 5)
    .option('--request-timeout <seconds>', 'deadline of every request (504 and its work stopped beyond; 0 = none)', (v) => { const n = Number(v); if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of seconds`); return n; }, DEFAULT_REQUEST_TIMEOUT_MS / 1000)
    .option('--max-in-flight <n>', '/classify requests decoding and inferring at once', positiveInt, DEFAULT_ADMISSION.maxInFlight)
    .option('--max-waiting <n>', '/classify requests waiting for a turn (503 + Retry-After beyond)', (v) => { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a whole number`); return n; }, DEFAULT_ADMISSION.maxQueued)
    .option('--url-allow-host <host>', 'fetch videos by URL from this host (repeat; *.example.com for subdomains); off when none', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--url-timeout <seconds>', 'longest a URL fetch may take', positiveNumber, DEFAULT_URL_LIMITS.timeoutMs / 1000)
    .option('--shutdown-grace <seconds>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish', positiveNumber, 30)
    .option('--api-keys-file <file>', 'require Authorization: Bearer <key> with one of the keys in this file (one per line; also VIDEOMAE_API_KEYS, comma-separated)')
    .option('--retry-after <seconds>', 'Retry-After of a 503 at capacity', positiveInt, DEFAULT_ADMISSION.retryAfterSec)
    .option('--temp-dir <dir>', 'where uploads are spooled', join(tmpdir(), 'videomae'))
    .option('--state-dir <dir>', 'where jobs, their inputs and results are kept across restarts', join(tmpdir(), 'videomae-state'))
    .option('--state-repair', 'if the job database is corrupt, move it aside and start with no jobs (says how many were lost)')
    .option('--upload-idle-timeout <seconds>', 'cut an upload that sends no byte for this long (408; 0 = never)', (v) => { const n = Number(v); if (!(n >= 0)) throw new InvalidArgumentError(`'${v}' is not a number of seconds`); return n; }, DEFAULT_UPLOAD_IDLE_TIMEOUT_MS / 1000)
    .option('--header-timeout <seconds>', 'cut a client that takes longer than this to send its request headers', positiveNumber, DEFAULT_HEADERS_TIMEOUT_MS / 1000)
    .option('--max-queued-jobs <n>', 'jobs queued or running at most (503 queue_full beyond)', positiveInt, DEFAULT_JOB_OPTIONS.maxQueued)
    .option('--job-retention <seconds>', 'how long finished jobs and their results are kept', positiveNumber, DEFAULT_JOB_OPTIONS.retentionMs / 1000)
    .option('--job-wait <seconds>', 'longest a ?wait=true request waits for its job', positiveNumber, 60)
    .option('--person-threshold <score>', 'person boxes the detector keeps (CenterNet score)', Number.parseFloat, 0.3)
    .option('--person-detector <file.onnx>', 'an ONNX person detector instead of CenterNet: input [1, 3, S, S] RGB / 255, output [1, N, 6] rows x1, y1, x2, y2, score, class (0 = person) in input pixels')
    .option('--person-detector-size <px>', 'input size S of --person-detector', positiveInt, 640)
    .option('--person-enlarge <factor>', 'scale detected person boxes about their centre (1 = as detected)', positiveNumber, 1))
    .action(async (flags) => {
      const running = await startServer({
        stateDir: resolve(flags.stateDir),
        stateRepair: Boolean(flags.stateRepair),
        uploadIdleTimeoutMs: flags.uploadIdleTimeout * 1000,
        headersTimeoutMs: flags.headerTimeout * 1000,
        jobs: { maxQueued: flags.maxQueuedJobs, retentionMs: flags.jobRetention * 1000 },
        jobWaitMs: flags.jobWait * 1000,
        personThreshold: flags.personThreshold,
        personEnlarge: flags.personEnlarge,
        ...(flags.personDetector ? { personDetectorOnnx: { file: resolve(flags.personDetector), size: flags.personDetectorSize } } : {}),
        host: flags.host,
        port: flags.port,
        modelsDir: resolve(flags.models),
        defaultModel: flags.defaultModel,
        device: flags.device as DeviceRequest,
        threads: flags.threads,
        maxBatch: flags.maxBatch,
        tempDir: flags.tempDir,
        limits: limitsFrom(flags),
        requestTimeoutMs: flags.requestTimeout * 1000,
        admission: { maxInFlight: flags.maxInFlight, maxQueued: flags.maxWaiting, retryAfterSec: flags.retryAfter },
        apiKeys: readApiKeys(flags.apiKeysFile),
        ...(flags.batchAcrossRequests ? { batching: { maxBatch: flags.batchMax, maxWaitMs: flags.batchWaitMs } } : {}),
        ...(flags.urlAllowHost.length ? { urlFetch: { allowHosts: flags.urlAllowHost, maxBytes: Math.round(flags.maxUploadMb * 2 ** 20), timeoutMs: flags.urlTimeout * 1000, maxRedirects: DEFAULT_URL_LIMITS.maxRedirects } } : {}),
      });
      const log = running.state.logger;
      log.info({ url: running.url, models: resolve(flags.models) }, `listening on ${running.url}`);
      running.loaded.then(() => {
        const registry = running.state.registry;
        const models = [...registry.list(), ...registry.listTemporal(), ...registry.listSpatiotemporal()];
        for (const failure of registry.failures) log.error(failure, `model folder failed to load: ${failure.folder}`);
        log.info({ models: models.map((m) => ({ name: m.name, provider: m.runner.provider })), failed: registry.failures.length }, registry.failures.length ? 'serving, not ready' : 'ready');
      }, (error: Error) => {
        log.fatal({ err: error }, 'cannot load models');
        void running.close().finally(() => process.exit(1));
      });
      const stop = (signal: string): void => {
        log.info({ signal }, 'signal received');
        void running.shutdown(flags.shutdownGrace * 1000).then(() => process.exit(0), (error: Error) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

  program.command('export')
    .description('build model.onnx from model.json + weights.safetensors')
    .argument('<modelDirs...>', 'model folders')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .action(async (dirs: string[], flags) => {
      for (const dir of dirs) {
        const result = await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {});
        const external = result.externalDataPath ? ` + ${result.externalDataPath}` : '';
        console.log(`exported ${result.modelPath}${external} (${(result.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights, ${result.seconds.toFixed(1)} s)`);
      }
    });

  program.command('import-checkpoint')
    .description('import an official VideoMAE V2 PyTorch checkpoint (.pth), or a Hugging Face transformers folder (--format hf), into a servable model folder')
    .argument('<checkpoint>', 'the .pth file (torch.save, zip or legacy format), or with --format hf the folder holding config.json and the weights')
    .requiredOption('--out <dir>', 'model folder to create (for example models/vit-s-k400)')
    .addOption(new Option('--format <format>', 'pth: an official checkpoint; hf: a transformers VideoMAE folder (architecture, labels and preprocessing from its config)').choices(['pth', 'hf']).default('pth'))
    .addOption(new Option('--kind <kind>', 'classifier: a VideoMAE V2 classification/pretraining checkpoint; ava: a VideoMAE-Action-Detection checkpoint (writes --out and --out-backbone)').choices(['classifier', 'ava']).default('classifier'))
    .addOption(new Option('--arch <name>', 'architecture of the checkpoint (required for --format pth)').choices(OFFICIAL_ARCHS))
    .option('--num-classes <n>', 'head size to expect (default: the checkpoint\'s head)', positiveInt)
    .option('--labels <set|file>', 'label set (k710, k400, k600, k700, sthv2, ucf101, hmdb51) or file (default: from the head size)')
    .addOption(new Option('--head-map <map>', 'keep the Kinetics-710 head rows of a subset (official index maps)').choices(['710to400', '710to600', '710to700']))
    .option('--state-dict-key <key>', 'top-level key holding the weights, e.g. model_ema or state_dict_ema for the EMA weights (default: the first of model, module, model_ema, state_dict, state_dict_ema, else the top level)')
    .option('--fp16', 'store the weights as float16 (halves weights.safetensors and model.onnx; computes in float32)')
    .option('--pretrain', 'keep the decoder of a pretraining checkpoint (a folder for train --init)')
    .option('--name <name>', 'model name (default: the folder name)')
    .addOption(protocolOption())
    .option('--depth <n>', 'blocks (custom sizes)', positiveInt)
    .option('--embed-dim <n>', 'token width (custom sizes)', positiveInt)
    .option('--num-heads <n>', 'attention heads (custom sizes)', positiveInt)
    .option('--mlp-ratio <r>', 'MLP hidden width / token width (custom sizes)', positiveNumber)
    .option('--patch-size <px>', 'spatial patch size', positiveInt)
    .option('--num-frames <n>', 'frames per clip', positiveInt)
    .option('--img-size <px>', 'input height and width', positiveInt)
    .option('--tubelet-size <n>', 'frames per tube', positiveInt)
    .option('--decoder-num-heads <n>', 'decoder heads with --pretrain when the width is not an official one', positiveInt)
    .option('--force', 'replace a non-empty --out')
    .option('--no-export', 'skip the ONNX export')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .action(async (checkpoint: string, flags) => {
      if (flags.kind === 'ava') return (await import('./cli/import-ava.js')).runAvaImport(checkpoint, flags);
      if (flags.format === 'hf') return (await import('./cli/import-hf.js')).runHfImport(checkpoint, flags);
      if (!flags.arch) throw new ServiceError(400, 'missing_parameter', `--arch is required for a .pth checkpoint (one of ${OFFICIAL_ARCHS.join(', ')}); a transformers folder takes --format hf`, { parameter: '--arch' });
      const { importCheckpoint } = await import('./weights/import-checkpoint.js');
      const architecture: ArchitectureOptions = {};
      if (flags.depth) architecture.depth = flags.depth;
      if (flags.embedDim) architecture.embedDim = flags.embedDim;
      if (flags.numHeads) architecture.numHeads = flags.numHeads;
      if (flags.mlpRatio) architecture.mlpRatio = flags.mlpRatio;
      if (flags.patchSize) architecture.patchSize = flags.patchSize;
      if (flags.numFrames) architecture.numFrames = flags.numFrames;
      if (flags.imgSize) architecture.imageSize = flags.imgSize;
      if (flags.tubeletSize) architecture.tubeletSize = flags.tubeletSize;
      let exported = '';
      const result = await importCheckpoint({
        checkpoint, out: flags.out, arch: flags.arch, architecture,
        ...(flags.numClasses ? { numClasses: flags.numClasses } : {}),
        ...(flags.labels ? { labels: flags.labels } : {}),
        ...(flags.headMap ? { headMap: flags.headMap } : {}),
        ...(flags.stateDictKey ? { stateDictKey: flags.stateDictKey } : {}),
        ...(flags.fp16 ? { fp16: true } : {}),
        ...(flags.pretrain ? { pretrain: true } : {}),
        ...(flags.decoderNumHeads ? { decoderNumHeads: flags.decoderNumHeads } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.protocol ? { protocol: flags.protocol } : {}),
        ...(flags.force ? { force: true } : {}),
        ...(flags.export ? {
          finish: async (dir: string) => {
            const r = await exportModelFolder(dir, flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {});
            exported = `, model.onnx${r.externalDataPath ? ' + model.onnx.data' : ''} (${(r.initializerBytes / 2 ** 20).toFixed(1)} MiB of weights)`;
          },
        } : {}),
      });
      const a = result.manifest.architecture;
      console.log(`imported ${checkpoint} -> ${result.dir}: ${result.kind} ${a.arch} (depth ${a.depth}, width ${a.embedDim}, ${a.numClasses} classes), `
        + `${result.tensors} tensors, ${(result.parameters / 1e6).toFixed(2)} M parameters${exported}, ${result.seconds.toFixed(1)} s`);
      if (result.container) console.log(`  the state dict under '${result.container}' (--state-dict-key picks another)`);
      if (result.droppedKeys.length) console.log(`  left out ${result.droppedKeys.length} pretraining-only keys (decoder, encoder_to_decoder, mask_token, norm); --pretrain keeps them`);
      if (result.initializedKeys.length) console.log(`  initialized as fine-tuning starts: ${result.initializedKeys.join(', ')}`);
    });

  addPullCommand(program, positiveInt);

  program.command('init-model')
    .description('write a model folder with seeded random weights (untrained), then export it')
    .requiredOption('--out <dir>', 'model folder to create')
    .addOption(new Option('--arch <name>', 'architecture').choices(architectureNames()).default('vit_small_patch16_224'))
    .option('--name <name>', 'model name (default: the folder name)')
    .option('--labels <set|file>', 'label set (k400, k600, k700, k710, sthv2, ucf101, hmdb51) or file', 'k400')
    .option('--num-classes <n>', 'head size (default: the number of labels)', positiveInt)
    .option('--num-frames <n>', 'frames per clip', positiveInt, 16)
    .option('--image-size <px>', 'input height and width', positiveInt, 224)
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 1)
    .addOption(protocolOption().default('k400'))
    .option('--no-export', 'skip the ONNX export')
    .action(async (flags) => {
      const labelsFile = bundledLabelPath(flags.labels) ?? flags.labels;
      const numClasses = flags.numClasses ?? (existsSync(labelsFile) ? readLabels(labelsFile).length : 0);
      const architecture = makeArchitecture(flags.arch, { numClasses, numFrames: flags.numFrames, imageSize: flags.imageSize });
      const dir = resolve(flags.out);
      await createModelFolder({
        dir,
        name: flags.name ?? dir.split('/').filter(Boolean).pop()!,
        architecture,
        tensors: randomWeights(architecture, flags.seed),
        labels: flags.labels,
        protocol: flags.protocol as ProtocolName,
        description: `Untrained ${flags.arch} with seeded random weights (seed ${flags.seed}).`,
        provenance: { source: 'random-init', trained: false, seed: flags.seed, metrics: {}, note: 'random weights: scores carry no meaning' },
      });
      console.log(`wrote ${dir}`);
      if (flags.export) {
        const result = await exportModelFolder(dir);
        console.log(`exported ${result.modelPath}`);
      }
    });

  program.command('predict')
    .description('classify one video file and print the same JSON as POST /classify; with --temporal, detect actions in time (the /detect-temporal result); '
      + 'with --spatiotemporal, who does what where (the /detect-spatiotemporal result)')
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
    .option('--results <file>', 'temporal: also write ActivityNet results {results: {video: [{segment, label, score}]}} (for evaluate temporal)')
    .option('--spatiotemporal', 'AVA-style detection: people found by the person detector, each with its actions, at every keyframe')
    .option('--keyframe-interval <seconds>', 'spatiotemporal: seconds between keyframes', positiveNumber)
    .option('--person-threshold <score>', 'spatiotemporal: person boxes the detector keeps (CenterNet score)', Number.parseFloat, DEFAULT_CENTERNET_OPTIONS.scoreThreshold)
    .action(async (video: string, flags) => {
      if (!existsSync(video)) throw new ServiceError(400, 'file_not_found', `video '${video}' does not exist`, { parameter: 'video' });
      if (flags.temporal && flags.spatiotemporal) throw new ServiceError(400, 'invalid_parameter', 'choose one of --temporal and --spatiotemporal', { parameter: 'spatiotemporal' });
      if (flags.temporal) {
        await predictTemporal(video, flags);
        return;
      }
      if (isVideoList(video)) {
        throw new ServiceError(400, 'invalid_parameter',
          `'${video}' is a list of videos; predict classifies one video: run it once per file, use --temporal for temporal detection over a list, `
          + "or 'videomae evaluate LIST.csv' (path,label) for accuracy on a labelled list", { parameter: 'video', value: video });
      }
      if (flags.spatiotemporal) {
        await predictSpatiotemporal(video, flags);
        return;
      }
      const registry = await loadRegistry(flags.models, { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) }, flags.model);
      try {
        const options: ClassifyOptions = {};
        if (flags.model) options.model = flags.model;
        if (flags.topK) options.topK = flags.topK;
        if (flags.protocol) options.protocol = flags.protocol;
        if (flags.numClips) options.numClips = flags.numClips;
        if (flags.numCrops) options.numCrops = flags.numCrops;
        if (flags.numFrames) options.numFrames = flags.numFrames;
        if (flags.samplingRate) options.samplingRate = flags.samplingRate;
        const result = await classifyVideo({ file: resolve(video), displayName: video }, registry.resolve(flags.model), options,
          { limits: DEFAULT_LIMITS, maxBatch: flags.maxBatch });
        console.log(JSON.stringify(result, null, 2));
      } finally {
        await registry.close();
      }
    });

  program.command('train')
    .description('run a training recipe; each stage writes a servable model folder. Stages: '
      + 'pretrain (VideoMAE V2 dual-masking reconstruction), finetune (classification head + encoder), '
      + 'distill (a student from a teacher\'s logits), actionformer (temporal detector on extracted features), '
      + 'ava (AVA action head on a frozen backbone)')
    .argument('<recipe>', 'recipe JSON file (see recipes/ and docs/training.md)')
    .option('--out <dir>', 'model folder for the final stage (instead of the recipe\'s out); needed to replace a bundled model such as models/default')
    .option('--init <model-folder>', 'start the first stage from these weights')
    .option('--resume <checkpoint>', 'continue an interrupted stage from its checkpoint.safetensors')
    .addOption(new Option('--backend <name>', 'TF.js backend: auto, tensorflow (tfjs-node-gpu/-node when installed), wasm or cpu').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('--stop-after <steps>', 'stop the running stage after this many steps, with a checkpoint', positiveInt)
    .action(async (recipeFile: string, flags) => {
      const { trainRecipe } = await import('./train/trainer.js');
      const { loadRecipe } = await import('./train/recipe.js');
      const { refuseBundledOverwrite, withFinalOutput } = await import('./train/recipe-output.js');
      let recipe = loadRecipe(resolve(recipeFile));
      if (flags.out) recipe = withFinalOutput(recipe, flags.out);
      refuseBundledOverwrite(recipe, BUNDLED_MODELS_DIR, flags.out);
      const results = await trainRecipe(recipe, {
        backend: flags.backend,
        ...(flags.init ? { init: resolve(flags.init) } : {}),
        ...(flags.resume ? { resume: resolve(flags.resume) } : {}),
        ...(flags.stopAfter ? { stopAfter: flags.stopAfter } : {}),
      });
      console.log(JSON.stringify(results.map(({ losses, ...rest }) => ({ ...rest, firstLoss: losses[0], lastLoss: losses[losses.length - 1] })), null, 2));
    });

  program.command('make-dataset')
    .description('write a dataset of real encoded videos and CSV manifests')
    .argument('<kind>', "dataset kind: 'synthetic' (trimmed clips, classes defined by motion and change over time) 'synthetic-temporal' (long videos with action instances at known times, ActivityNet-style annotations) or 'synthetic-ava' (several actors, boxes and actions per keyframe as AVA CSV)")
    .requiredOption('--out <dir>', 'output folder')
    .option('--classes <names>', 'comma-separated class names (default: all)')
    .option('--videos <n>', 'synthetic: videos per class (train + val); synthetic-temporal: videos', positiveInt, 40)
    .option('--val-fraction <f>', 'share of each class held out for validation', positiveNumber, 0.25)
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 0)
    .option('--size <px>', 'frame width and height', positiveInt, 112)
    .option('--frames <n>', 'frames per video', positiveInt, 32)
    .option('--fps <n>', 'frame rate', positiveInt, 16)
    .option('--seconds <s>', 'synthetic-temporal / synthetic-ava: length of each video', positiveNumber, 40)
    .option('--actors <n>', 'synthetic-ava: actors per video', positiveInt)
    .action(async (kind: string, flags) => {
      const { ProgressBar } = await import('./train/progress.js');
      const bar = new ProgressBar();
      const onProgress = (done: number, total: number): void => bar.count('videos written', done, total);
      if (kind === 'synthetic-ava') {
        const { makeSyntheticAvaDataset } = await import('./datasets/synthetic-ava.js');
        const result = await makeSyntheticAvaDataset({
          out: resolve(flags.out), videos: flags.videos, valFraction: flags.valFraction, seed: flags.seed, size: flags.size,
          fps: flags.fps, seconds: flags.seconds, onProgress, ...(flags.actors ? { actors: flags.actors } : {}),
        });
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      if (kind === 'synthetic-temporal') {
        const { makeSyntheticTemporalDataset } = await import('./datasets/synthetic-temporal.js');
        const result = await makeSyntheticTemporalDataset({
          out: resolve(flags.out), videos: flags.videos, valFraction: flags.valFraction, seed: flags.seed, size: flags.size,
          fps: flags.fps, seconds: flags.seconds, onProgress, ...(flags.classes ? { classes: String(flags.classes).split(',').map((c) => c.trim()) } : {}),
        });
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      if (kind !== 'synthetic') throw new ServiceError(400, 'invalid_parameter', `parameter 'kind' must be 'synthetic', 'synthetic-temporal' or 'synthetic-ava' (got '${kind}')`, { parameter: 'kind', value: kind });
      const { makeSyntheticDataset } = await import('./datasets/synthetic.js');
      const result = await makeSyntheticDataset({
        out: resolve(flags.out), videosPerClass: flags.videos, valFraction: flags.valFraction, seed: flags.seed,
        width: flags.size, height: flags.size, frames: flags.frames, fps: flags.fps, onProgress,
        ...(flags.classes ? { classes: String(flags.classes).split(',').map((c) => c.trim()) } : {}),
      });
      console.log(JSON.stringify(result, null, 2));
    });

  program.command('extract-features')
    .description('sliding-clip backbone features of whole videos, one [T, D] float32 .npy per video (ActionFormer\'s input)')
    .argument('<input>', 'a video file, or a list of videos (.csv with a path column, or one path per line)')
    .requiredOption('--out <dir>', 'folder for <video>.npy and features.json')
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name|folder>', 'backbone: a model name under --models, or a model folder', 'default')
    .option('--stride <frames>', 'frames between clip starts', positiveInt, 4)
    .addOption(new Option('--normalization <kind>', 'unit: pixels / 255 (the official TAD extraction); imagenet: the classification mean/std').choices(['unit', 'imagenet']).default('unit'))
    .option('--batch <n>', 'clips per ONNX Runtime run', positiveInt, 4)
    .option('--threads <n>', 'ONNX Runtime threads per run', positiveInt)
    .option('--force', 'recompute videos already extracted with the same backbone and settings')
    .addOption(deviceOption())
    .action(async (input: string, flags) => {
      const { extractFeaturesToFolder } = await import('./tasks/temporal/extract.js');
      const { defaultFeatureSettings } = await import('./tasks/temporal/features.js');
      const { readVideoList } = await import('./datasets/manifest.js');
      if (!existsSync(input)) throw new ServiceError(400, 'file_not_found', `input '${input}' does not exist`, { parameter: 'input' });
      const isList = /\.(csv|txt)$/i.test(input);
      const videos = isList ? readVideoList(resolve(input), 'input') : [resolve(input)];
      const folder = existsSync(join(flags.model, 'model.json')) ? flags.model : join(flags.models, flags.model);
      if (!existsSync(join(folder, 'model.json'))) {
        throw new ServiceError(404, 'model_not_found', `backbone '${flags.model}' is neither a model folder nor a model under '${flags.models}'`, { parameter: 'model', value: flags.model });
      }
      const model = await loadModel(resolve(folder), { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) });
      try {
        const settings = defaultFeatureSettings(model, { featureStride: flags.stride, normalization: flags.normalization });
        const index = await extractFeaturesToFolder({
          videos, model, out: resolve(flags.out), settings, maxBatch: flags.batch, limits: DEFAULT_LIMITS,
          ...(flags.force ? { force: true } : {}),
          onSkip: (id, done, total) => console.log(`[${done}/${total}] ${id}: already extracted with these settings, skipped (--force recomputes)`),
          onVideo: (id, entry, done, total) => console.log(`[${done}/${total}] ${id}: ${entry.clips} x ${entry.dim} features from ${entry.frames} frames `
            + `(${entry.durationSec.toFixed(1)} s of video in ${entry.seconds.toFixed(1)} s, ${(entry.durationSec / entry.seconds).toFixed(2)}x real time)`),
        });
        console.log(`wrote ${Object.keys(index.videos).length} feature files to ${resolve(flags.out)} (backbone '${model.name}', ${settings.numFrames}-frame clips every ${settings.featureStride} frames, ${settings.size}x${settings.size}, ${settings.normalization})`);
      } finally {
        await model.runner.close();
      }
    });

  program.command('evaluate')
    .description("top-1 / top-5 of a served model on a dataset manifest (the /classify path: ffmpeg + ONNX Runtime); "
      + "'evaluate temporal' scores detections against ActivityNet-style ground truth (mAP per tIoU); "
      + "'evaluate ava' gives AVA frame mAP at IoU 0.5")
    .argument('<target>', "CSV with path,label; or 'temporal'; or 'ava'")
    .option('--models <dir>', 'folder of model folders', BUNDLED_MODELS_DIR)
    .option('--model <name>', 'model to use (default: the default model)')
    .addOption(protocolOption())
    .option('--num-clips <n>', 'clips per video', positiveInt)
    .option('--num-crops <n>', 'crops per clip', positiveInt)
    .addOption(deviceOption())
    .option('--ground-truth <file>', 'temporal: ActivityNet-style annotations {database: {video: {subset, duration, annotations}}}; ava: the ground-truth CSV')
    .option('--predictions <file>', 'temporal: ActivityNet results {results: {video: [{segment, label, score}]}}; ava: the detections CSV')
    .option('--labels <file>', "ava: the evaluated classes ('id: name' lines or the official .pbtxt)", join(BUNDLED_LABELS_DIR, 'ava_v2.2_evaluated_60.txt'))
    .option('--exclusions <file>', 'ava: keyframes to leave out (video_id, timestamp)')
    .option('--subset <name>', 'temporal: only ground truth of this subset (e.g. validation)')
    .option('--tiou <thresholds>', 'temporal: tIoU thresholds, a range from:to:step or a list', '0.3:0.7:0.1')
    .action(async (target: string, flags) => {
      if (target === 'temporal') {
        await evaluateTemporal(flags);
        return;
      }
      if (target === 'ava') {
        await evaluateAvaFiles(flags);
        return;
      }
      const { evaluateManifest } = await import('./tasks/classify/evaluate.js');
      const registry = await loadRegistry(flags.models, { device: flags.device }, flags.model);
      try {
        const options: ClassifyOptions = {};
        if (flags.protocol) options.protocol = flags.protocol;
        if (flags.numClips) options.numClips = flags.numClips;
        if (flags.numCrops) options.numCrops = flags.numCrops;
        const result = await evaluateManifest(resolve(target), registry.resolve(flags.model), options);
        console.log(JSON.stringify(result, null, 2));
      } finally {
        await registry.close();
      }
    });

  return program;
}

async function predictTemporal(input: string, flags: { models: string; model?: string; device: DeviceRequest; threads?: number; maxBatch: number; scoreThreshold?: number; maxSegments?: number; results?: string }): Promise<void> {
  const { detectTemporal } = await import('./tasks/temporal/detect.js');
  const { readVideoList } = await import('./datasets/manifest.js');
  const { videoId } = await import('./tasks/temporal/extract.js');
  const videos = isVideoList(input) ? readVideoList(resolve(input), 'video') : [resolve(input)];
  const registry = await loadRegistry(flags.models, { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) }, undefined);
  try {
    const models = registry.resolveTemporal(flags.model);
    const results: Record<string, Array<{ segment: [number, number]; label: string; score: number }>> = {};
    for (const file of videos) {
      const result = await detectTemporal({ file, displayName: file }, models, {
        ...(flags.scoreThreshold !== undefined ? { scoreThreshold: flags.scoreThreshold } : {}),
        ...(flags.maxSegments ? { maxSegments: flags.maxSegments } : {}),
      }, { limits: DEFAULT_LIMITS, maxBatch: flags.maxBatch });
      results[videoId(file)] = result.segments.map((s) => ({ segment: [s.start, s.end], label: s.label, score: s.score }));
      if (videos.length === 1) console.log(JSON.stringify(result, null, 2));
      else console.log(`[${Object.keys(results).length}/${videos.length}] ${videoId(file)}: ${result.segments.length} segments in ${(result.timings.totalMs / 1000).toFixed(1)} s`);
    }
    if (flags.results) {
      writeFileSync(resolve(flags.results), `${JSON.stringify({ version: 'videomae-serve', results, external_data: { model: models.detector.name, backbone: models.backbone.name } })}\n`);
      console.log(`wrote ActivityNet results for ${videos.length} videos to ${resolve(flags.results)}`);
    }
  } finally {
    await registry.close();
  }
}

/**
 * The models under `dir`, as `serve` loads them: a folder that fails (no model.onnx yet, a bad
 * manifest) is reported on stderr and the others still serve; asking for the failed one names why.
 */
async function loadRegistry(dir: string, options: { device: DeviceRequest; threads?: number }, model: string | undefined): Promise<ModelRegistry> {
  const registry = await ModelRegistry.load(resolve(dir), options, model);
  for (const failure of registry.failures) console.error(`videomae: warning: model folder '${failure.folder}' not loaded (${failure.code}): ${failure.message}`);
  return registry;
}

/** A .csv or .txt argument is a list of videos (what readVideoList reads). */
function isVideoList(path: string): boolean {
  return /\.(csv|txt)$/i.test(path);
}

async function predictSpatiotemporal(video: string, flags: { models: string; model?: string; device: DeviceRequest; threads?: number; topK?: number; scoreThreshold?: number; keyframeInterval?: number; personThreshold: number }): Promise<void> {
  const { detectSpatiotemporal } = await import('./tasks/spatiotemporal/detect.js');
  const { CenterNetDetector } = await import('./detector/centernet.js');
  const registry = await loadRegistry(flags.models, { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) }, undefined);
  const detector = new CenterNetDetector({ ...DEFAULT_CENTERNET_OPTIONS, scoreThreshold: flags.personThreshold });
  try {
    const result = await detectSpatiotemporal({ file: resolve(video), displayName: video }, registry.resolveSpatiotemporal(flags.model), {
      ...(flags.topK ? { topK: flags.topK } : {}),
      ...(flags.scoreThreshold !== undefined ? { scoreThreshold: flags.scoreThreshold } : {}),
      ...(flags.keyframeInterval ? { keyframeInterval: flags.keyframeInterval } : {}),
    }, { limits: DEFAULT_LIMITS, detector });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await detector.close();
    await registry.close();
  }
}

async function evaluateAvaFiles(flags: { groundTruth?: string; predictions?: string; labels: string; exclusions?: string }): Promise<void> {
  const { evaluateAva } = await import('./eval/ava-map.js');
  const { readAvaClassIds, readAvaDetections, readAvaExclusions, readAvaGroundTruth } = await import('./datasets/ava.js');
  for (const [flag, value] of [['--ground-truth', flags.groundTruth], ['--predictions', flags.predictions]] as const) {
    if (!value) throw new ServiceError(400, 'missing_parameter', `evaluate ava needs ${flag} <file>`, { parameter: flag });
    if (!existsSync(value)) throw new ServiceError(400, 'file_not_found', `${flag} '${value}' does not exist`, { parameter: flag });
  }
  const result = evaluateAva(readAvaGroundTruth(flags.groundTruth!), readAvaDetections(flags.predictions!), {
    classes: readAvaClassIds(flags.labels),
    ...(flags.exclusions ? { excluded: readAvaExclusions(flags.exclusions) } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
}

async function evaluateTemporal(flags: { groundTruth?: string; predictions?: string; subset?: string; tiou: string }): Promise<void> {
  const { evaluateTemporalDetection, parseThresholds } = await import('./eval/temporal-map.js');
  const { groundTruthInstances, readActivityNetAnnotations, readActivityNetResults } = await import('./datasets/activitynet.js');
  for (const name of ['groundTruth', 'predictions'] as const) {
    const flag = name === 'groundTruth' ? '--ground-truth' : '--predictions';
    if (!flags[name]) throw new ServiceError(400, 'missing_parameter', `evaluate temporal needs ${flag} <file>`, { parameter: flag });
    if (!existsSync(flags[name]!)) throw new ServiceError(400, 'file_not_found', `${flag} '${flags[name]}' does not exist`, { parameter: flag });
  }
  let thresholds: number[];
  try {
    thresholds = parseThresholds(flags.tiou);
  } catch (error) {
    throw new ServiceError(400, 'invalid_parameter', `parameter '--tiou' ${(error as Error).message}`, { parameter: '--tiou', value: flags.tiou });
  }
  const groundTruth = groundTruthInstances(readActivityNetAnnotations(flags.groundTruth!), flags.subset);
  if (groundTruth.length === 0) {
    throw new ServiceError(400, 'invalid_parameter', `'${flags.groundTruth}' has no annotations${flags.subset ? ` in subset '${flags.subset}'` : ''}`, { parameter: '--subset', value: flags.subset });
  }
  const result = evaluateTemporalDetection(groundTruth, readActivityNetResults(flags.predictions!), thresholds);
  console.log(JSON.stringify(result, null, 2));
}

async function main(): Promise<void> {
  try {
    await buildCli().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof ServiceError) {
      console.error(`videomae: ${error.code}: ${error.message}`);
      process.exit(error.status >= 500 ? 1 : 2);
    }
    if (error instanceof ListenError) {
      console.error(`videomae: ${error.code}: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

void main();
