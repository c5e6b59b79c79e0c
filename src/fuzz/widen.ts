// The float64 twin of a float32 model, for the differential fuzzer's second opinion: when rnnx and
// onnxruntime disagree on a float32 model, onnxruntime runs the same graph in float64. If its
// float64 answer agrees with rnnx's float32 answer (and not with its own float32 one), the
// disagreement is onnxruntime's float32 arithmetic (its fast approximations of sigmoid/tanh/exp
// are accurate to ~1e-7 absolute, not relative), not a wrong number from rnnx.
import { onnx, toNum, type OnnxNs } from '../import/proto.js';
import { expandRecurrent } from './expand-rnn.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT, DOUBLE = onnx.TensorProto.DataType.DOUBLE;

/** Ops whose float32-ness is fixed by an attribute, not by their inputs. */
const TYPE_ATTRIBUTES = new Set(['to', 'dtype', 'output_dtype']);

/** The values of an external-data tensor (as the model's loader read them), by name. */
export type ExternalValues = (name: string) => Float32Array | undefined;

function widenTensor(t: OnnxNs.ITensorProto, external?: ExternalValues): void {
  if (t.dataType !== FLOAT) return;
  let values: Float32Array;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const v = external?.(t.name ?? '');
    if (!v) throw new Error(`tensor '${t.name}' has external data`);
    values = v;
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  } else if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    if (raw.length % 4) throw new Error(`tensor '${t.name}': raw data of ${raw.length} bytes`);
    values = new Float32Array(raw.length / 4);
    new Uint8Array(values.buffer).set(raw);
  } else values = Float32Array.from(t.floatData ?? []);
  t.dataType = DOUBLE;
  t.rawData = new Uint8Array(Float64Array.from(values).buffer);
  t.floatData = [];
}

function widenType(tp: OnnxNs.ITypeProto | null | undefined): void {
  if (!tp) return;
  if (tp.tensorType?.elemType === FLOAT) tp.tensorType.elemType = DOUBLE;
  widenType(tp.sequenceType?.elemType);
  widenType(tp.optionalType?.elemType);
  widenType(tp.mapType?.valueType);
}

function widenGraph(g: OnnxNs.IGraphProto, external?: ExternalValues): void {
  for (const t of g.initializer ?? []) widenTensor(t, external);
  // value_info is only a hint, and a mutated one can contradict the expanded recurrent nodes
  g.valueInfo = [];
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) widenType(v.type);
  for (const n of g.node ?? []) {
    // ConstantOfShape without a value makes float32 zeros
    if (n.opType === 'ConstantOfShape' && !n.domain && !(n.attribute ?? []).some((a) => a.name === 'value')) {
      n.attribute = [...(n.attribute ?? []), { name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dataType: DOUBLE, dims: [1], doubleData: [0] } }];
    }
    for (const a of n.attribute ?? []) {
      if (a.t) widenTensor(a.t);
      for (const t of a.tensors ?? []) widenTensor(t);
      if (a.g) widenGraph(a.g);
      for (const sg of a.graphs ?? []) widenGraph(sg);
      if (TYPE_ATTRIBUTES.has(a.name ?? '') && toNum(a.i as never) === FLOAT) a.i = DOUBLE;
    }
  }
}

/**
 * The model with every float32 tensor, type and type attribute made float64, and its recurrent
 * nodes expanded into Loops of primitive ops (src/fuzz/expand-rnn.ts); throws if it cannot.
 */
export function widenModel(bytes: Uint8Array, external?: ExternalValues): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  if (m.functions?.length) throw new Error('model-local functions are not widened');
  widenGraph(m.graph!, external);
  const { left } = expandRecurrent(m);
  if (left) throw new Error(`${left} recurrent node(s) of a form the expansion does not cover`);
  return onnx.ModelProto.encode(m).finish();
}
