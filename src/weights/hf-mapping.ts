/**
 * transformers' VideoMAE state-dict names -> the official VideoMAE V2 names (pure; shapes only,
 * no tensor is read). transformers splits the attention input projection into query / key /
 * value (no bias) plus q_bias / v_bias; the official model has one qkv weight [3D, D]. A target
 * here is the list of source tensors concatenated along dim 0, or a constant fill.
 *
 *   videomae.embeddings.patch_embeddings.projection.*     -> patch_embed.proj.*
 *   videomae.encoder.layer.N.attention.attention.{query,key,value}.weight -> blocks.N.attn.qkv.weight
 *   videomae.encoder.layer.N.attention.attention.{q,v}_bias -> blocks.N.attn.{q,v}_bias
 *   ...attention.output.dense / intermediate.dense / output.dense -> attn.proj / mlp.fc1 / mlp.fc2
 *   ...layernorm_before / layernorm_after                 -> norm1 / norm2
 *   videomae.layernorm (use_mean_pooling false)           -> norm (the pretraining encoder's final norm)
 *   fc_norm, classifier                                   -> fc_norm, head
 *   decoder.decoder_layers.N.*, decoder.norm/head, encoder_to_decoder, mask_token -> decoder.blocks.N.*, ...
 */
import { CheckpointLayoutError, type ShapedTensor } from './checkpoint-mapping.js';

export interface MappedTensor<T> {
  readonly shape: readonly number[];
  /** Source tensors, concatenated along dim 0 (one for a plain rename). */
  readonly parts: readonly T[];
  /** Set instead of parts for a parameter the source does not store (zero q/v bias, a fresh fc_norm). */
  readonly fill?: number;
}

export interface HfMapping<T> {
  readonly entries: Map<string, MappedTensor<T>>;
  /** Official names filled with a constant (not in the source). */
  readonly filled: string[];
}

export interface HfMappingOptions {
  /** config.qkv_bias false: the model has no q/v bias, which is a zero bias in our graph. */
  readonly qkvBias: boolean;
  /** A headless encoder gets a unit-gain, zero-bias fc_norm, as fine-tuning starts it. */
  readonly freshFcNorm: boolean;
}

const LAYER = /^(encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)$/;
const LAYER_PARTS: Readonly<Record<string, string>> = {
  'attention.attention.q_bias': 'attn.q_bias',
  'attention.attention.v_bias': 'attn.v_bias',
  'attention.output.dense.weight': 'attn.proj.weight',
  'attention.output.dense.bias': 'attn.proj.bias',
  'intermediate.dense.weight': 'mlp.fc1.weight',
  'intermediate.dense.bias': 'mlp.fc1.bias',
  'output.dense.weight': 'mlp.fc2.weight',
  'output.dense.bias': 'mlp.fc2.bias',
  'layernorm_before.weight': 'norm1.weight',
  'layernorm_before.bias': 'norm1.bias',
  'layernorm_after.weight': 'norm2.weight',
  'layernorm_after.bias': 'norm2.bias',
};
const TOP_LEVEL: Readonly<Record<string, string>> = {
  'embeddings.patch_embeddings.projection.weight': 'patch_embed.proj.weight',
  'embeddings.patch_embeddings.projection.bias': 'patch_embed.proj.bias',
  'layernorm.weight': 'norm.weight',
  'layernorm.bias': 'norm.bias',
  'classifier.weight': 'head.weight',
  'classifier.bias': 'head.bias',
};
const QKV = ['query', 'key', 'value'] as const;

/** Renames a transformers VideoMAE state dict; keys it does not know keep their name (and are reported as unexpected later). */
export function mapHfStateDict<T extends ShapedTensor>(source: Map<string, T>, options: HfMappingOptions, file: string): HfMapping<T> {
  const entries = new Map<string, MappedTensor<T>>();
  const filled: string[] = [];
  const put = (name: string, tensor: MappedTensor<T>, from: string): void => {
    if (entries.has(name)) throw new CheckpointLayoutError(file, `has two tensors that both map to '${name}' (one is '${from}')`);
    entries.set(name, tensor);
  };
  const qkv = new Map<string, Partial<Record<(typeof QKV)[number], T>>>();
  for (const [key, tensor] of source) {
    // VideoMAEForVideoClassification / ForPreTraining keep the encoder under 'videomae.'; a bare VideoMAEModel does not.
    const name = key.startsWith('videomae.') ? key.slice('videomae.'.length) : key;
    const layer = LAYER.exec(name);
    if (layer) {
      const prefix = `${layer[1] === 'encoder.layer' ? 'blocks' : 'decoder.blocks'}.${layer[2]}`;
      const part = /^attention\.attention\.(query|key|value)\.weight$/.exec(layer[3]!);
      if (part) {
        const group = qkv.get(prefix) ?? {};
        group[part[1] as (typeof QKV)[number]] = tensor;
        qkv.set(prefix, group);
        continue;
      }
      const target = LAYER_PARTS[layer[3]!];
      put(target ? `${prefix}.${target}` : key, { shape: tensor.shape, parts: [tensor] }, key);
      continue;
    }
    put(TOP_LEVEL[name] ?? name, { shape: tensor.shape, parts: [tensor] }, key);
  }
  for (const [prefix, group] of qkv) {
    const parts = QKV.map((p) => group[p]);
    if (parts.some((t) => !t)) {
      // Leave what is there under its own name: the shape check names the gap.
      QKV.forEach((p) => {
        if (group[p]) put(`${prefix}.attn.${p}.weight (incomplete query/key/value)`, { shape: group[p]!.shape, parts: [group[p]!] }, p);
      });
      continue;
    }
    const [q, k, v] = parts as T[];
    const width = q!.shape.slice(1).join(',');
    if (q!.shape.length !== 2 || k!.shape.slice(1).join(',') !== width || v!.shape.slice(1).join(',') !== width) {
      throw new CheckpointLayoutError(
        file,
        `has query/key/value weights of ${prefix} with shapes [${q!.shape}], [${k!.shape}], [${v!.shape}] that cannot be stacked into one qkv weight`,
      );
    }
    put(
      `${prefix}.attn.qkv.weight`,
      { shape: [q!.shape[0]! + k!.shape[0]! + v!.shape[0]!, ...q!.shape.slice(1)], parts: [q!, k!, v!] },
      `${prefix} query`,
    );
  }
  if (!options.qkvBias) {
    for (const prefix of qkv.keys()) {
      const width = entries.get(`${prefix}.attn.proj.weight`)?.shape[0];
      for (const bias of ['q_bias', 'v_bias']) {
        const name = `${prefix}.attn.${bias}`;
        if (width !== undefined && !entries.has(name)) {
          entries.set(name, { shape: [width], parts: [], fill: 0 });
          filled.push(name);
        }
      }
    }
  }
  if (options.freshFcNorm && !entries.has('fc_norm.weight')) {
    const width = entries.get('patch_embed.proj.weight')?.shape[0];
    if (width !== undefined) {
      entries.set('fc_norm.weight', { shape: [width], parts: [], fill: 1 });
      entries.set('fc_norm.bias', { shape: [width], parts: [], fill: 0 });
      filled.push('fc_norm.weight', 'fc_norm.bias');
    }
  }
  return { entries, filled };
}
