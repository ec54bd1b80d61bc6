/** What every kind's GET /models entry shares: the provenance block. */
import type { Manifest } from '../config/manifest.js';
import type { ModelInfo } from './model-kind.js';

export function describeProvenance(p: Manifest['provenance']): ModelInfo['provenance'] {
  return {
    source: p.source,
    trained: p.trained,
    metrics: p.metrics,
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.checkpoint ? { checkpoint: p.checkpoint } : {}),
    ...(p.recipe && typeof p.recipe === 'object' ? { recipe: p.recipe as Record<string, unknown> } : {}),
    ...(p.note ? { note: p.note } : {}),
  };
}
