/**
 * A user-supplied person detector on ONNX Runtime. The layout it accepts is the one YOLO-style
 * exports with built-in NMS write (e.g. Ultralytics `export(format='onnx', nms=True)`):
 *   input  [1, 3, S, S] float32, RGB, pixel values / 255 (the frame resized to S x S);
 *   output [1, N, 6] float32 rows [x1, y1, x2, y2, score, class] in input pixels; class 0 = person.
 * The rows then go through the same threshold, NMS and enlargement as CenterNet's.
 */
import { InternalError } from '../errors.js';
import type { ScoredBoxes } from '../postprocess/boxes.js';
import type { InferenceRunner } from '../runtime/inference-runner.js';
import { float32Tensor } from '../runtime/tensor.js';
import { WorkerRunner } from '../runtime/worker-runner.js';
import { DEFAULT_CENTERNET_OPTIONS, personBoxes, type CenterNetOptions } from './centernet.js';
import type { Frame, PersonDetector } from './person-detector.js';

export class OnnxPersonDetector implements PersonDetector {
  readonly inputSize: { width: number; height: number };

  private constructor(
    private readonly runner: InferenceRunner,
    size: number,
    private readonly options: CenterNetOptions,
  ) {
    this.inputSize = { width: size, height: size };
  }

  static async create(file: string, size = 640, options: CenterNetOptions = DEFAULT_CENTERNET_OPTIONS): Promise<OnnxPersonDetector> {
    const runner = await WorkerRunner.create(file, { device: 'cpu' });
    if (runner.inputNames.length !== 1 || runner.outputNames.length < 1) {
      await runner.close();
      throw new InternalError(
        `person detector '${file}' must have one input [1, 3, S, S] and an output [1, N, 6]; it has inputs ${runner.inputNames.join(', ')}`,
      );
    }
    return new OnnxPersonDetector(runner, size, options);
  }

  async detect(frame: Frame): Promise<ScoredBoxes> {
    const { width: S } = this.inputSize;
    if (frame.width !== S || frame.height !== S)
      throw new InternalError(`person detector expects ${S}x${S} frames, got ${frame.width}x${frame.height}`);
    const plane = S * S;
    const input = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      input[i] = frame.rgb[3 * i]! / 255;
      input[plane + i] = frame.rgb[3 * i + 1]! / 255;
      input[2 * plane + i] = frame.rgb[3 * i + 2]! / 255;
    }
    const name = this.runner.outputNames[0]!;
    const { outputs } = await this.runner.run({ [this.runner.inputNames[0]!]: float32Tensor(input, [1, 3, S, S]) }, [name]);
    const rows = outputs[name]!;
    if (rows.dims[rows.dims.length - 1] !== 6)
      throw new InternalError(`person detector output '${name}' is [${rows.dims.join(', ')}], expected [1, N, 6]`);
    // personBoxes normalizes by CenterNet's 512; rescale rows to that frame first.
    const scaled = Float32Array.from(rows.data, (v, i) => (i % 6 < 4 ? (v * 512) / S : v));
    return personBoxes(scaled, this.options);
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}
