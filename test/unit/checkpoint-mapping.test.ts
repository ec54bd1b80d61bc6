/**
 * The key mapping of the five official architectures, on shapes only: synthetic state dicts
 * written here from the published sizes (no multi-GB files), in the layouts the official code saves.
 */
import { describe, expect, it } from 'vitest';
import { locateStateDict, planImport, stripPrefixes, type ShapedTensor } from '../../src/weights/checkpoint-mapping.js';

interface Official {
  arch: string;
  width: number;
  depth: number;
  heads: number;
  patch: number;
  hidden: number;
  decoder: [number, number];
}

/** Published sizes (modeling_finetune.py / modeling_pretrain.py). */
const OFFICIAL: Official[] = [
  { arch: 'vit_small_patch16_224', width: 384, depth: 12, heads: 6, patch: 16, hidden: 1536, decoder: [192, 3] },
  { arch: 'vit_base_patch16_224', width: 768, depth: 12, heads: 12, patch: 16, hidden: 3072, decoder: [384, 6] },
  { arch: 'vit_large_patch16_224', width: 1024, depth: 24, heads: 16, patch: 16, hidden: 4096, decoder: [512, 8] },
  { arch: 'vit_huge_patch16_224', width: 1280, depth: 32, heads: 16, patch: 16, hidden: 5120, decoder: [512, 8] },
  { arch: 'vit_giant_patch14_224', width: 1408, depth: 40, heads: 16, patch: 14, hidden: 6144, decoder: [512, 8] },
];

const t = (...shape: number[]): ShapedTensor => ({ shape });
const isShaped = (v: unknown): v is ShapedTensor => typeof v === 'object' && v !== null && 'shape' in v;

function blocks(prefix: string, d: number, hidden: number, depth: number): Array<[string, ShapedTensor]> {
  const out: Array<[string, ShapedTensor]> = [];
  for (let i = 0; i < depth; i++) {
    const b = `${prefix}blocks.${i}.`;
    out.push(
      [`${b}norm1.weight`, t(d)],
      [`${b}norm1.bias`, t(d)],
      [`${b}attn.q_bias`, t(d)],
      [`${b}attn.v_bias`, t(d)],
      [`${b}attn.qkv.weight`, t(3 * d, d)],
      [`${b}attn.proj.weight`, t(d, d)],
      [`${b}attn.proj.bias`, t(d)],
      [`${b}norm2.weight`, t(d)],
      [`${b}norm2.bias`, t(d)],
      [`${b}mlp.fc1.weight`, t(hidden, d)],
      [`${b}mlp.fc1.bias`, t(hidden)],
      [`${b}mlp.fc2.weight`, t(d, hidden)],
      [`${b}mlp.fc2.bias`, t(d)],
    );
  }
  return out;
}

function finetuned(o: Official, classes = 710, prefix = ''): Map<string, ShapedTensor> {
  return new Map([
    [`${prefix}patch_embed.proj.weight`, t(o.width, 3, 2, o.patch, o.patch)],
    [`${prefix}patch_embed.proj.bias`, t(o.width)],
    ...blocks(prefix, o.width, o.hidden, o.depth),
    [`${prefix}fc_norm.weight`, t(o.width)],
    [`${prefix}fc_norm.bias`, t(o.width)],
    [`${prefix}head.weight`, t(classes, o.width)],
    [`${prefix}head.bias`, t(classes)],
  ]);
}

function pretraining(o: Official): Map<string, ShapedTensor> {
  const [dd] = o.decoder;
  return new Map([
    ['encoder.patch_embed.proj.weight', t(o.width, 3, 2, o.patch, o.patch)],
    ['encoder.patch_embed.proj.bias', t(o.width)],
    ...blocks('encoder.', o.width, o.hidden, o.depth),
    ['encoder.norm.weight', t(o.width)],
    ['encoder.norm.bias', t(o.width)],
    ...blocks('decoder.', dd, 4 * dd, 4),
    ['decoder.norm.weight', t(dd)],
    ['decoder.norm.bias', t(dd)],
    ['decoder.head.weight', t(3 * 2 * o.patch * o.patch, dd)],
    ['decoder.head.bias', t(3 * 2 * o.patch * o.patch)],
    ['encoder_to_decoder.weight', t(dd, o.width)],
    ['mask_token', t(1, 1, dd)],
  ]);
}

const HEAD_710_TO_400 = Array.from({ length: 400 }, (_, i) => (i * 7) % 710);

describe.each(OFFICIAL)('$arch', (o) => {
  it("maps a fine-tuned {'module': state_dict} with every key and shape", () => {
    const located = locateStateDict(
      new Map<unknown, unknown>([
        ['module', finetuned(o)],
        ['epoch', 30],
      ]),
      isShaped,
      'x.pth',
    );
    expect(located.container).toBe('module');
    const plan = planImport(stripPrefixes(located.entries, 'x.pth'), { arch: o.arch }, 'x.pth');
    expect(plan.kind).toBe('finetune');
    expect(plan.architecture).toMatchObject({
      embedDim: o.width,
      depth: o.depth,
      numHeads: o.heads,
      patchSize: o.patch,
      mlpHiddenDim: o.hidden,
      numClasses: 710,
    });
    expect(plan.sources.size).toBe(2 + 13 * o.depth + 4);
    expect(plan.dropped).toEqual([]);
    expect(plan.initialized).toEqual([]);
  });

  it('strips module. / _orig_mod. / backbone. / encoder. wrappers and maps the 710 head to 400 rows', () => {
    for (const prefix of ['module.', 'module._orig_mod.', 'backbone.', 'encoder.']) {
      const plan = planImport(stripPrefixes(finetuned(o, 710, prefix), 'x.pth'), { arch: o.arch, headRows: HEAD_710_TO_400 }, 'x.pth');
      expect(plan.architecture.numClasses).toBe(400);
      expect(plan.sources.get('head.weight')!.shape).toEqual([710, o.width]);
    }
  });

  it("maps a pretraining {'model': encoder.* + decoder.*}: encoder only, or with --pretrain the decoder too", () => {
    const entries = stripPrefixes(locateStateDict(new Map([['model', pretraining(o)]]), isShaped, 'p.pth').entries, 'p.pth');
    const encoder = planImport(entries, { arch: o.arch }, 'p.pth');
    expect(encoder.kind).toBe('pretrain');
    expect(encoder.architecture.numClasses).toBe(0);
    expect(encoder.dropped).toHaveLength(2 + 13 * 4 + 4 + 2);
    expect(encoder.initialized.map((s) => s.name)).toEqual(['fc_norm.weight', 'fc_norm.bias']);

    const full = planImport(entries, { arch: o.arch, pretrain: true }, 'p.pth');
    expect(full.architecture.decoder).toEqual({ embedDim: o.decoder[0], depth: 4, numHeads: o.decoder[1], mlpHiddenDim: 4 * o.decoder[0] });
    expect(full.dropped).toEqual([]);
    expect(full.sources.has('decoder.blocks.3.mlp.fc2.bias')).toBe(true);
    expect(full.sources.has('norm.weight')).toBe(true);
  });
});

describe('mismatches are named', () => {
  const base = OFFICIAL[1]!;
  it('a ViT-B checkpoint imported as ViT-L lists missing keys and wrong shapes, and says what it looks like', () => {
    expect(() => planImport(finetuned(base), { arch: 'vit_large_patch16_224' }, 'b.pth')).toThrow(
      /the checkpoint looks like depth 12, width 768, patch 2x16x16\) does not match the architecture: missing keys: blocks\.12\.norm1\.weight.*wrong shapes: patch_embed\.proj\.weight \[768,3,2,16,16\] != \[1024,3,2,16,16\]/s,
    );
  });

  it('an unexpected key and a missing one are both reported by name', () => {
    const entries = finetuned(base);
    entries.delete('blocks.3.attn.v_bias');
    entries.set('blocks.0.attn.relative_position_bias_table', t(10, 12));
    expect(() => planImport(entries, { arch: base.arch }, 'b.pth')).toThrow(
      /missing keys: blocks\.3\.attn\.v_bias; unexpected keys: blocks\.0\.attn\.relative_position_bias_table/,
    );
  });

  it('a head map row past the head is refused', () => {
    expect(() => planImport(finetuned(base, 400), { arch: base.arch, headRows: [0, 500] }, 'b.pth')).toThrow(
      /head of 400 classes; the head map selects row 500/,
    );
  });

  it('two keys that become one after stripping are refused', () => {
    expect(() =>
      stripPrefixes(
        new Map([
          ['module.head.bias', t(1)],
          ['head.bias', t(1)],
        ]),
        'x.pth',
      ),
    ).toThrow(/two tensors that both map to 'head\.bias'/);
  });

  it('a file without tensors says what it holds', () => {
    expect(() =>
      locateStateDict(
        new Map<unknown, unknown>([
          ['epoch', 1],
          ['args', 'x'],
        ]),
        isShaped,
        'x.pth',
      ),
    ).toThrow(/holds no state dict.*top-level keys: epoch, args/);
  });

  it('a bare state dict at the top level is found', () => {
    expect(locateStateDict(finetuned(base), isShaped, 'x.pth').container).toBeUndefined();
  });
});

describe('which state dict a checkpoint holds', () => {
  const weights = (tag: number) => new Map<unknown, unknown>([['head.bias', { shape: [tag] }]]);
  const tagOf = (located: { entries: Map<string, ShapedTensor> }) => located.entries.get('head.bias')!.shape[0];

  it('prefers plain weights to EMA ones: model, module, model_ema, state_dict, state_dict_ema', () => {
    const preferred = ['model', 'module', 'model_ema', 'state_dict', 'state_dict_ema'];
    for (let i = 0; i < preferred.length; i++) {
      // the keys from i on, written in the opposite order: preference, not file order, decides
      const root = new Map<unknown, unknown>(
        preferred
          .slice(i)
          .reverse()
          .map((k, j) => [k, weights(j)]),
      );
      expect(locateStateDict(root, isShaped, 'x.pth').container).toBe(preferred[i]);
    }
    const timm = new Map<unknown, unknown>([
      ['state_dict_ema', weights(2)],
      ['state_dict', weights(1)],
      ['epoch', 3],
    ]);
    expect(locateStateDict(timm, isShaped, 'x.pth')).toMatchObject({ container: 'state_dict' });
  });

  it('takes the key asked for, and names the keys that hold tensors when it is not there', () => {
    const root = new Map<unknown, unknown>([
      ['model', weights(1)],
      ['model_ema', weights(2)],
      ['epoch', 3],
    ]);
    expect(tagOf(locateStateDict(root, isShaped, 'x.pth', 'model_ema'))).toBe(2);
    expect(() => locateStateDict(root, isShaped, 'x.pth', 'epoch')).toThrow(
      /no state dict under --state-dict-key 'epoch': the keys that hold tensors are 'model', 'model_ema' \(top-level keys: model, model_ema, epoch\)/,
    );
    expect(() => locateStateDict(weights(1), isShaped, 'x.pth', 'model')).toThrow(/no top-level key holds tensors/);
  });
});
