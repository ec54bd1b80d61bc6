/**
 * The default person detector (COCO CenterNet on TF.js, in a worker thread) on a real video with
 * people: Debian's pedestrian scene. It finds them, the boxes look like people, and the event
 * loop keeps running while it works. Plus the pure decoding of its output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxPersonDetector } from '../../src/detector/onnx-detector.js';
import { attr, GraphBuilder } from '../../src/onnx/graph-builder.js';
import { writeModel } from '../../src/onnx/serialize.js';
import { CenterNetDetector, DEFAULT_CENTERNET_OPTIONS, personBoxes } from '../../src/detector/centernet.js';
import { decodeFrames } from '../../src/video/decode.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

describe('CenterNet person detector', () => {
  it('finds the pedestrians of vtest.avi without blocking the event loop', async () => {
    const detector = new CenterNetDetector();
    try {
      const frames: Uint8Array[] = [];
      for await (const f of decodeFrames({
        file: VTEST,
        fps: 10,
        indices: [100, 400],
        source: { width: 768, height: 576 },
        size: { width: 512, height: 512 },
      }))
        frames.push(f.rgb);
      let ticks = 0;
      let worstGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        worstGap = Math.max(worstGap, now - last);
        last = now;
        ticks++;
      }, 5);
      const results = [];
      for (const rgb of frames) results.push(await detector.detect({ rgb, width: 512, height: 512 }));
      clearInterval(timer);
      // Frame 100 shows six or more walkers; frame 400 at least three.
      expect(results[0]!.scores.filter((s) => s >= 0.45).length).toBeGreaterThanOrEqual(5);
      expect(results[1]!.scores.filter((s) => s >= 0.45).length).toBeGreaterThanOrEqual(3);
      for (const { boxes, scores } of results) {
        for (let i = 0; i < scores.length; i++) {
          if (scores[i]! < 0.45) continue;
          const [x1, y1, x2, y2] = boxes.subarray(4 * i, 4 * i + 4);
          expect(y2! - y1!).toBeGreaterThan(x2! - x1!); // standing people are taller than wide
          expect(x1!).toBeGreaterThanOrEqual(0);
          expect(y2!).toBeLessThanOrEqual(1);
        }
      }
      expect(ticks).toBeGreaterThan(5);
      expect(worstGap).toBeLessThan(150); // the model runs in its worker, not on this thread
    } finally {
      await detector.close();
    }
  });
});

describe('personBoxes', () => {
  it('keeps people over the threshold, normalized, after NMS, optionally enlarged', () => {
    const rows = Float32Array.of(
      100,
      100,
      150,
      250,
      0.9,
      0, // person
      102,
      98,
      152,
      255,
      0.8,
      0, // the same person again
      300,
      300,
      350,
      450,
      0.2,
      0, // too unsure
      10,
      10,
      60,
      60,
      0.95,
      2, // a car
    );
    const out = personBoxes(rows, DEFAULT_CENTERNET_OPTIONS);
    expect(Array.from(out.scores)).toEqual([Math.fround(0.9)]);
    expect(Array.from(out.boxes).map((v) => +v.toFixed(4))).toEqual([100 / 512, 100 / 512, 150 / 512, 250 / 512].map((v) => +v.toFixed(4)));
    const wide = personBoxes(rows, { ...DEFAULT_CENTERNET_OPTIONS, enlarge: 2 });
    expect(wide.boxes[2]! - wide.boxes[0]!).toBeCloseTo(100 / 512, 5);
  });
});

describe('a user-supplied ONNX person detector', () => {
  it('reads [1, N, 6] rows in input pixels and keeps the people', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'videomae-onnx-detector-'));
    try {
      // A stand-in detector: fixed rows (the input only enters as 0 x its mean, to be a real graph).
      const g = new GraphBuilder('fake_yolo');
      const images = g.input('images', 'float32', [1, 3, 32, 32]);
      const rows = g.float('rows', [1, 3, 6], Float32Array.of(4, 4, 12, 28, 0.9, 0, 0, 0, 8, 8, 0.95, 2, 20, 2, 30, 30, 0.1, 0));
      const zero = g.op('Mul', [g.op('ReduceMean', [images], { keepdims: attr.int(0) }), g.scalar('zero', 0)]);
      g.op('Add', [rows, zero], {}, 'detections');
      g.output('detections', 'float32', [1, 3, 6]);
      writeModel(g.build(), join(dir, 'detector.onnx'));
      const detector = await OnnxPersonDetector.create(join(dir, 'detector.onnx'), 32);
      try {
        const out = await detector.detect({ rgb: new Uint8Array(32 * 32 * 3), width: 32, height: 32 });
        expect(Array.from(out.scores)).toEqual([Math.fround(0.9)]);
        expect(Array.from(out.boxes).map((v) => +v.toFixed(4))).toEqual([0.125, 0.125, 0.375, 0.875]);
        await expect(detector.detect({ rgb: new Uint8Array(16 * 16 * 3), width: 16, height: 16 })).rejects.toThrow(/expects 32x32 frames/);
      } finally {
        await detector.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
