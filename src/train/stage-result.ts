/** What running a recipe takes and what each of its stages gives back, whatever the stage trains. */
import type { BackendChoice } from '../tfjs/backend.js';
import type { ProgressBar } from './progress.js';

export interface TrainOptions {
  readonly init?: string;
  readonly resume?: string;
  readonly backend?: BackendChoice;
  /** Stop (with a checkpoint) once the running stage has completed this many steps. */
  readonly stopAfter?: number;
  readonly progress?: ProgressBar;
}

export interface StageResult {
  readonly stage: string;
  readonly outDir: string;
  readonly steps: number;
  readonly completed: boolean;
  readonly losses: number[];
  readonly metrics: Record<string, number>;
  readonly seconds: number;
}
