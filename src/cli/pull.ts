/**
 * `videomae pull REPO_ID [--revision R] [--out models/NAME]`: download a model from the Hugging
 * Face Hub (HF_ENDPOINT, HF_TOKEN, the huggingface_hub cache) and import it.
 */
import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import type { HfImportResult } from '../weights/import-hf.js';
import { OFFICIAL_ARCHS, positiveInt } from './options.js';

export function addPullCommand(program: Command): void {
  program
    .command('pull')
    .description('download a model from the Hugging Face Hub (transformers VideoMAE, or an official .pth with --arch) and import it')
    .argument('<repo>', 'Hub model id, for example MCG-NJU/videomae-base-finetuned-kinetics')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--out <dir>', 'model folder to create (default: models/<repo name>)')
    .option('--cache-dir <dir>', 'Hub cache (default: HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)')
    .addOption(new Option('--arch <name>', 'architecture, for a repo that holds an official .pth').choices(OFFICIAL_ARCHS))
    .option('--file <name>', 'the .pth to take when the repo holds several')
    .option('--name <name>', 'model name (default: the folder name)')
    .option('--fp16', 'store the weights as float16')
    .option('--pretrain', 'keep the decoder of a pretraining model')
    .option('--force', 'replace a non-empty --out')
    .option('--no-export', 'skip the ONNX export')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to model.onnx.data', positiveInt)
    .action(async (repo: string, flags) => {
      // Loaded here so that the other commands start without the import code.
      const [{ connectionFromEnv }, { progressOn }, { pullModel }, { describeHfImport, hfImportOptions }] = await Promise.all([
        import('../hub/client.js'),
        import('../hub/progress.js'),
        import('../hub/pull.js'),
        import('./import-hf.js'),
      ]);
      const out: string = flags.out ?? `models/${basename(repo)}`;
      const { options, exported } = hfImportOptions({ ...flags, out });
      const env = process.env;
      const result = await pullModel({
        repo,
        revision: flags.revision,
        out,
        hub: connectionFromEnv(env),
        env,
        ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
        ...(env.HF_HUB_OFFLINE && env.HF_HUB_OFFLINE !== '0' ? { offline: true } : {}),
        ...(flags.file ? { file: flags.file } : {}),
        hf: options,
        pth: { ...options, ...(flags.arch ? { arch: flags.arch } : {}) },
        progress: progressOn(process.stderr),
      });
      const from = `${repo}@${result.commit.slice(0, 12)}`;
      console.log(
        `pulled ${from} (${result.downloaded.length} downloaded${result.downloaded.length ? `: ${result.downloaded.join(', ')}` : ''}; ${result.cached.length} from the cache at ${result.snapshot})`,
      );
      if (result.format === 'hf')
        for (const line of describeHfImport(from, result.imported as HfImportResult, exported())) console.log(line);
      else console.log(`imported ${from} (${result.imported.kind}) -> ${result.imported.dir}${exported()}`);
    });
}
