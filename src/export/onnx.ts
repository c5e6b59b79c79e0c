import type { Attribute, Dim, Graph, Model, Node, ValueInfo } from '../ir/graph.js';
import { Tensor, dtypeToOnnx, type DataType } from '../ir/tensor.js';
import { onnx, type OnnxNs } from '../import/proto.js';
import { encodeTensor } from '../import/tensor-proto.js';
import { lowerStacks } from './lower.js';

const AT = onnx.AttributeProto.AttributeType;

function encodeAttribute(name: string, a: Attribute): OnnxNs.IAttributeProto {
  const enc = new TextEncoder();
  switch (a.type) {
    case 'float': return { name, type: AT.FLOAT, f: a.value };
    case 'int': return { name, type: AT.INT, i: a.value };
    case 'string': return { name, type: AT.STRING, s: enc.encode(a.value) };
    case 'tensor': return { name, type: AT.TENSOR, t: encodeTensor(a.value, '') };
    case 'graph': return { name, type: AT.GRAPH, g: encodeGraph(a.value) };
    case 'floats': return { name, type: AT.FLOATS, floats: [...a.value] };
    case 'ints': return { name, type: AT.INTS, ints: [...a.value] };
    case 'strings': return { name, type: AT.STRINGS, strings: a.value.map((s) => enc.encode(s)) };
    case 'tensors': return { name, type: AT.TENSORS, tensors: a.value.map((t) => encodeTensor(t, '')) };
    case 'graphs': return { name, type: AT.GRAPHS, graphs: a.value.map(encodeGraph) };
    default: throw new Error(`attribute '${name}': cannot encode ${a.value}`);
  }
}

function encodeValueInfo(v: ValueInfo): OnnxNs.IValueInfoProto {
  const kind = v.kind ?? 'tensor';
  if (!v.type && kind === 'tensor') return { name: v.name };
  const shape = v.shape && kind === 'tensor' ? { dim: v.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) } : undefined;
  const tensorType: OnnxNs.ITypeProto = { tensorType: { elemType: v.type ? dtypeToOnnx(v.type) : 0, shape } };
  if (kind === 'tensor') return { name: v.name, type: tensorType };
  const sequenceType: OnnxNs.ITypeProto = { sequenceType: { elemType: tensorType } };
  if (kind === 'sequence') return { name: v.name, type: sequenceType };
  return { name: v.name, type: { optionalType: { elemType: v.optionalOf === 'sequence' ? sequenceType : tensorType } } };
}

function encodeNode(n: Node): OnnxNs.INodeProto {
  return {
    name: n.name, opType: n.opType, domain: n.domain, input: [...n.inputs], output: [...n.outputs],
    attribute: [...n.attributes].map(([k, a]) => encodeAttribute(k, a)),
    // rnnx's own notes (rnnx.fused_from, rnnx.not_fused, …) describe this import, not the model.
    metadataProps: [...(n.metadata ?? [])].filter(([key]) => !key.startsWith('rnnx.')).map(([key, value]) => ({ key, value })),
  };
}

export function encodeGraph(g: Graph): OnnxNs.IGraphProto {
  return {
    name: g.name,
    node: g.nodes.map(encodeNode),
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    initializer: [...g.initializers].map(([k, t]) => encodeTensor(t, k)),
    valueInfo: [...g.valueInfo.values()].map(encodeValueInfo),
  };
}

/** IR Model -> ONNX ModelProto bytes. */
export function encodeModel(m: Model): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: m.irVersion,
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    opsetImport: [...m.opsets].map(([domain, version]) => ({ domain, version })),
    graph: encodeGraph(m.graph),
  }).finish();
}

/** Attribute shorthand: numbers become ints when integral unless given as {f: x}. */
export type AttrValue = number | string | readonly number[] | readonly string[] | Tensor | { f: number } | { floats: readonly number[] };

export function toAttribute(v: AttrValue): Attribute {
  if (v instanceof Tensor) return { type: 'tensor', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    return (v as number[]).every(Number.isInteger) ? { type: 'ints', value: v as number[] } : { type: 'floats', value: v as number[] };
  }
  if ('floats' in (v as object)) return { type: 'floats', value: (v as { floats: number[] }).floats };
  return { type: 'float', value: (v as { f: number }).f };
}

export interface SingleNodeSpec {
  readonly opType: string;
  /** Inputs in order; `null` is an omitted optional input; `constant` ones become initializers. */
  readonly inputs: readonly ({ name: string; tensor: Tensor; constant?: boolean } | null)[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  readonly opset?: number;
  /** Declared output types (default: the first input's type). */
  readonly outputTypes?: readonly DataType[];
}

/** A one-node model, the unit of the cross-checks against onnxruntime. */
export function singleNodeModel(spec: SingleNodeSpec): Model {
  const present = spec.inputs.filter((i): i is NonNullable<typeof i> => i !== null);
  const node: Node = {
    name: `${spec.opType}_0`, opType: spec.opType, domain: '',
    inputs: spec.inputs.map((i) => (i ? i.name : '')), outputs: [...spec.outputs],
    attributes: new Map(Object.entries(spec.attrs ?? {}).map(([k, v]) => [k, toAttribute(v)])),
  };
  const t0 = present[0]?.tensor.type ?? 'float32';
  return {
    irVersion: 8, producerName: 'rnnx', producerVersion: '0.1.0', opsets: new Map([['', spec.opset ?? 14]]),
    graph: {
      name: spec.opType, nodes: [node],
      inputs: present.filter((i) => !i.constant).map((i) => ({ name: i.name, type: i.tensor.type, shape: [...i.tensor.dims] })),
      outputs: spec.outputs.filter((o) => o).map((o, k) => ({ name: o, type: spec.outputTypes?.[k] ?? t0 })),
      initializers: new Map(present.filter((i) => i.constant).map((i) => [i.name, i.tensor])),
      valueInfo: new Map(),
    },
  };
}

/**
 * IR -> ONNX bytes that onnxruntime runs too: rnnx stack nodes are lowered to standard ONNX
 * recurrent nodes first (src/export/lower.ts), at the model's opset.
 */
export function exportOnnx(m: Model): Uint8Array {
  return encodeModel(lowerStacks(m, m.opsets.get('') ?? 14));
}
