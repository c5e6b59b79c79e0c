import { RnnxError } from '../ir/errors.js';
import { normalizeDomain, type Attribute, type Dim, type Graph, type Model, type Node, type ValueInfo } from '../ir/graph.js';
import { dtypeFromOnnx, onnxDtypeName, type Tensor } from '../ir/tensor.js';
import { onnx, toBig, toNum, type OnnxNs } from './proto.js';
import { decodeTensor, exactDim, type ExternalDataContext } from './tensor-proto.js';
import { ExternalFiles, readRegularFile } from './external-data.js';
import { fuseRecurrent } from './fuse.js';
import { expandModelFunctions } from './functions.js';
import { platform } from '../platform/index.js';
import { utf8 } from '../platform/text.js';

export interface LoadOptions {
  /** Recover whole PyTorch recurrent modules into ai.rnnx stack nodes (default true). */
  readonly fuse?: boolean;
}

/** Reads a model from a path (external data resolved beside it) or from bytes. */
export function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Model {
  const model = readModel(source);
  return options.fuse === false ? model : fuseRecurrent(model);
}

function readModel(source: string | Uint8Array): Model {
  if (typeof source === 'string') {
    const bytes = readRegularFile(source, 'model');
    const files = new ExternalFiles(platform().dirOf(source));
    try {
      return decodeModel(bytes, { baseDir: files.baseDir, files });
    } finally {
      files.close();
    }
  }
  return decodeModel(source, {});
}

export function decodeModel(bytes: Uint8Array, ctx: ExternalDataContext): Model {
  try {
    return decodeModelProto(bytes, ctx);
  } catch (e) {
    if (e instanceof RnnxError) throw e;
    // A safety net: whatever a malformed file trips over is reported, never a crash.
    throw new RnnxError(`Malformed ONNX model: ${(e as Error).message}`);
  }
}

function decodeModelProto(bytes: Uint8Array, ctx: ExternalDataContext): Model {
  let mp: OnnxNs.ModelProto;
  try {
    mp = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new RnnxError(`Not a valid ONNX model: protobuf decoding failed (${(e as Error).message})`);
  }
  if (!mp.graph) throw new RnnxError('Not a valid ONNX model: it has no graph');
  expandModelFunctions(mp);
  const opsets = new Map<string, number>();
  for (const o of mp.opsetImport ?? []) opsets.set(normalizeDomain(o.domain ?? ''), toNum(o.version));
  // IR < 3 had no opset_import: opset 1. A model may import no ai.onnx opset at all (only
  // ai.onnx.ml or training domains): it is decoded, and the session names what it cannot run.
  if (!opsets.has('') && toNum(mp.irVersion) < 3) opsets.set('', 1);
  return {
    irVersion: toNum(mp.irVersion),
    producerName: mp.producerName ?? '',
    producerVersion: mp.producerVersion ?? '',
    opsets,
    graph: decodeGraph(mp.graph, ctx),
  };
}

export function decodeGraph(gp: OnnxNs.IGraphProto, ctx: ExternalDataContext): Graph {
  const initializers = new Map<string, Tensor>();
  for (const tp of gp.initializer ?? []) {
    initializers.set(tp.name ?? '', decodeTensor(tp, ctx, 'initializer'));
  }
  if ((gp.sparseInitializer ?? []).length > 0) {
    throw new RnnxError(`Graph '${gp.name ?? ''}': sparse initializers are not supported`);
  }
  const inputs = (gp.input ?? []).map(decodeValueInfo).filter((v) => !initializers.has(v.name));
  const valueInfo = new Map<string, ValueInfo>();
  for (const vi of gp.valueInfo ?? []) {
    const v = decodeValueInfo(vi);
    valueInfo.set(v.name, v);
  }
  const nodes: Node[] = (gp.node ?? []).map((np, i) => decodeNode(np, i, ctx));
  return {
    name: gp.name ?? '',
    nodes,
    inputs,
    outputs: (gp.output ?? []).map(decodeValueInfo),
    initializers,
    valueInfo,
  };
}

function decodeValueInfo(vi: OnnxNs.IValueInfoProto): ValueInfo {
  const name = vi.name ?? '';
  const t = vi.type;
  if (t?.mapType) throw new RnnxError(`Value '${name}': map values are not supported`);
  // sequence(tensor), optional(tensor) and optional(sequence(tensor)) carry their element tensor type
  const seq = t?.sequenceType ?? t?.optionalType?.elemType?.sequenceType;
  const kind: ValueInfo['kind'] = t?.optionalType ? 'optional' : t?.sequenceType ? 'sequence' : 'tensor';
  const tt = seq ? seq.elemType?.tensorType : t?.optionalType ? t.optionalType.elemType?.tensorType : t?.tensorType;
  if ((seq && seq.elemType && !seq.elemType.tensorType) || (t?.optionalType?.elemType?.mapType)) {
    throw new RnnxError(`Value '${name}': only sequences and optionals of tensors are supported`);
  }
  const extra = t?.optionalType?.elemType?.sequenceType ? { optionalOf: 'sequence' as const } : {};
  if (!tt) return kind === 'tensor' ? { name } : { name, kind, ...extra };
  const code = tt.elemType ?? 0;
  const type = dtypeFromOnnx(code);
  if (code !== 0 && !type) throw new RnnxError(`Value '${name}': data type ${onnxDtypeName(code)} is not supported`);
  const shape: Dim[] | undefined = tt.shape && kind === 'tensor'
    ? (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null && (d as { value?: string }).value === 'dimValue' ? declaredDim(d.dimValue, name) : null))
    : undefined;
  return kind === 'tensor' ? { name, type, shape } : { name, kind, type, ...extra };
}

/** A declared dim: exact (a value beyond 2^53 is refused, never rounded); a negative one is unknown (null). */
function declaredDim(v: Parameters<typeof exactDim>[0], name: string): number | null {
  const d = exactDim(v);
  if (d !== undefined) return d;
  if (typeof v === 'number' ? v < 0 : (v!.high | 0) < 0) return null;
  throw new RnnxError(`Value '${name}': declared dim ${typeof v === 'number' ? v : toBig(v!)} is beyond 2^53`);
}

function decodeNode(np: OnnxNs.INodeProto, index: number, ctx: ExternalDataContext): Node {
  const opType = np.opType ?? '';
  const name = np.name || `${opType}_${index}`;
  const attributes = new Map<string, Attribute>();
  for (const ap of np.attribute ?? []) {
    attributes.set(ap.name ?? '', decodeAttribute(ap, ctx, name, opType));
  }
  const node: Node = {
    name,
    opType,
    domain: normalizeDomain(np.domain ?? ''),
    inputs: [...(np.input ?? [])],
    outputs: [...(np.output ?? [])],
    attributes,
  };
  // metadata_props (IR 10): e.g. the PyTorch module path the dynamo exporter records.
  const meta = (np.metadataProps ?? []).filter((e) => e.key);
  return meta.length ? { ...node, metadata: new Map(meta.map((e) => [e.key!, e.value ?? ''])) } : node;
}

const AT = onnx.AttributeProto.AttributeType;

function decodeAttribute(ap: OnnxNs.IAttributeProto, ctx: ExternalDataContext, node: string, opType: string): Attribute {
  const what = `node ${node} (${opType}) attribute '${ap.name}'`;
  // Old exporters leave `type` unset; infer it from the field that is filled.
  let type = ap.type ?? AT.UNDEFINED;
  if (type === AT.UNDEFINED) {
    if (ap.floats?.length) type = AT.FLOATS;
    else if (ap.ints?.length) type = AT.INTS;
    else if (ap.strings?.length) type = AT.STRINGS;
    else if (ap.t) type = AT.TENSOR;
    else if (ap.g) type = AT.GRAPH;
    else if (ap.s?.length) type = AT.STRING;
    else if (ap.i != null && toNum(ap.i) !== 0) type = AT.INT;
    else if (ap.f) type = AT.FLOAT;
  }
  switch (type) {
    case AT.FLOAT: return { type: 'float', value: ap.f ?? 0 };
    case AT.INT: return { type: 'int', value: toNum(ap.i) };
    case AT.STRING: return { type: 'string', value: utf8(ap.s ?? new Uint8Array()) };
    case AT.TENSOR:
      if (!ap.t) throw new RnnxError(`${what}: TENSOR attribute without a tensor`);
      return { type: 'tensor', value: decodeTensor(ap.t, ctx, what) };
    case AT.GRAPH:
      if (!ap.g) throw new RnnxError(`${what}: GRAPH attribute without a graph`);
      return { type: 'graph', value: decodeGraph(ap.g, ctx) };
    case AT.FLOATS: return { type: 'floats', value: [...(ap.floats ?? [])] };
    case AT.INTS: return { type: 'ints', value: (ap.ints ?? []).map(toNum) };
    case AT.STRINGS: return { type: 'strings', value: (ap.strings ?? []).map(utf8) };
    case AT.TENSORS: return { type: 'tensors', value: (ap.tensors ?? []).map((t) => decodeTensor(t, ctx, what)) };
    case AT.GRAPHS: return { type: 'graphs', value: (ap.graphs ?? []).map((g) => decodeGraph(g, ctx)) };
    default: return { type: 'unsupported', value: `attribute type ${type}` };
  }
}
