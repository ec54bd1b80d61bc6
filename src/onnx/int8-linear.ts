/**
 * A Linear with int8 weights and dynamically quantized activations, in the form ONNX Runtime's
 * optimizer fuses (DynamicQuantizeLinear + MatMulInteger + Cast + Mul + Add ->
 * DynamicQuantizeMatMul on the CPU EP), so the file stays standard ONNX and runs anywhere.
 */
import { attr, type GraphBuilder } from './graph-builder.js';
import { quantizePerColumn } from './quantize.js';

/** TensorProto.DataType.FLOAT, the Cast target of the int32 product. */
const FLOAT = 1;

/** y = x @ W + b with W [inDim, outDim] quantized per output channel, x quantized per call. */
export function int8Linear(
  g: GraphBuilder,
  x: string,
  prefix: string,
  weight: Float32Array,
  inDim: number,
  outDim: number,
  bias: string,
): string {
  const q = quantizePerColumn(weight, inDim, outDim);
  const values = g.int8(`${prefix}.weight_int8`, [inDim, outDim], q.values);
  const scales = g.float(`${prefix}.weight_scale`, [outDim], q.scales);
  // Activations: uint8 with a per-tensor scale and zero point, found at run time.
  const [xq, xScale, xZero] = g.node('DynamicQuantizeLinear', [x], 3);
  // Symmetric weights: b_zero_point left out (0).
  const product = g.op('MatMulInteger', [xq!, values, xZero!]);
  const asFloat = g.op('Cast', [product], { to: attr.int(FLOAT) });
  const scale = g.op('Mul', [xScale!, scales]);
  return g.op('Add', [g.op('Mul', [asFloat, scale]), bias]);
}
