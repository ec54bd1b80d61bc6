/**
 * Picks the TF.js backend. `tensorflow` loads @tensorflow/tfjs-node-gpu (or -node) when one is
 * installed (optional dependency, loaded dynamically because it cannot install everywhere);
 * without it training falls back to wasm with a one-line notice.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../errors.js';
import { installFastUnpack } from './wasm-unpack.js';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface BackendInfo {
  readonly name: string;
  readonly notice?: string;
}

async function loadNative(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (tf.findBackend('tensorflow')) return true;
    } catch {
      // not installed or its native library did not load; try the next
    }
  }
  return false;
}

let current: BackendInfo | undefined;

export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!(BACKENDS as readonly string[]).includes(choice)) {
    throw new InvalidParameterError('backend', choice, `must be one of ${BACKENDS.join(', ')}`);
  }
  let notice: string | undefined;
  let name: string = choice;
  if (choice === 'auto' || choice === 'tensorflow') {
    if (await loadNative()) name = 'tensorflow';
    else {
      name = 'wasm';
      if (choice === 'tensorflow')
        notice = 'notice: @tensorflow/tfjs-node-gpu / -node is not installed here; training on the wasm backend instead';
    }
  }
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    installFastUnpack();
  }
  if (tf.getBackend() !== name || !current) {
    if (!(await tf.setBackend(name))) throw new InvalidParameterError('backend', choice, `backend '${name}' failed to initialize`);
    await tf.ready();
  }
  current = { name, ...(notice ? { notice } : {}) };
  return current;
}
