/**
 * A small builder over onnx-proto's ModelProto: named initializers, nodes with typed attributes,
 * graph inputs/outputs with symbolic dims. Exporters describe their graph with it and never touch
 * protobuf details.
 */
import onnxProto from 'onnx-proto';
import { float32ArrayToFloat16 } from '../weights/half.js';

const { onnx } = onnxProto;
export type OnnxModel = InstanceType<typeof onnx.ModelProto>;
export type OnnxTensor = onnxProto.onnx.ITensorProto;

export const OPSET = 17;
/** IR version 8 pairs with opset 17 (LayerNormalization needs 17). */
export const IR_VERSION = 8;

export type Dim = number | string;

export type Attribute =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

type ElementType = 'float32' | 'int64';

const ELEMENT_TYPE: Record<ElementType | 'float16' | 'int8', number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int8: onnx.TensorProto.DataType.INT8,
};

/** ONNX Runtime's contrib operators (MultiHeadAttention); version 1 is the only one. */
export const MICROSOFT_DOMAIN = 'com.microsoft';

/** How learned weights are stored in the file; the graph computes in float32 either way. */
export type WeightType = 'float32' | 'float16';

function toAttributeProto(name: string, attribute: Attribute): onnxProto.onnx.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  switch (attribute.kind) {
    case 'int':
      return { name, type: types.INT, i: attribute.value };
    case 'float':
      return { name, type: types.FLOAT, f: attribute.value };
    case 'ints':
      return { name, type: types.INTS, ints: [...attribute.value] };
    case 'string':
      return { name, type: types.STRING, s: new TextEncoder().encode(attribute.value) };
  }
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly scalars = new Map<string, string>();
  private readonly domains = new Set<string>();
  private counter = 0;

  constructor(
    private readonly graphName: string,
    private readonly weightType: WeightType = 'float32',
  ) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return this.claim(this.unusedName(prefix));
  }

  private unusedName(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX value name '${name}' is used twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims));
    return name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, type: ElementType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 initializer; the data is referenced, not copied, until serialization. */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    return this.raw(name, dims, ELEMENT_TYPE.float32, data);
  }

  /** An initializer of `data`'s bytes as they are, once its length is checked against `dims`. */
  private raw(name: string, dims: readonly number[], dataType: number, data: Float32Array | Uint16Array | Int8Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length) {
      throw new Error(`initializer '${name}' has ${data.length} values for dims [${dims.join(', ')}]`);
    }
    this.initializers.push({
      name: this.claim(name),
      dims: [...dims],
      dataType,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /**
   * A learned weight: a float32 initializer, or with float16 weights a float16 initializer and a
   * Cast to float32 (ONNX Runtime folds the Cast once at load; the file holds half the bytes).
   */
  weight(name: string, dims: readonly number[], data: Float32Array): string {
    if (this.weightType === 'float32') return this.float(name, dims, data);
    this.raw(name, dims, ELEMENT_TYPE.float16, float32ArrayToFloat16(data));
    return this.op('Cast', [name], { to: attr.int(ELEMENT_TYPE.float32) });
  }

  /** An int8 initializer (quantized weights, zero points); stored as is, never cast to half. */
  int8(name: string, dims: readonly number[], data: Int8Array): string {
    return this.raw(name, dims, ELEMENT_TYPE.int8, data);
  }

  /** An int64 initializer (shapes, axes, indices); a scalar when dims is []. */
  int64(prefix: string, dims: readonly number[], values: readonly number[]): string {
    const name = this.fresh(prefix);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: ELEMENT_TYPE.int64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  /** A float32 scalar constant, shared by every node that uses the same prefix and value. */
  scalar(prefix: string, value: number): string {
    const key = `${prefix}:${value}`;
    const cached = this.scalars.get(key);
    if (cached) return cached;
    const name = this.float(this.unusedName(prefix), [], Float32Array.of(value));
    this.scalars.set(key, name);
    return name;
  }

  /**
   * Adds a node; returns its output names. `outputs` is a count (fresh names) or explicit names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: number | readonly string[] = 1,
    attributes: Record<string, Attribute> = {},
    domain = '',
  ): string[] {
    if (domain) this.domains.add(domain);
    const outputNames =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : outputs.map((name) => this.claim(name));
    this.nodes.push({
      opType,
      ...(domain ? { domain } : {}),
      name: this.fresh(`${opType}_node`),
      input: [...inputs],
      output: outputNames,
      attribute: Object.entries(attributes).map(([key, value]) => toAttributeProto(key, value)),
    });
    return outputNames;
  }

  /** Single-output convenience over node(). */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, outputName?: string): string {
    return this.node(opType, inputs, outputName ? [outputName] : 1, attributes)[0]!;
  }

  /** A single-output node of a contrib domain (its opset is imported at build). */
  domainOp(domain: string, opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}): string {
    return this.node(opType, inputs, 1, attributes, domain)[0]!;
  }

  build(metadata: Record<string, string> = {}, producer = 'videomae-serve'): OnnxModel {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      producerName: producer,
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }
}
