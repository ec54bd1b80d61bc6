/**
 * A Triton Inference Server model repository entry for an exported model.onnx
 * (`videomae export --triton DIR`): DIR/<name>/config.pbtxt + DIR/<name>/1/model.onnx.
 *
 * The signature (input and output names, element types, dims) is read from the ONNX graph itself,
 * streaming over the file so that the weights are never loaded: ModelProto.graph (field 7) ->
 * GraphProto.input (11) / output (12), each a ValueInfoProto. When every input and output starts
 * with the same symbolic dim (the exporter's `batch`), the model batches: Triton's
 * `max_batch_size` > 0, dims without that first dim, and `dynamic_batching`. Otherwise the model is
 * written with `max_batch_size: 0` and its full dims, and without dynamic batching (Triton needs a
 * batch dim for it).
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { withProtobufFile } from './protobuf-fields.js';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** One graph input or output: its dims are numbers, or the name of a symbolic dim (or '' when unnamed). */
export interface GraphTensor {
  readonly name: string;
  /** ONNX TensorProto.DataType. */
  readonly elemType: number;
  readonly dims: ReadonlyArray<number | string>;
}

export interface GraphSignature {
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
}

/** ONNX TensorProto.DataType -> Triton's data_type. */
const TRITON_TYPES: Readonly<Record<number, string>> = {
  1: 'TYPE_FP32',
  2: 'TYPE_UINT8',
  3: 'TYPE_INT8',
  4: 'TYPE_UINT16',
  5: 'TYPE_INT16',
  6: 'TYPE_INT32',
  7: 'TYPE_INT64',
  8: 'TYPE_STRING',
  9: 'TYPE_BOOL',
  10: 'TYPE_FP16',
  11: 'TYPE_FP64',
  12: 'TYPE_UINT32',
  13: 'TYPE_UINT64',
  16: 'TYPE_BF16',
};

export const DEFAULT_TRITON_MAX_BATCH = 8;

export interface TritonConfigOptions {
  /** Triton's model name (the repository folder's name). */
  readonly name: string;
  /** max_batch_size when the model batches. */
  readonly maxBatchSize?: number;
  /** A comment line or lines put at the top. */
  readonly comment?: string;
}

export interface TritonConfig {
  readonly text: string;
  /** 0 when the graph has no common symbolic first dim. */
  readonly maxBatchSize: number;
}

/** The symbolic first dim that every input and output shares, if there is one. */
export function batchDim(signature: GraphSignature): string | undefined {
  const all = [...signature.inputs, ...signature.outputs];
  const first = all[0]?.dims[0];
  if (typeof first !== 'string' || first === '') return undefined;
  return all.every((t) => t.dims.length > 0 && t.dims[0] === first) ? first : undefined;
}

function tensorEntry(tensor: GraphTensor, batched: boolean): string {
  const type = TRITON_TYPES[tensor.elemType];
  if (!type) throw new Error(`'${tensor.name}' has ONNX element type ${tensor.elemType}, which Triton has no data_type for`);
  const dims = (batched ? tensor.dims.slice(1) : tensor.dims).map((d) => (typeof d === 'number' ? d : -1));
  const lines = [`    name: ${JSON.stringify(tensor.name)}`, `    data_type: ${type}`];
  // Triton wants at least one dim: a tensor that is only its batch dim is [1], reshaped to [].
  if (dims.length === 0) lines.push('    dims: [ 1 ]', '    reshape: { shape: [ ] }');
  else lines.push(`    dims: [ ${dims.join(', ')} ]`);
  return `  {\n${lines.join('\n')}\n  }`;
}

/** config.pbtxt (protobuf text format) for the onnxruntime backend. */
export function tritonConfig(signature: GraphSignature, options: TritonConfigOptions): TritonConfig {
  const batched = batchDim(signature) !== undefined;
  const maxBatchSize = batched ? (options.maxBatchSize ?? DEFAULT_TRITON_MAX_BATCH) : 0;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 0) throw new Error(`max_batch_size must be a whole number, not ${maxBatchSize}`);
  const comment = options.comment
    ? options.comment
        .split('\n')
        .map((line) => `# ${line}`.trimEnd())
        .join('\n') + '\n'
    : '';
  const section = (key: string, tensors: readonly GraphTensor[]): string =>
    `${key} [\n${tensors.map((t) => tensorEntry(t, batched)).join(',\n')}\n]`;
  const parts = [
    `name: ${JSON.stringify(options.name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
    section('input', signature.inputs),
    section('output', signature.outputs),
  ];
  if (maxBatchSize > 0) parts.push('dynamic_batching { }');
  return { text: `${comment}${parts.join('\n')}\n`, maxBatchSize };
}

/** Reads the graph's inputs and outputs from an ONNX file without reading its initializers. */
export function readGraphSignature(modelPath: string): GraphSignature {
  return withProtobufFile(modelPath, (proto) => {
    const inputs: GraphTensor[] = [];
    const outputs: GraphTensor[] = [];
    let graphs = 0;
    // ModelProto.graph is field 7; GraphProto.input 11, output 12.
    proto.scan(0, proto.size, (field, start, length) => {
      if (field !== 7) return;
      graphs++;
      proto.scan(start, start + length, (graphField, at, len) => {
        if (graphField !== 11 && graphField !== 12) return;
        (graphField === 11 ? inputs : outputs).push(graphTensor(onnx.ValueInfoProto.decode(proto.read(at, len)), modelPath));
      });
    });
    if (graphs !== 1) throw new Error(`ONNX file '${modelPath}' has ${graphs} graphs, not 1`);
    return { inputs, outputs };
  });
}

function graphTensor(value: InstanceType<typeof onnx.ValueInfoProto>, modelPath: string): GraphTensor {
  const tensor = value.type?.tensorType;
  if (!tensor) throw new Error(`'${value.name}' of '${modelPath}' is not a tensor`);
  const dims = (tensor.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? longToNumber(d.dimValue) : ''));
  return { name: value.name, elemType: tensor.elemType ?? 0, dims };
}

/** protobufjs gives int64 as a number or a Long. */
function longToNumber(value: number | { toNumber(): number }): number {
  return typeof value === 'number' ? value : value.toNumber();
}

export interface TritonModelResult {
  readonly configPath: string;
  readonly modelPath: string;
  readonly externalDataPath: string | undefined;
  readonly maxBatchSize: number;
  readonly signature: GraphSignature;
}

/**
 * Writes `repository/<name>/config.pbtxt` and `repository/<name>/1/model.onnx` (+ model.onnx.data
 * when the export has external data; ONNX Runtime finds it beside the model by its file name).
 */
export function writeTritonModel(
  onnxPath: string,
  repository: string,
  options: TritonConfigOptions & { readonly externalDataPath?: string | undefined },
): TritonModelResult {
  const signature = readGraphSignature(onnxPath);
  const config = tritonConfig(signature, options);
  const modelDir = join(repository, options.name);
  const versionDir = join(modelDir, '1');
  mkdirSync(versionDir, { recursive: true });
  const modelPath = join(versionDir, 'model.onnx');
  copyFileSync(onnxPath, modelPath);
  const dataPath = `${modelPath}.data`;
  let externalDataPath: string | undefined;
  if (options.externalDataPath && existsSync(options.externalDataPath)) {
    copyFileSync(options.externalDataPath, dataPath);
    externalDataPath = dataPath;
  } else rmSync(dataPath, { force: true });
  const configPath = join(modelDir, 'config.pbtxt');
  writeFileSync(configPath, config.text);
  return { configPath, modelPath, externalDataPath, maxBatchSize: config.maxBatchSize, signature };
}
