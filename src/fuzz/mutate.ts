// A seeded, structure-aware mutator of ONNX models: decode, change one to three fields (dims,
// dtypes, attributes, wiring, external-data entries, raw bytes, opsets), encode again. The result
// is always valid protobuf, so the engine's own checks (not the decoder's) are what is tested.
import { onnx, type OnnxNs } from '../import/proto.js';

export type Rng = () => number;

/** mulberry32 over (seed, index): mutant `index` of a campaign is reproducible on its own. */
export function rngFor(seed: number, index: number): Rng {
  let a = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** 2^53 + 1 as protobufjs's Long halves. */
const BIG_DIM = { low: 1, high: 0x200000, unsigned: false };
const INTERESTING_INTS = [0, 1, -1, 2, -2, 3, 7, 255, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 1e9, 2 ** 40];
const INTERESTING_FLOATS = [0, -0, 1, -1, 0.5, 1e-30, 1e30, NaN, Infinity, -Infinity, 3.4e38];
const DTYPE_CODES = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 21, 22, 25, 99];
const OPS = ['Add', 'MatMul', 'Gemm', 'LSTM', 'GRU', 'RNN', 'Reshape', 'Transpose', 'Slice', 'Concat', 'Squeeze', 'Unsqueeze',
  'Gather', 'Split', 'Loop', 'If', 'Scan', 'Cast', 'Expand', 'ConstantOfShape', 'Tile', 'Pad', 'Resize', 'MaxPool', 'Conv',
  'Softmax', 'ReduceSum', 'TopK', 'Range', 'NonZero', 'Where', 'Identity', 'NoSuchOp'];

/** A data file a mutant brings along (external data), relative to the model's folder. */
export interface MutantFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface Mutant {
  readonly bytes: Uint8Array;
  /** The mutations made, e.g. `dims initializer 'W' [1,20,4] -> [1,-2,4]`. */
  readonly steps: string[];
  /** Files to write beside the model (external data). */
  readonly files: MutantFile[];
}

interface Ctx {
  readonly r: Rng;
  readonly m: OnnxNs.IModelProto;
  readonly graphs: OnnxNs.IGraphProto[];
  readonly steps: string[];
  readonly files: MutantFile[];
}

/** One initializer that holds raw bytes, picked at random (undefined: none has). */
function rawInitializer(c: Ctx) {
  const inits = c.graphs.flatMap((g) => g.initializer ?? []).filter((t) => t.rawData && t.rawData.length);
  return inits.length ? pick(c.r, inits) : undefined;
}

function allGraphs(g: OnnxNs.IGraphProto, out: OnnxNs.IGraphProto[] = []): OnnxNs.IGraphProto[] {
  out.push(g);
  for (const n of g.node ?? []) for (const a of n.attribute ?? []) {
    if (a.g) allGraphs(a.g, out);
    for (const sg of a.graphs ?? []) allGraphs(sg, out);
  }
  return out;
}

function valueNames(g: OnnxNs.IGraphProto): string[] {
  return [...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? ''), ...(g.node ?? []).flatMap((n) => n.output ?? [])];
}

function interestingInt(r: Rng, old?: number): number {
  const x = r();
  if (x < 0.5) return pick(r, INTERESTING_INTS);
  if (old !== undefined && x < 0.8) return old + pick(r, [-1, 1, -2, 2]);
  return Math.floor(r() * 64) - 8;
}

const MUTATIONS: ((c: Ctx) => boolean)[] = [
  // dims of an initializer
  (c) => {
    const inits = c.graphs.flatMap((g) => g.initializer ?? []);
    if (!inits.length) return false;
    const t = pick(c.r, inits);
    const dims = [...(t.dims ?? [])];
    const before = `[${dims}]`;
    const x = c.r();
    if (x < 0.15) dims.push(pick(c.r, [1, 2, 0]));
    else if (x < 0.3 && dims.length) dims.pop();
    else if (dims.length) {
      const i = Math.floor(c.r() * dims.length);
      dims[i] = c.r() < 0.1 ? (BIG_DIM as never) : interestingInt(c.r, Number(dims[i]));
    } else dims.push(interestingInt(c.r));
    t.dims = dims;
    c.steps.push(`dims initializer '${t.name}' ${before} -> [${dims.map((d) => (typeof d === 'number' ? d : '2^53+1'))}]`);
    return true;
  },
  // declared dims of a graph input or output
  (c) => {
    const vis = c.graphs.flatMap((g) => [...(g.input ?? []), ...(g.output ?? [])]).filter((v) => v.type?.tensorType?.shape?.dim?.length);
    if (!vis.length) return false;
    const v = pick(c.r, vis);
    const d = pick(c.r, v.type!.tensorType!.shape!.dim!);
    const x = c.r();
    if (x < 0.3) { d.dimParam = pick(c.r, ['batch', 'time', 'n', '']); d.dimValue = undefined as never; }
    else d.dimValue = c.r() < 0.1 ? (BIG_DIM as never) : interestingInt(c.r);
    c.steps.push(`declared dim of '${v.name}' -> ${d.dimParam || String(d.dimValue && typeof d.dimValue === 'object' ? '2^53+1' : d.dimValue)}`);
    return true;
  },
  // dtype of an initializer or of a declared value
  (c) => {
    const x = c.r();
    if (x < 0.6) {
      const inits = c.graphs.flatMap((g) => g.initializer ?? []);
      if (!inits.length) return false;
      const t = pick(c.r, inits);
      const to = pick(c.r, DTYPE_CODES);
      c.steps.push(`dtype initializer '${t.name}' ${t.dataType} -> ${to}`);
      t.dataType = to;
    } else {
      const vis = c.graphs.flatMap((g) => [...(g.input ?? []), ...(g.output ?? [])]).filter((v) => v.type?.tensorType);
      if (!vis.length) return false;
      const v = pick(c.r, vis);
      const to = pick(c.r, DTYPE_CODES);
      c.steps.push(`declared dtype of '${v.name}' -> ${to}`);
      v.type!.tensorType!.elemType = to;
    }
    return true;
  },
  // an attribute: new value, other type, removed, or an unknown one added
  (c) => {
    const nodes = c.graphs.flatMap((g) => g.node ?? []);
    if (!nodes.length) return false;
    const n = pick(c.r, nodes);
    const attrs = n.attribute ?? (n.attribute = []);
    const x = c.r();
    if (x < 0.1 || !attrs.length) {
      const name = pick(c.r, ['axis', 'hidden_size', 'direction', 'layout', 'clip', 'perm', 'kernel_shape', 'to', 'bogus']);
      attrs.push({ name, type: 2, i: interestingInt(c.r) });
      c.steps.push(`attribute ${n.opType}.${name} added`);
      return true;
    }
    const a = pick(c.r, attrs);
    if (x < 0.2) {
      attrs.splice(attrs.indexOf(a), 1);
      c.steps.push(`attribute ${n.opType}.${a.name} removed`);
    } else if (a.type === 2 || (a.i !== undefined && a.i !== null && !a.type)) {
      a.i = interestingInt(c.r, Number(a.i));
      c.steps.push(`attribute ${n.opType}.${a.name} = ${a.i}`);
    } else if (a.type === 1) {
      a.f = pick(c.r, INTERESTING_FLOATS);
      c.steps.push(`attribute ${n.opType}.${a.name} = ${a.f}`);
    } else if (a.type === 7 && a.ints?.length) {
      const ints = [...a.ints];
      if (c.r() < 0.3) ints.push(interestingInt(c.r)); else ints[Math.floor(c.r() * ints.length)] = interestingInt(c.r);
      a.ints = ints;
      c.steps.push(`attribute ${n.opType}.${a.name} = [${ints}]`);
    } else if (a.type === 6 && a.floats?.length) {
      a.floats = a.floats.map((f) => (c.r() < 0.5 ? pick(c.r, INTERESTING_FLOATS) : f));
      c.steps.push(`attribute ${n.opType}.${a.name} floats changed`);
    } else if (a.type === 3 || a.type === 8) {
      const s = new TextEncoder().encode(pick(c.r, ['', 'forward', 'reverse', 'bidirectional', 'Tanh', 'Nope', 'constructor']));
      if (a.type === 3) a.s = s; else a.strings = [s, ...(a.strings ?? []).slice(1)];
      c.steps.push(`attribute ${n.opType}.${a.name} string changed`);
    } else {
      a.type = pick(c.r, [1, 2, 3, 7]);
      c.steps.push(`attribute ${n.opType}.${a.name} type -> ${a.type}`);
    }
    return true;
  },
  // wiring: an input rewired, emptied or dangling; an output renamed; a node dropped or duplicated; the op changed
  (c) => {
    const g = pick(c.r, c.graphs);
    const nodes = g.node ?? [];
    if (!nodes.length) return false;
    const i = Math.floor(c.r() * nodes.length);
    const n = nodes[i];
    const x = c.r();
    if (x < 0.35 && n.input?.length) {
      const k = Math.floor(c.r() * n.input.length);
      const to = c.r() < 0.7 ? pick(c.r, valueNames(g)) : pick(c.r, ['', 'nowhere']);
      c.steps.push(`wiring ${n.opType}.input[${k}] '${n.input[k]}' -> '${to}'`);
      n.input[k] = to;
    } else if (x < 0.45 && n.output?.length) {
      const to = pick(c.r, valueNames(g));
      c.steps.push(`wiring ${n.opType}.output[0] '${n.output[0]}' -> '${to}'`);
      n.output[0] = to;
    } else if (x < 0.6) {
      nodes.splice(i, 1);
      c.steps.push(`node ${n.name || n.opType} removed`);
    } else if (x < 0.7) {
      nodes.splice(i, 0, onnx.NodeProto.decode(onnx.NodeProto.encode(n).finish()));
      c.steps.push(`node ${n.name || n.opType} duplicated`);
    } else if (x < 0.85) {
      const to = pick(c.r, OPS);
      c.steps.push(`op ${n.opType} -> ${to}`);
      n.opType = to;
    } else if (n.input && n.input.length > 1) {
      n.input.reverse();
      c.steps.push(`wiring ${n.opType} inputs reversed`);
    } else {
      (n.input ?? (n.input = [])).push(pick(c.r, valueNames(g)));
      c.steps.push(`wiring ${n.opType} extra input`);
    }
    return true;
  },
  // external data: an initializer moved to a file, with hostile or honest entries
  (c) => {
    const t = rawInitializer(c);
    if (!t) return false;
    const raw = new Uint8Array(t.rawData!);
    const location = pick(c.r, ['w.bin', 'w.bin', 'w.bin', 'sub/w.bin', '..w.bin', '../w.bin', '/etc/passwd', '/dev/zero', 'missing.bin', '', '.', 'w.bin\0x']);
    const pad = pick(c.r, [0, 0, 16, 4096]);
    const entries = [{ key: 'location', value: location }];
    const off = c.r();
    if (off < 0.6) entries.push({ key: 'offset', value: String(pad) });
    else entries.push({ key: 'offset', value: pick(c.r, ['0x10', '-1', '1e3', ' 0', '99999999999999999999', String(pad + 1), String(2 ** 40)]) });
    if (c.r() < 0.7) entries.push({ key: 'length', value: c.r() < 0.8 ? String(raw.length) : String(raw.length + pick(c.r, [-1, 1, 4, 1e6])) });
    if (c.r() < 0.05) entries.push({ key: pick(c.r, ['checksum', 'bogus', 'location']), value: '0' });
    t.externalData = entries;
    t.dataLocation = 1;
    t.rawData = new Uint8Array(0);
    const file = new Uint8Array(pad + raw.length);
    file.set(raw, pad);
    if (/^(sub\/)?(\.\.)?w\.bin$/.test(location) && c.r() < 0.9) c.files.push({ path: location, bytes: c.r() < 0.9 ? file : file.subarray(0, Math.floor(file.length / 2)) });
    c.steps.push(`external data '${t.name}': ${entries.map((e) => `${e.key}=${JSON.stringify(e.value)}`).join(' ')}`);
    return true;
  },
  // raw bytes of an initializer: truncated, extended or flipped
  (c) => {
    const t = rawInitializer(c);
    if (!t) return false;
    const raw = new Uint8Array(t.rawData!);
    const x = c.r();
    if (x < 0.3) t.rawData = raw.subarray(0, Math.floor(raw.length * c.r()));
    else if (x < 0.5) { const e = new Uint8Array(raw.length + pick(c.r, [1, 4, 8])); e.set(raw); t.rawData = e; }
    else {
      for (let k = 0; k < 4; k++) raw[Math.floor(c.r() * raw.length)] = Math.floor(c.r() * 256);
      // NaN, Inf and huge floats come out of byte 0xff / 0x7f patterns
      if (c.r() < 0.5 && raw.length >= 4) raw.set([0, 0, 0xc0, 0x7f], Math.floor(c.r() * Math.floor(raw.length / 4)) * 4);
      t.rawData = raw;
    }
    c.steps.push(`raw data of '${t.name}' changed (${raw.length} -> ${t.rawData.length} bytes)`);
    return true;
  },
  // opsets and IR version
  (c) => {
    const o = c.m.opsetImport ?? [];
    if (c.r() < 0.7 && o.length) {
      const e = pick(c.r, o);
      e.version = pick(c.r, [1, 3, 6, 7, 9, 13, 14, 17, 22, 23, 99, 0, -1]);
      c.steps.push(`opset ${e.domain || 'ai.onnx'} -> ${e.version}`);
    } else {
      c.m.irVersion = pick(c.r, [0, 1, 3, 7, 11, 99]);
      c.steps.push(`ir_version -> ${c.m.irVersion}`);
    }
    return true;
  },
  // graph inputs and outputs
  (c) => {
    const g = c.graphs[0];
    const x = c.r();
    if (x < 0.3 && g.output?.length) {
      const o = pick(c.r, g.output);
      o.name = pick(c.r, [...valueNames(g), 'nowhere']);
      c.steps.push(`graph output -> '${o.name}'`);
    } else if (x < 0.5 && g.output && g.output.length > 1) {
      g.output.splice(Math.floor(c.r() * g.output.length), 1);
      c.steps.push('graph output removed');
    } else if (x < 0.7 && g.input?.length) {
      g.input.splice(Math.floor(c.r() * g.input.length), 1);
      c.steps.push('graph input removed');
    } else if (g.input?.length) {
      g.input.push(onnx.ValueInfoProto.decode(onnx.ValueInfoProto.encode(pick(c.r, g.input)).finish()));
      c.steps.push('graph input duplicated');
    } else return false;
    return true;
  },
];

/** One to three mutations of `model` (bytes of a ModelProto), chosen by `r`. */
export function mutate(model: Uint8Array, r: Rng): Mutant {
  const m = onnx.ModelProto.decode(model);
  const c: Ctx = { r, m, graphs: m.graph ? allGraphs(m.graph) : [], steps: [], files: [] };
  const count = 1 + Math.floor(r() * r() * 3);
  for (let k = 0, tries = 0; k < count && tries < 20; tries++) if (pick(r, MUTATIONS)(c)) k++;
  return { bytes: onnx.ModelProto.encode(m).finish(), steps: c.steps, files: c.files };
}
