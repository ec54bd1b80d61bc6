/**
 * Why a checkpoint file cannot be imported. A checkpoint is untrusted input: every refusal names
 * the file and what was wrong with it, and nothing is written before the file has been checked.
 */
import { ServiceError } from '../errors.js';

export type CheckpointErrorCode =
  /** Not a readable torch.save file: truncated, corrupt, inconsistent offsets or sizes. */
  | 'invalid_checkpoint'
  /** A real format we do not read: big-endian, integer weights, legacy storage views (torch < 1.0). */
  | 'unsupported_checkpoint'
  /** The pickle asks for something a state dict never needs (a global outside the allowlist). */
  | 'unsafe_checkpoint';

export class CheckpointError extends ServiceError {
  constructor(code: CheckpointErrorCode, file: string, reason: string) {
    super(422, code, `checkpoint '${file}' ${reason}`, { parameter: 'checkpoint' });
  }
}
