/** The export flags that `export` and `import-checkpoint` share, as the exporter's options. */
import type { ExportOptions } from '../onnx/export-model.js';

export interface ExportFlags {
  externalDataThreshold?: number;
  int8?: boolean;
  fusedAttention?: boolean;
}

export const INT8_FLAG_HELP =
  'ViT folders: int8 weights (per output channel) and dynamically quantized int8 activations for the Linears of the blocks in model.onnx (the head stays float32)';
export const FUSED_ATTENTION_FLAG_HELP =
  'ViT folders: fused attention (com.microsoft MultiHeadAttention, ONNX Runtime only) in model.onnx; fastest on the CPU EP with --int8';

export function exportOptionsFrom(flags: ExportFlags): ExportOptions {
  return {
    ...(flags.externalDataThreshold ? { externalDataThreshold: flags.externalDataThreshold } : {}),
    ...(flags.int8 ? { int8: true } : {}),
    ...(flags.fusedAttention ? { attention: 'fused' as const } : {}),
  };
}

/** ' (int8, fused attention)' for a summary line; empty for the plain float graph. */
export function graphFormNote(options: ExportOptions): string {
  const parts = [options.int8 ? 'int8' : '', options.attention === 'fused' ? 'fused attention' : ''].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
