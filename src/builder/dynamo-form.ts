import type { Attribute, Dim, Model, Node, ValueInfo } from '../ir/graph.js';
import { RnnxError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { onnx } from '../import/proto.js';

/**
 * Writes a recurrent module the way `torch.onnx.export(dynamo=True)` does (PyTorch ≥ 2.9 with
 * onnxscript's torch_lib and its default optimizer), for fixtures and benchmarks: PyTorch 2 is
 * not available here, so rnnx imitates its output from the source that produces it.
 *
 * Followed: microsoft/onnxscript at ONNXSCRIPT_COMMIT, `onnxscript/function_libs/torch_lib/ops/core.py`
 * (`aten_lstm`, `aten_gru`: one ONNX node per layer, the gate reorder as Slice/Concat/Unsqueeze
 * over the PyTorch parameters, `hidden_size` from `Shape(initial_h, start=2, end=3)`, per-layer
 * `Slice(initial_h, axes=[0])`, Y through `Transpose(0,2,1,3)` and a Reshape to [T, N, D·H],
 * `Concat` of the final states, batch_first Transposes around the stack) and
 * `onnxscript/optimizer` (constant folding skips nodes with an input over 8,192 elements
 * (`DEFAULT_CONSTANT_FOLD_INPUT_SIZE_LIMIT`), folded outputs over 512·512 elements are not
 * stored, Reshape shapes are materialised when at most one dim is symbolic (`-1`, allowzero=1),
 * every remaining Constant is lifted to an initializer). Parameters keep their state_dict names;
 * other values are `val_N`; nodes carry `pkg.torch.onnx.*` metadata (module path and class).
 */
export const ONNXSCRIPT_COMMIT = 'a39c0a5da67edeb03775f3655972f1c5d566e220';
/**
 * The decomposed forms (`dynamoDecomposedModel`) also follow PyTorch: the cells' CPU code in
 * pytorch/pytorch `aten/src/ATen/native/RNN.cpp` (`LSTMCell`, `GRUCell`) at this commit, and
 * nn.RNN's Python decomposition in `torch/_decomp/decompositions.py` (`rnn_tanh_input`,
 * `rnn_relu_input`, `_rnn_helper`, `one_layer_rnn`; the library copy read shows no commit, the
 * version with `one_layer_rnn(inp, hidden, params, has_biases, hidden_fn, reverse)`).
 */
export const PYTORCH_RNN_CPP_COMMIT = 'd5a9317611bac8953a48ea5c657c822055de63e5';
const FOLD_INPUT_LIMIT = 8192;
const FOLD_OUTPUT_LIMIT = 512 * 512;

export interface DynamoSpec {
  readonly kind: 'LSTM' | 'GRU';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers?: number;
  readonly bias?: boolean;
  readonly batchFirst?: boolean;
  readonly bidirectional?: boolean;
  /** Module path in the exported model ('' when the recurrent module is the model itself). */
  readonly prefix: string;
  /** The parameters under their state_dict names (`<prefix>.weight_ih_l0`, …). */
  readonly params: ReadonlyMap<string, Tensor>;
  /** h0 (and c0) are inputs of the model. */
  readonly state?: boolean;
  /** Which of batch and time are symbolic dims ('none': the exporter's default static shapes). */
  readonly dynamic?: 'none' | 'batch' | 'both';
  /** Static sizes (used for the dims that are not symbolic). */
  readonly T: number;
  readonly N: number;
  readonly opset?: number;
  /** Class of the root module for the metadata (default `__main__.Model`). */
  readonly rootClass?: string;
}

type Input = string;

/** Emits nodes and folds what onnxscript's optimizer folds. */
class Emitter {
  readonly nodes: Node[] = [];
  readonly inits = new Map<string, Tensor>();
  private n = 0;
  private readonly ints = new Map<string, string>();
  /** The node metadata of the module being emitted. */
  meta: ReadonlyMap<string, string> = new Map();
  fresh(): string { return `val_${this.n++}`; }
  const(t: Tensor, name = this.fresh()): string { this.inits.set(name, t); return name; }
  /** An int64 constant, deduplicated as onnx_ir's DeduplicateInitializersPass does. */
  i64(values: number[]): string {
    const key = values.join(',');
    let name = this.ints.get(key);
    if (!name) { name = this.const(new Tensor('int64', values.map(BigInt), [values.length])); this.ints.set(key, name); }
    return name;
  }
  value(v: Input): Tensor | undefined { return this.inits.get(v); }
  op(opType: string, inputs: Input[], attrs: Record<string, Attribute> = {}, outputs = 1, names?: string[]): string[] {
    const outs = names ?? Array.from({ length: outputs }, () => this.fresh());
    const consts = inputs.map((i) => (i ? this.inits.get(i) : undefined));
    // _DEFAULT_ALWAYS_FOLD_OPS: a Transpose of a constant it alone reads folds whatever its size.
    const always = opType === 'Transpose';
    if (inputs.length > 0 && consts.every((c, k) => c || !inputs[k]) && (always || consts.every((c) => !c || c.size <= FOLD_INPUT_LIMIT))) {
      const folded = fold(opType, consts as Tensor[], attrs, outs.length);
      if (folded && folded.length === outs.length && (always || folded.every((f) => f.size <= FOLD_OUTPUT_LIMIT))) {
        folded.forEach((f, k) => this.inits.set(outs[k], f));
        return outs;
      }
    }
    this.nodes.push({
      name: `node_${opType}_${this.nodes.length}`, opType, domain: '', inputs, outputs: outs,
      attributes: new Map(Object.entries(attrs)), metadata: this.meta,
    });
    return outs;
  }
}

const rows = (t: Tensor) => (t.dims.length ? t.size / t.dims[0] : 1);

/** The folds the exporter's optimizer applies to these graphs (numpy semantics of the ops used). */
function fold(opType: string, xs: Tensor[], attrs: Record<string, Attribute>, outputs: number): Tensor[] | undefined {
  if (opType === 'Split') return foldSplit(xs[0], attrs, outputs);
  const one = fold1(opType, xs, attrs);
  return one ? [one] : undefined;
}

const f32 = (t: Tensor) => t.data as Float32Array;

/** Split along `axis` into `n` equal parts (opset 18 `num_outputs`). */
function foldSplit(x: Tensor, attrs: Record<string, Attribute>, n: number): Tensor[] | undefined {
  const axis = (attrs.axis?.value as number | undefined) ?? 0;
  if (x.type !== 'float32' || x.dims[axis] % n !== 0) return undefined;
  const outer = x.dims.slice(0, axis).reduce((p, q) => p * q, 1);
  const inner = x.dims.slice(axis + 1).reduce((p, q) => p * q, 1);
  const part = x.dims[axis] / n, src = f32(x);
  return Array.from({ length: n }, (_, k) => {
    const out = new Float32Array(outer * part * inner);
    for (let o = 0; o < outer; o++) out.set(src.subarray((o * x.dims[axis] + k * part) * inner, (o * x.dims[axis] + (k + 1) * part) * inner), o * part * inner);
    return new Tensor('float32', out, x.dims.map((d, i) => (i === axis ? part : d)));
  });
}

/** numpy broadcasting of two float32 tensors through `f` (the onnx reference evaluator's folding). */
function broadcast(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor | undefined {
  if (a.type !== 'float32' || b.type !== 'float32') return undefined;
  const r = Math.max(a.dims.length, b.dims.length);
  const da = [...Array(r - a.dims.length).fill(1), ...a.dims], db = [...Array(r - b.dims.length).fill(1), ...b.dims];
  if (da.some((d, i) => d !== db[i] && d !== 1 && db[i] !== 1)) return undefined;
  const dims = da.map((d, i) => Math.max(d, db[i]));
  const size = dims.reduce((p, q) => p * q, 1), out = new Float32Array(size);
  const idx = (d: number[], flat: number) => {
    let off = 0, rest = flat, stride = 1;
    for (let i = r - 1; i >= 0; i--) { const c = rest % dims[i]; rest = Math.floor(rest / dims[i]); off += (d[i] === 1 ? 0 : c) * stride; stride *= d[i]; }
    return off;
  };
  for (let i = 0; i < size; i++) out[i] = f(f32(a)[idx(da, i)], f32(b)[idx(db, i)]);
  return new Tensor('float32', out, dims);
}

/** A [.., K] x [K, M] product in float32 (b transposed when `transB`). */
function product(a: Tensor, b: Tensor, transB: boolean): Tensor | undefined {
  if (a.type !== 'float32' || b.type !== 'float32' || b.dims.length !== 2) return undefined;
  const K = a.dims[a.dims.length - 1], [bk, M] = transB ? [b.dims[1], b.dims[0]] : b.dims;
  if (K !== bk) return undefined;
  const rowsA = a.size / K, out = new Float32Array(rowsA * M), A = f32(a), B = f32(b);
  for (let i = 0; i < rowsA; i++) for (let j = 0; j < M; j++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += A[i * K + k] * (transB ? B[j * K + k] : B[k * M + j]);
    out[i * M + j] = acc;
  }
  return new Tensor('float32', out, [...a.dims.slice(0, -1), M]);
}

function fold1(opType: string, xs: Tensor[], attrs: Record<string, Attribute>): Tensor | undefined {
  const ints = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);
  switch (opType) {
    case 'MatMul': return product(xs[0], xs[1], false);
    case 'Gemm': {
      if (xs[0].dims.length !== 2 || attrs.transA || (attrs.alpha && attrs.alpha.value !== 1) || (attrs.beta && attrs.beta.value !== 1)) return undefined;
      const p = product(xs[0], xs[1], attrs.transB?.value === 1);
      return p && xs[2] ? broadcast(p, xs[2], (x, y) => x + y) : p;
    }
    case 'Add': if (xs[0].type === 'float32') return broadcast(xs[0], xs[1], (x, y) => x + y); break;
    case 'Sub': if (xs[0].type === 'float32') return broadcast(xs[0], xs[1], (x, y) => x - y); break;
    case 'Squeeze': {
      const axes = ints(xs[1]).map((a) => (a < 0 ? a + xs[0].dims.length : a));
      if (axes.some((a) => xs[0].dims[a] !== 1)) return undefined;
      return new Tensor(xs[0].type, xs[0].data, xs[0].dims.filter((_, i) => !axes.includes(i)));
    }
  }
  switch (opType) {
    case 'Slice': { // axis 0, one start/end
      const [x, s, e, a, st] = xs;
      if ((a && ints(a)[0] !== 0) || (st && ints(st)[0] !== 1)) return undefined;
      const n = x.dims[0];
      const clamp = (v: number) => Math.max(0, Math.min(n, v < 0 ? v + n : v));
      const start = clamp(ints(s)[0]), end = Math.max(start, clamp(ints(e)[0]));
      const r = rows(x);
      return new Tensor(x.type, (x.data as Float32Array).slice(start * r, end * r), [end - start, ...x.dims.slice(1)]);
    }
    case 'Concat': {
      if ((attrs.axis?.value as number) !== 0) return undefined;
      const total = xs.reduce((p, t) => p + t.size, 0);
      const out = xs[0].type === 'int64' ? new BigInt64Array(total) : xs[0].type === 'float64' ? new Float64Array(total) : new Float32Array(total);
      let o = 0;
      for (const t of xs) { (out as Float32Array).set(t.data as Float32Array, o); o += t.size; }
      return new Tensor(xs[0].type, out, [xs.reduce((p, t) => p + t.dims[0], 0), ...xs[0].dims.slice(1)]);
    }
    case 'Unsqueeze': // axes [0]
      if (ints(xs[1]).join() !== '0') return undefined;
      return new Tensor(xs[0].type, xs[0].data, [1, ...xs[0].dims]);
    case 'Mul':
      if (xs[0].type === 'float32') return broadcast(xs[0], xs[1], (x, y) => x * y);
      if (xs[0].type !== 'int64' || xs[0].size !== 1 || xs[1].size !== 1) return undefined;
      return new Tensor('int64', [BigInt(ints(xs[0])[0] * ints(xs[1])[0])], [...xs[0].dims]);
    case 'Expand': { // a scalar zero to a constant shape
      const shape = ints(xs[1]);
      const size = shape.reduce((p, q) => p * q, 1);
      const v = Number((xs[0].data as ArrayLike<number>)[0]);
      return new Tensor(xs[0].type, new Float32Array(size).fill(v), shape);
    }
    case 'Transpose': { // 2-D [1, 0]
      const x = xs[0];
      if (x.dims.length !== 2) return undefined;
      const [r, c] = x.dims, src = x.data as Float32Array, out = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
      return new Tensor(x.type, out, [c, r]);
    }
    default:
      return undefined;
  }
}

const intsAttr = (v: number[]): Attribute => ({ type: 'ints', value: v });
const intAttr = (v: number): Attribute => ({ type: 'int', value: v });
const strAttr = (v: string): Attribute => ({ type: 'string', value: v });
const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** `pkg.torch.onnx.*` node metadata as torch.onnx.export(dynamo=True) writes it. */
export function torchMetadata(prefix: string, moduleClass: string, rootClass: string, fxName: string, target: string): Map<string, string> {
  const parts = prefix ? prefix.split('.') : [];
  const scopes = [''], classes = [parts.length ? rootClass : moduleClass];
  for (let i = 0; i < parts.length; i++) {
    scopes.push(parts.slice(0, i + 1).join('.'));
    classes.push(i === parts.length - 1 ? moduleClass : `__main__.Block${i}`);
  }
  scopes.push(fxName);
  classes.push(target);
  const repr = (xs: string[]) => `[${xs.map((s) => `'${s}'`).join(', ')}]`;
  return new Map([
    ['pkg.torch.onnx.name_scopes', repr(scopes)],
    ['pkg.torch.onnx.class_hierarchy', repr(classes)],
    ['namespace', scopes.map((s, i) => `${s}: ${classes[i]}`).join('/')],
  ]);
}

export interface RecurrentSpec {
  readonly kind: 'LSTM' | 'GRU';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers?: number;
  readonly bias?: boolean;
  readonly batchFirst?: boolean;
  readonly bidirectional?: boolean;
  readonly prefix: string;
  readonly params: ReadonlyMap<string, Tensor>;
}

/**
 * aten_lstm / aten_gru after the optimizer, reading `x` (and `h0`, `c0` when given, else PyTorch's
 * zeros). `dims`: how the exporter knows T and N (static sizes, or which are symbolic).
 */
function emitRecurrent(e: Emitter, spec: RecurrentSpec, x: string, state: { h0?: string; c0?: string },
  dims: { dynamic: 'none' | 'batch' | 'both'; T: number; N: number }): { y: string; hn: string; cn?: string } {
  const { kind, hiddenSize: H, prefix } = spec;
  const L = spec.numLayers ?? 1, D = spec.bidirectional ? 2 : 1, bias = spec.bias ?? true;
  const bf = !!spec.batchFirst, dyn = dims.dynamic;
  const lstm = kind === 'LSTM';
  const param = (n: string) => {
    const t = spec.params.get(join(prefix, n));
    if (!t) throw new RnnxError(`dynamo form: parameter '${join(prefix, n)}' missing`);
    e.inits.set(join(prefix, n), t);
    return join(prefix, n);
  };
  let h0: string, c0 = '';
  if (state.h0) {
    h0 = state.h0;
    if (lstm) c0 = state.c0 ?? '';
  } else {
    // PyTorch's zeros [L·D, N, H] (aten.zeros -> Expand(0, size)), the batch size read from x.
    const zero = e.const(new Tensor('float32', [0], []));
    let size: string;
    if (dyn === 'none') size = e.i64([L * D, dims.N, H]);
    else {
      const b = bf ? 0 : 1;
      const [s] = e.op('Shape', [x], { start: intAttr(b), end: intAttr(b + 1) });
      const [sq] = e.op('Squeeze', [s]);
      const [r] = e.op('Reshape', [sq, e.i64([-1])]);
      [size] = e.op('Concat', [e.i64([L * D]), r, e.i64([H])], { axis: intAttr(0) });
    }
    [h0] = e.op('Expand', [zero, size]);
    c0 = h0;
  }
  if (bf) [x] = e.op('Transpose', [x], { perm: intsAttr([1, 0, 2]) });
  // hidden_size = Shape(initial_h, start=2, end=3): static, so folded to a constant.
  const hs = e.i64([H]);
  const G = lstm ? 4 : 3;
  const bounds = [e.i64([0]), hs];
  for (let g = 2; g <= G; g++) bounds.push(e.op('Mul', [hs, e.i64([g])])[0]);
  const zeroAxis = e.i64([0]);
  // PyTorch [i,f,g,o] -> ONNX [i,o,f,g]; [r,z,n] -> [z,r,n]
  const order = lstm ? [0, 3, 1, 2] : [1, 0, 2];
  const reorder = (w: string) => {
    const parts = Array.from({ length: G }, (_, g) => e.op('Slice', [w, bounds[g], bounds[g + 1], zeroAxis])[0]);
    return e.op('Concat', order.map((g) => parts[g]), { axis: intAttr(0) })[0];
  };
  const hList: string[] = [], cList: string[] = [];
  for (let k = 0; k < L; k++) {
    const lh = e.op('Slice', [h0, e.i64([k * D]), e.i64([(k + 1) * D]), zeroAxis])[0];
    const lc = lstm ? e.op('Slice', [c0, e.i64([k * D]), e.i64([(k + 1) * D]), zeroAxis])[0] : '';
    const Ws: string[] = [], Rs: string[] = [], Bs: string[] = [];
    for (let d = 0; d < D; d++) {
      const sfx = `_l${k}${d ? '_reverse' : ''}`;
      Ws.push(e.op('Unsqueeze', [reorder(param(`weight_ih${sfx}`)), zeroAxis])[0]);
      Rs.push(e.op('Unsqueeze', [reorder(param(`weight_hh${sfx}`)), zeroAxis])[0]);
      if (bias) {
        const bi = reorder(param(`bias_ih${sfx}`)), bh = reorder(param(`bias_hh${sfx}`));
        const [cat] = e.op('Concat', [bi, bh], { axis: intAttr(0) });
        Bs.push(e.op('Unsqueeze', [cat, zeroAxis])[0]);
      }
    }
    const cat = (xs: string[]) => (xs.length > 1 ? e.op('Concat', xs, { axis: intAttr(0) })[0] : xs[0]);
    const attrs: Record<string, Attribute> = { direction: strAttr(D === 2 ? 'bidirectional' : 'forward'), hidden_size: intAttr(H) };
    if (!lstm) attrs.linear_before_reset = intAttr(1);
    const recIn = [x, cat(Ws), cat(Rs), bias ? cat(Bs) : '', '', lh];
    if (lstm) recIn.push(lc);
    const [Y, Yh, Yc] = e.op(kind, recIn, attrs, lstm ? 3 : 2);
    const [Yt] = e.op('Transpose', [Y], { perm: intsAttr([0, 2, 1, 3]) });
    // Reshape to [T, N, D·H]: a constant when static, `-1` for one symbolic dim, else the chain.
    let shape: string;
    const rattrs: Record<string, Attribute> = {};
    if (dyn === 'none') shape = e.i64([dims.T, dims.N, D * H]);
    else if (dyn === 'batch') { shape = e.i64([dims.T, -1, D * H]); rattrs.allowzero = intAttr(1); }
    else {
      const [ys] = e.op('Shape', [Yt]);
      const sl = (a: number) => e.op('Slice', [ys, e.i64([a]), e.i64([a + 1])])[0];
      const [t, n, dd, hh] = [sl(0), sl(1), sl(2), sl(3)];
      const [m] = e.op('Mul', [dd, hh]);
      const [r] = e.op('Reshape', [m, e.i64([-1])]);
      [shape] = e.op('Concat', [t, n, r], { axis: intAttr(0) });
    }
    [x] = e.op('Reshape', [Yt, shape], rattrs);
    hList.push(Yh);
    if (lstm) cList.push(Yc);
  }
  return {
    y: bf ? e.op('Transpose', [x], { perm: intsAttr([1, 0, 2]) })[0] : x,
    hn: L > 1 ? e.op('Concat', hList, { axis: intAttr(0) })[0] : hList[0],
    cn: lstm ? (L > 1 ? e.op('Concat', cList, { axis: intAttr(0) })[0] : cList[0]) : undefined,
  };
}

/** The graph's outputs under the user's names, then RemoveUnusedNodesPass (nodes and initializers). */
function finish(e: Emitter, inputs: ValueInfo[], outputs: { value: string; info: ValueInfo }[], opset: number): Model {
  const rename = new Map(outputs.map((o) => [o.value, o.info.name]));
  let nodes = e.nodes.map((nd) => ({ ...nd, inputs: nd.inputs.map((i) => rename.get(i) ?? i), outputs: nd.outputs.map((o) => rename.get(o) ?? o) }));
  const outs = new Set(outputs.map((o) => o.info.name));
  for (;;) {
    const read = new Set(nodes.flatMap((nd) => nd.inputs));
    const keep = nodes.filter((nd) => nd.outputs.some((o) => read.has(o) || outs.has(o)));
    if (keep.length === nodes.length) break;
    nodes = keep;
  }
  const read = new Set(nodes.flatMap((nd) => nd.inputs));
  for (const k of [...e.inits.keys()]) if (!read.has(k)) e.inits.delete(k);
  return {
    irVersion: 10, producerName: 'pytorch', producerVersion: '2.9.0', opsets: new Map([['', opset]]),
    graph: { name: 'main_graph', nodes, inputs, outputs: outputs.map((o) => o.info), initializers: e.inits, valueInfo: new Map() },
  };
}

const recMeta = (kind: string, prefix: string, rootClass: string) =>
  torchMetadata(prefix, `torch.nn.modules.rnn.${kind}`, rootClass, kind.toLowerCase(), `aten.${kind.toLowerCase()}.input`);

/** The dynamo-form model of one nn.LSTM / nn.GRU (inputs x[, h0[, c0]], outputs y, hn[, cn]). */
export function dynamoRecurrentModel(spec: DynamoSpec): Model {
  const { kind, inputSize: I, hiddenSize: H } = spec;
  const L = spec.numLayers ?? 1, D = spec.bidirectional ? 2 : 1;
  const bf = !!spec.batchFirst, dyn = spec.dynamic ?? 'none';
  const lstm = kind === 'LSTM';
  const e = new Emitter();
  e.meta = recMeta(kind, spec.prefix, spec.rootClass ?? '__main__.Model');
  const batchDim: Dim = dyn === 'none' ? spec.N : 'batch';
  const timeDim: Dim = dyn === 'both' ? 'time' : spec.T;
  const inputs: ValueInfo[] = [{ name: 'x', type: 'float32', shape: bf ? [batchDim, timeDim, I] : [timeDim, batchDim, I] }];
  if (spec.state) {
    inputs.push({ name: 'h0', type: 'float32', shape: [L * D, batchDim, H] });
    if (lstm) inputs.push({ name: 'c0', type: 'float32', shape: [L * D, batchDim, H] });
  }
  const o = emitRecurrent(e, spec, 'x', spec.state ? { h0: 'h0', c0: lstm ? 'c0' : undefined } : {}, { dynamic: dyn, T: spec.T, N: spec.N });
  const state: Dim[] = [L * D, batchDim, H];
  const outputs = [
    { value: o.y, info: { name: 'y', type: 'float32' as const, shape: bf ? [batchDim, timeDim, D * H] : [timeDim, batchDim, D * H] } },
    { value: o.hn, info: { name: 'hn', type: 'float32' as const, shape: state } },
  ];
  if (lstm) outputs.push({ value: o.cn!, info: { name: 'cn', type: 'float32' as const, shape: state } });
  return finish(e, inputs, outputs, spec.opset ?? 18);
}

/**
 * Workloads as the dynamo exporter writes them, for `npm run bench`: an nn.LSTM / nn.GRU alone
 * (outputs y, hn; batch and time symbolic), or Embedding → LSTM(batch_first) → Linear →
 * LogSoftmax (aten_embedding: Gather; aten_linear on 3-D input: MatMul by the folded Transpose of
 * the weight, then Add of the bias).
 */
export function dynamoBenchModel(kind: 'LSTM' | 'GRU', rec: Omit<RecurrentSpec, 'kind' | 'prefix' | 'params'>, params: ReadonlyMap<string, Tensor>,
  lm?: { vocab: number; embed: ReadonlyMap<string, Tensor>; linear: ReadonlyMap<string, Tensor> }): Model {
  const e = new Emitter();
  const dims = { dynamic: 'both' as const, T: 0, N: 0 };
  const spec: RecurrentSpec = { ...rec, kind, prefix: lm ? 'lstm' : 'rnn', params: new Map([...params].map(([k, v]) => [join(lm ? 'lstm' : 'rnn', k), v])) };
  if (!lm) {
    e.meta = recMeta(kind, 'rnn', '__main__.Model');
    const o = emitRecurrent(e, spec, 'x', {}, dims);
    return finish(e, [{ name: 'x', type: 'float32', shape: ['time', 'batch', rec.inputSize] }],
      [{ value: o.y, info: { name: 'y', type: 'float32' } }, { value: o.hn, info: { name: 'hn', type: 'float32' } }], 18);
  }
  const root = '__main__.LanguageModel';
  e.meta = torchMetadata('embed', 'torch.nn.modules.sparse.Embedding', root, 'embedding', 'aten.embedding.default');
  e.inits.set('embed.weight', lm.embed.get('weight')!);
  const [emb] = e.op('Gather', ['embed.weight', 'tokens']);
  e.meta = recMeta(kind, 'lstm', root);
  const o = emitRecurrent(e, spec, emb, {}, dims);
  e.meta = torchMetadata('proj', 'torch.nn.modules.linear.Linear', root, 'linear', 'aten.linear.default');
  const [wt] = e.op('Transpose', [e.const(lm.linear.get('weight')!, 'proj.weight')], { perm: intsAttr([1, 0]) });
  const [mm] = e.op('MatMul', [o.y, wt]);
  const [logits] = e.op('Add', [mm, e.const(lm.linear.get('bias')!, 'proj.bias')]);
  e.meta = torchMetadata('', root, root, '_log_softmax', 'aten._log_softmax.default');
  const [lp] = e.op('LogSoftmax', [logits], { axis: intAttr(-1) });
  return finish(e, [{ name: 'tokens', type: 'int64', shape: ['batch', 'time'] }], [{ value: lp, info: { name: 'logprobs', type: 'float32' } }], 18);
}

/** What `dynamoDecomposedModel` writes: an nn.RNN (unrolled), or a cell. */
export type DecomposedSpec = Omit<DynamoSpec, 'kind'> & {
  kind: 'RNN' | 'LSTMCell' | 'GRUCell' | 'RNNCell';
  nonlinearity?: 'tanh' | 'relu';
  /**
   * How `aten_unbind` with a static dim is written: 'slice' (Slice + Squeeze per item, torch_lib at
   * ONNXSCRIPT_COMMIT) or 'split' (one Split(num_outputs) + Squeeze per item, other onnxscript versions).
   */
  unbind?: 'slice' | 'split';
  /** Cells: a module calling the cell once per step of x [loop, N, I] (outputs y, hn[, cn]). */
  loop?: number;
};

/**
 * Forms the dynamo exporter writes without an ONNX recurrent node: torch_lib has no `rnn_tanh`,
 * `rnn_relu`, `lstm_cell` or `gru_cell`, so they are decomposed before translation.
 *
 * - nn.RNN: PyTorch's Python decomposition (`torch/_decomp/decompositions.py`, `rnn_tanh_input` /
 *   `rnn_relu_input` → `_rnn_helper` → `one_layer_rnn`): `hx.unbind(0)` (torch_lib `aten_unbind`
 *   with a static dim: Slice + Squeeze per state), per layer and direction `F.linear` over all
 *   steps (MatMul by the folded transposed weight, Add of the bias), `flip(0)` for the reverse
 *   direction (Slice with step -1), `unbind(0)` of the steps (Slice + Squeeze each), the state
 *   `unsqueeze(0)`, per step `act(linear(h, W_hh, b_hh) + x_t)` (MatMul, Add, Add, Tanh|Relu),
 *   `cat` of the steps (reversed back for the reverse direction), `cat` of the directions on the
 *   last axis, `stack` of the final states (Unsqueeze + Concat; one state: the Concat is removed).
 * - nn.LSTMCell / nn.GRUCell: `aten::lstm_cell` / `aten::gru_cell` are CompositeImplicitAutograd:
 *   their C++ CPU path (`aten/src/ATen/native/RNN.cpp`, `LSTMCell` / `GRUCell`) is what the
 *   exported program holds: `linear` (torch_lib: Gemm with transB for 2-D input), `unsafe_chunk`
 *   (→ `unsafe_split` → SplitToSequence, which the optimizer turns into Split with num_outputs),
 *   Sigmoid/Tanh, Mul/Add/Sub, with PyTorch's operand order.
 *
 * The optimizer's folding applies: with a zero initial state and small weights the recurrent
 * product of the first step (a cell's only step) is folded into a constant, so the weight is not
 * in the file at all.
 */
export function dynamoDecomposedModel(spec: DecomposedSpec): Model {
  const { kind, prefix } = spec;
  const e = new Emitter();
  const cls = kind.endsWith('Cell') ? `torch.nn.modules.rnn.${kind}` : 'torch.nn.modules.rnn.RNN';
  const nl = spec.nonlinearity ?? 'tanh';
  const target = kind === 'RNN' ? `aten.rnn_${nl}.input` : kind === 'RNNCell' ? `aten.rnn_${nl}_cell.default` : `aten.${kind === 'LSTMCell' ? 'lstm' : 'gru'}_cell.default`;
  e.meta = torchMetadata(prefix, cls, spec.rootClass ?? '__main__.Model', kind === 'RNN' ? `rnn_${nl}` : kind === 'RNNCell' ? `rnn_${nl}_cell` : kind.toLowerCase().replace('cell', '_cell'), target);
  const p = (n: string) => {
    const name = join(prefix, n);
    const t = spec.params.get(name);
    if (!t) throw new RnnxError(`dynamo form: parameter '${name}' missing`);
    e.inits.set(name, t);
    return name;
  };
  const m = kind === 'RNN' ? emitUnrolledRnn(e, spec, p) : emitCell(e, spec, p);
  return finish(e, m.inputs, m.outputs, spec.opset ?? 18);
}

type Emitted = { inputs: ValueInfo[]; outputs: { value: string; info: ValueInfo }[] };

function emitUnrolledRnn(e: Emitter, spec: DecomposedSpec, p: (n: string) => string): Emitted {
  const { inputSize: I, hiddenSize: H, T, N } = spec;
  const L = spec.numLayers ?? 1, D = spec.bidirectional ? 2 : 1, bias = spec.bias ?? true, bf = !!spec.batchFirst;
  const act = spec.nonlinearity === 'relu' ? 'Relu' : 'Tanh';
  const inputs: ValueInfo[] = [{ name: 'x', type: 'float32', shape: bf ? [N, T, I] : [T, N, I] }];
  const axis0 = e.i64([0]);
  // hx: the given state, or nn.RNN's zeros [L·D, N, H]
  let hx: string;
  if (spec.state) { inputs.push({ name: 'h0', type: 'float32', shape: [L * D, N, H] }); hx = 'h0'; }
  else hx = e.const(new Tensor('float32', new Float32Array(L * D * N * H), [L * D, N, H]));
  const unbind = (v: string, n: number): string[] => {
    if (spec.unbind === 'split') {
      const parts = n > 1 ? e.op('Split', [v], { axis: intAttr(0), num_outputs: intAttr(n) }, n) : [v];
      return parts.map((q) => e.op('Squeeze', [q, axis0])[0]);
    }
    return Array.from({ length: n }, (_, j) => e.op('Squeeze', [e.op('Slice', [v, e.i64([j]), e.i64([j + 1]), axis0])[0], axis0])[0]);
  };
  const hidden = unbind(hx, L * D);
  let input = bf ? e.op('Transpose', ['x'], { perm: intsAttr([1, 0, 2]) })[0] : 'x';
  const finals: string[] = [];
  for (let k = 0; k < L; k++) {
    const outs: string[] = [];
    for (let d = 0; d < D; d++) {
      const sfx = `_l${k}${d ? '_reverse' : ''}`;
      const [wihT] = e.op('Transpose', [p(`weight_ih${sfx}`)], { perm: intsAttr([1, 0]) });
      let [pre] = e.op('MatMul', [input, wihT]);
      if (bias) [pre] = e.op('Add', [pre, p(`bias_ih${sfx}`)]);
      if (d === 1) [pre] = e.op('Slice', [pre, e.i64([-1]), e.i64([-9223372036854775808]), axis0, e.i64([-1])]);
      let h = e.op('Unsqueeze', [hidden[k * D + d], axis0])[0];
      const xs = unbind(pre, T);
      const [whhT] = e.op('Transpose', [p(`weight_hh${sfx}`)], { perm: intsAttr([1, 0]) });
      const steps: string[] = [];
      for (let t = 0; t < T; t++) {
        let [mm] = e.op('MatMul', [h, whhT]);
        if (bias) [mm] = e.op('Add', [mm, p(`bias_hh${sfx}`)]);
        [h] = e.op(act, [e.op('Add', [mm, xs[t]])[0]]);
        steps.push(h);
      }
      if (d === 1) steps.reverse();
      outs.push(T > 1 ? e.op('Concat', steps, { axis: intAttr(0) })[0] : steps[0]);
      finals.push(e.op('Squeeze', [h, axis0])[0]);
    }
    input = D === 2 ? e.op('Concat', outs, { axis: intAttr(2) })[0] : outs[0];
  }
  const y = bf ? e.op('Transpose', [input], { perm: intsAttr([1, 0, 2]) })[0] : input;
  const st = finals.map((f) => e.op('Unsqueeze', [f, axis0])[0]);
  const hn = st.length > 1 ? e.op('Concat', st, { axis: intAttr(0) })[0] : st[0];
  return {
    inputs,
    outputs: [
      { value: y, info: { name: 'y', type: 'float32', shape: bf ? [N, T, D * H] : [T, N, D * H] } },
      { value: hn, info: { name: 'hn', type: 'float32', shape: [L * D, N, H] } },
    ],
  };
}

/** One `aten::lstm_cell` / `aten::gru_cell` step (RNN.cpp's CPU code): h', c'. */
function cellStep(e: Emitter, lstm: boolean, bias: boolean, p: (n: string) => string, x: string, h: string, c: string, rnn?: 'tanh' | 'relu'): { hy: string; cy: string } {
  const linear = (a: string, w: string, b: string) => e.op('Gemm', bias ? [a, p(w), p(b)] : [a, p(w)], { transB: intAttr(1) })[0];
  if (rnn) { // SimpleCell: act(linear_hh(h) + linear_ih(x))
    const gh = linear(h, 'weight_hh', 'bias_hh'), gi = linear(x, 'weight_ih', 'bias_ih');
    return { hy: e.op(rnn === 'relu' ? 'Relu' : 'Tanh', [e.op('Add', [gh, gi])[0]])[0], cy: '' };
  }
  if (lstm) {
    const gh = linear(h, 'weight_hh', 'bias_hh'), gi = linear(x, 'weight_ih', 'bias_ih');
    const [gates] = e.op('Add', [gh, gi]);
    const [i, f, g, o] = e.op('Split', [gates], { axis: intAttr(1), num_outputs: intAttr(4) }, 4);
    const [si] = e.op('Sigmoid', [i]), [sf] = e.op('Sigmoid', [f]), [tg] = e.op('Tanh', [g]), [so] = e.op('Sigmoid', [o]);
    const [cy] = e.op('Add', [e.op('Mul', [sf, c])[0], e.op('Mul', [si, tg])[0]]);
    const [hy] = e.op('Mul', [so, e.op('Tanh', [cy])[0]]);
    return { hy, cy };
  }
  const [ir, iz, inn] = e.op('Split', [linear(x, 'weight_ih', 'bias_ih')], { axis: intAttr(1), num_outputs: intAttr(3) }, 3);
  const [hr, hz, hnn] = e.op('Split', [linear(h, 'weight_hh', 'bias_hh')], { axis: intAttr(1), num_outputs: intAttr(3) }, 3);
  const [r] = e.op('Sigmoid', [e.op('Add', [hr, ir])[0]]);
  const [z] = e.op('Sigmoid', [e.op('Add', [hz, iz])[0]]);
  const [n] = e.op('Tanh', [e.op('Add', [inn, e.op('Mul', [hnn, r])[0]])[0]]);
  const [hy] = e.op('Add', [e.op('Mul', [e.op('Sub', [h, n])[0], z])[0], n]);
  return { hy, cy: '' };
}

/**
 * A cell alone (x [N, I]), or with `spec.loop` a module calling it once per step of x [T, N, I]
 * (`x[t]`: aten.select.int → Gather(x, t, axis 0); outputs stacked: Unsqueeze + Concat), as
 * torch.export unrolls a Python loop: every call reads the same parameters.
 */
function emitCell(e: Emitter, spec: DecomposedSpec, p: (n: string) => string): Emitted {
  const { inputSize: I, hiddenSize: H, N } = spec;
  const lstm = spec.kind === 'LSTMCell', bias = spec.bias ?? true;
  const rnn = spec.kind === 'RNNCell' ? spec.nonlinearity ?? 'tanh' : undefined;
  const T = spec.loop ?? 0;
  const inputs: ValueInfo[] = [{ name: 'x', type: 'float32', shape: T ? [T, N, I] : [N, I] }];
  let h = 'h0', c = 'c0';
  if (spec.state) {
    inputs.push({ name: 'h0', type: 'float32', shape: [N, H] });
    if (lstm) inputs.push({ name: 'c0', type: 'float32', shape: [N, H] });
  } else { h = e.const(new Tensor('float32', new Float32Array(N * H), [N, H])); c = h; } // hx = (zeros, zeros)
  const info = (name: string, shape: Dim[]) => ({ name, type: 'float32' as const, shape });
  if (!T) {
    const o = cellStep(e, lstm, bias, p, 'x', h, c, rnn);
    return { inputs, outputs: lstm ? [{ value: o.hy, info: info('hn', [N, H]) }, { value: o.cy, info: info('cn', [N, H]) }] : [{ value: o.hy, info: info('hn', [N, H]) }] };
  }
  const ys: string[] = [];
  for (let t = 0; t < T; t++) {
    const [xt] = e.op('Gather', ['x', e.const(new Tensor('int64', [BigInt(t)], []))], { axis: intAttr(0) });
    ({ hy: h, cy: c } = { ...cellStep(e, lstm, bias, p, xt, h, c, rnn) });
    ys.push(e.op('Unsqueeze', [h, e.i64([0])])[0]);
  }
  const [y] = e.op('Concat', ys, { axis: intAttr(0) });
  const outputs = [{ value: y, info: info('y', [T, N, H]) }, { value: h, info: info('hn', [N, H]) }];
  if (lstm) outputs.push({ value: c, info: info('cn', [N, H]) });
  return { inputs, outputs };
}

/** Domain of the functions torch.onnx writes for subgraphs (`_constants.LOCAL_FUNCTION_DOMAIN`). */
export const LOCAL_FUNCTION_DOMAIN = 'pkg.torch.__subgraph__';

/**
 * The same model with the module's nodes in a model-local function (what the exporter leaves when
 * the optimizer's inlining is off): one FunctionProto in `pkg.torch.__subgraph__` named after the
 * module's class, taking the graph inputs and the parameters (torch.export lifts them to inputs),
 * and one call node in the graph carrying the module's metadata.
 */
export function wrapAsLocalFunction(bytes: Uint8Array, moduleClass: string, prefix: string): Uint8Array {
  const mp = onnx.ModelProto.decode(bytes);
  const g = mp.graph!;
  const ins = [...g.input!.map((i) => i.name!), ...g.initializer!.map((t) => t.name!)];
  const outs = g.output!.map((o) => o.name!);
  mp.functions = [{ name: moduleClass, domain: LOCAL_FUNCTION_DOMAIN, input: ins, output: outs, node: g.node, opsetImport: [{ domain: '', version: 18 }] }];
  const meta = g.node![0]?.metadataProps ?? [];
  g.node = [{ name: `node_${prefix ? prefix.replace(/\./g, '_') : 'module'}`, opType: moduleClass, domain: LOCAL_FUNCTION_DOMAIN, input: ins, output: outs, metadataProps: meta }];
  mp.opsetImport = [...mp.opsetImport!, { domain: LOCAL_FUNCTION_DOMAIN, version: 1 }];
  return onnx.ModelProto.encode(mp).finish();
}
