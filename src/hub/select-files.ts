/**
 * Which files of a Hub repo a pull needs (pure): a transformers folder (config.json, the image
 * processor's preprocessor_config.json when present, model.safetensors or else pytorch_model.bin),
 * or an official VideoMAE V2 checkpoint (.pth / .pt). Nothing else of the repo is downloaded.
 */
import type { Sibling } from './client.js';
import { HubError } from './hub-error.js';

export type PullPlan =
  { readonly format: 'hf'; readonly files: Sibling[] } | { readonly format: 'pth'; readonly files: Sibling[]; readonly checkpoint: string };

export function selectFiles(siblings: readonly Sibling[], repo: string, file?: string): PullPlan {
  const byName = new Map(siblings.map((s) => [s.rfilename, s]));
  if (file) {
    const chosen = byName.get(file);
    if (!chosen) throw new HubError('hub_not_found', `'${repo}' has no file '${file}' (it has ${list(siblings)})`, 'file');
    if (!/\.(pth|pt)$/.test(file))
      throw new HubError(
        'hub_no_model',
        `--file '${file}' is not an official checkpoint (.pth or .pt); transformers folders are found without --file`,
        'file',
      );
    return { format: 'pth', files: [chosen], checkpoint: file };
  }
  const config = byName.get('config.json');
  const weights = byName.get('model.safetensors') ?? byName.get('pytorch_model.bin');
  if (config && weights) {
    const preprocessor = byName.get('preprocessor_config.json');
    return { format: 'hf', files: [config, ...(preprocessor ? [preprocessor] : []), weights] };
  }
  const sharded = siblings.find((s) => /(model\.safetensors|pytorch_model\.bin)\.index\.json$/.test(s.rfilename));
  if (config && sharded)
    throw new HubError(
      'hub_no_model',
      `'${repo}' holds sharded weights (${sharded.rfilename}); only a single model.safetensors or pytorch_model.bin can be imported`,
    );
  const checkpoints = siblings.filter((s) => /\.(pth|pt)$/.test(s.rfilename));
  if (checkpoints.length === 1) return { format: 'pth', files: [checkpoints[0]!], checkpoint: checkpoints[0]!.rfilename };
  if (checkpoints.length > 1) {
    throw new HubError(
      'hub_no_model',
      `'${repo}' holds ${checkpoints.length} checkpoints (${checkpoints.map((s) => s.rfilename).join(', ')}); choose one with --file`,
      'file',
    );
  }
  throw new HubError(
    'hub_no_model',
    `'${repo}' holds neither a transformers model (config.json + model.safetensors or pytorch_model.bin) nor a .pth checkpoint (it has ${list(siblings)})`,
  );
}

function list(siblings: readonly Sibling[]): string {
  const names = siblings.map((s) => s.rfilename);
  return names.length === 0 ? 'no files' : `${names.slice(0, 12).join(', ')}${names.length > 12 ? `, ... ${names.length - 12} more` : ''}`;
}
