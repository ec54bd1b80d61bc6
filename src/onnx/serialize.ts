/**
 * Writes a ModelProto to disk. Protobuf messages cannot exceed 2 GB, so large models keep their
 * initializers in an external data file beside the .onnx (ONNX's external data convention), which
 * ONNX Runtime resolves relative to the model path.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { withProtobufFile } from './protobuf-fields.js';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import type { OnnxModel } from './graph-builder.js';

const { onnx } = onnxProto;

/** Just under protobuf's 2 GiB limit, leaving room for the graph itself. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 64 * 2 ** 20;

export interface SerializeOptions {
  /** Total initializer bytes above which weights go to `<file>.data`. */
  externalDataThreshold?: number;
}

export interface SerializeResult {
  readonly modelPath: string;
  readonly externalDataPath: string | undefined;
  readonly initializerBytes: number;
}

const ALIGNMENT = 4096;

export function writeModel(model: OnnxModel, modelPath: string, options: SerializeOptions = {}): SerializeResult {
  const threshold = options.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD;
  const initializers = model.graph?.initializer ?? [];
  const initializerBytes = initializers.reduce((sum, t) => sum + (t.rawData?.byteLength ?? 0), 0);
  let externalDataPath: string | undefined;

  const temps: string[] = [];
  try {
    if (initializerBytes > threshold) {
      externalDataPath = `${modelPath}.data`;
      const temp = `${externalDataPath}.tmp-${process.pid}`;
      temps.push(temp);
      const fd = openSync(temp, 'w');
      try {
        let offset = 0;
        for (const tensor of initializers) {
          const raw = tensor.rawData;
          // Small tensors (shapes, scalars) stay inline; ORT reads both kinds.
          if (!raw || raw.byteLength < 1024) continue;
          const padded = Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
          if (padded > offset) writeSync(fd, new Uint8Array(padded - offset));
          writeSync(fd, raw);
          tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
          tensor.externalData = [
            { key: 'location', value: basename(externalDataPath) },
            { key: 'offset', value: String(padded) },
            { key: 'length', value: String(raw.byteLength) },
          ];
          tensor.rawData = new Uint8Array(0);
          offset = padded + raw.byteLength;
        }
      } finally {
        closeSync(fd);
      }
    }
    const temp = `${modelPath}.tmp-${process.pid}`;
    temps.push(temp);
    const fd = openSync(temp, 'w');
    try {
      writeModelStreaming(fd, model);
    } finally {
      closeSync(fd);
    }
    if (externalDataPath) renameSync(`${externalDataPath}.tmp-${process.pid}`, externalDataPath);
    else rmSync(`${modelPath}.data`, { force: true });
    renameSync(temp, modelPath);
    return { modelPath, externalDataPath, initializerBytes };
  } catch (error) {
    for (const temp of temps) rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Writes the ModelProto one initializer at a time instead of encoding it into one buffer, so an
 * export never holds the weights twice. Protobuf lets a message's fields come in any order and a
 * repeated field come in pieces, so this is byte-for-byte a valid ModelProto: the other model
 * fields, then field 7 (graph) whose body is the graph without initializers followed by each
 * initializer as its own field-5 record.
 */
function writeModelStreaming(fd: number, model: OnnxModel): void {
  const graph = model.graph;
  const initializers = graph?.initializer ?? [];
  writeSync(fd, onnx.ModelProto.encode({ ...model, graph: null }).finish());
  if (!graph) return;
  const graphBody = onnx.GraphProto.encode({ ...graph, initializer: [] }).finish();
  // Lengths first (encoding twice costs a copy per tensor, never the whole model).
  const lengths = initializers.map((tensor) => onnx.TensorProto.encode(tensor).finish().byteLength);
  const graphLength = graphBody.byteLength + lengths.reduce((sum, n) => sum + 1 + varintLength(n) + n, 0);
  writeSync(fd, Uint8Array.from([GRAPH_FIELD_TAG, ...varint(graphLength)]));
  writeSync(fd, graphBody);
  initializers.forEach((tensor, i) => {
    writeSync(fd, Uint8Array.from([INITIALIZER_FIELD_TAG, ...varint(lengths[i]!)]));
    writeSync(fd, onnx.TensorProto.encode(tensor).finish());
  });
}

/** ModelProto.graph = 7 and GraphProto.initializer = 5, both length-delimited (wire type 2). */
const GRAPH_FIELD_TAG = (7 << 3) | 2;
const INITIALIZER_FIELD_TAG = (5 << 3) | 2;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function varintLength(value: number): number {
  return varint(value).length;
}

/**
 * Reads the metadata_props of a model file without loading its graph: walks the top-level fields
 * of ModelProto and skips every length-delimited field but metadata_props (field 14).
 */
export function readModelMetadata(modelPath: string): Record<string, string> {
  return withProtobufFile(modelPath, (proto) => {
    const result: Record<string, string> = {};
    proto.scan(0, proto.size, (field, start, length) => {
      if (field !== 14) return;
      const entry = onnx.StringStringEntryProto.decode(proto.read(start, length));
      result[entry.key] = entry.value;
    });
    return result;
  });
}
