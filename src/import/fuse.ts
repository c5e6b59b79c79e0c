import type { Attribute, Graph, Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { intsOf } from '../ops/op.js';
import { GATES, modulePrefix, paramsFromOnnx, type RecMode } from '../ops/rec/layer.js';
import { RNNX_DOMAIN } from '../ops/registry.js';
import { stackParamNames } from '../ops/rec/stack.js';
import { isRightInverse, unfoldProjection } from '../ops/rec/projection.js';

/**
 * Recovers whole PyTorch recurrent modules from what torch.onnx.export writes for them: one
 * LSTM/GRU/RNN node per layer, per-layer `Slice` of h0/c0 (or of the Shape→ConstantOfShape zero
 * state), `Squeeze` or `Transpose`+`Reshape` between layers, the `Transpose` pair of batch_first,
 * `Concat` of h_n/c_n. Each match becomes one ai.rnnx stack node holding the parameters under
 * PyTorch's names. Structure, not names, decides; anything only partly present stays unfused.
 */
export function fuseRecurrent(model: Model): Model {
  const g = model.graph;
  const ctx = new GraphIndex(g);
  const removed = new Set<Node>();
  const added: Node[] = [];
  const inits = new Map(g.initializers);
  const usedPrefixes = new Set<string>();
  for (const node of g.nodes) {
    if (removed.has(node) || !isRec(node)) continue;
    const m = matchStack(node, ctx);
    if (!m) continue;
    for (const n of m.nodes) removed.add(n);
    const prefix = uniquePrefix(modulePrefix(node.name, node.opType), usedPrefixes, inits);
    const names = stackParamNames(m.layers.length, m.D === 2, m.bias, m.P > 0).map((n) => `${prefix}.${n}`);
    const tensors = m.layers.flatMap((l, k) => {
      const W = ctx.constant(l.inputs[1])!, R = ctx.constant(l.inputs[2])!;
      const B = l.inputs[3] ? ctx.constant(l.inputs[3]) : undefined;
      const params = paramsFromOnnx(m.mode, { W, R, B }, m.D, m.H, W.dims[2]);
      const G = GATES[m.mode] * m.H;
      const mk = (a: ArrayLike<number>, dims: number[]) => new Tensor(W.type, W.type === 'float32' ? Float32Array.from(a) : Float64Array.from(a), dims);
      return params.flatMap((p, d) => {
        const proj = m.projs[k];
        // LSTMP: the ONNX R is W_hh·W_hr; recover W_hh = R·pinv(W_hr) in float64.
        const whh = proj ? mk(unfoldProjection(p.weightHh, proj.whr[d], G, m.P, m.H), [G, m.P]) : mk(p.weightHh, [G, m.H]);
        const ws = [mk(p.weightIh, [G, W.dims[2]]), whh];
        if (m.bias) ws.push(mk(p.biasIh, [G]), mk(p.biasHh, [G]));
        if (proj) ws.push(mk(proj.whr[d], [m.P, m.H]));
        return ws;
      });
    });
    names.forEach((n, i) => inits.set(n, tensors[i]));
    const attrs = new Map<string, Attribute>([
      ['num_layers', { type: 'int', value: m.layers.length }],
      ['input_size', { type: 'int', value: ctx.constant(node.inputs[1])!.dims[2] }],
      ['hidden_size', { type: 'int', value: m.H }],
      ['bidirectional', { type: 'int', value: m.D === 2 ? 1 : 0 }],
      ['batch_first', { type: 'int', value: m.batchFirst ? 1 : 0 }],
      ['bias', { type: 'int', value: m.bias ? 1 : 0 }],
    ]);
    if (m.mode === 'RNN') attrs.set('nonlinearity', { type: 'string', value: m.nonlinearity });
    if (m.P > 0) attrs.set('proj_size', { type: 'int', value: m.P });
    const outputs = m.mode === 'LSTM' ? [m.y, m.hn, m.cn] : [m.y, m.hn];
    added.push({
      name: prefix, opType: m.mode, domain: RNNX_DOMAIN,
      inputs: [m.x, m.h0, m.mode === 'LSTM' ? m.c0 : '', ...names], outputs, attributes: attrs,
    });
  }
  if (added.length === 0) return model;
  const nodes = [...g.nodes.filter((n) => !removed.has(n)), ...added];
  const graph = deadCodeElimination({ ...g, nodes, initializers: inits });
  const opsets = new Map(model.opsets);
  opsets.set(RNNX_DOMAIN, 1);
  return { ...model, opsets, graph };
}

interface StackMatch {
  mode: RecMode;
  D: 1 | 2;
  H: number;
  /** proj_size (0: none) and each layer's projection. */
  P: number;
  projs: (Projection | null)[];
  bias: boolean;
  batchFirst: boolean;
  nonlinearity: 'tanh' | 'relu';
  layers: Node[];
  nodes: Node[];
  x: string;
  h0: string;
  c0: string;
  y: string;
  hn: string;
  cn: string;
}

class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly outputs: Set<string>;
  constructor(readonly g: Graph) {
    for (const n of g.nodes) {
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      for (const i of n.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    }
    this.outputs = new Set(g.outputs.map((o) => o.name));
  }
  /** The only consumer of `v`, when it has exactly one and is not a graph output. */
  sole(v: string): Node | undefined {
    const c = this.consumers.get(v);
    return c && c.length === 1 && !this.outputs.has(v) ? c[0] : undefined;
  }
  unused(v: string): boolean {
    return !v || (!this.consumers.has(v) && !this.outputs.has(v));
  }
  constant(v: string): Tensor | undefined {
    const init = this.g.initializers.get(v);
    if (init) return init;
    const p = this.producer.get(v);
    if (p?.opType !== 'Constant' || p.domain) return undefined;
    const a = p.attributes.get('value') ?? p.attributes.get('value_ints');
    if (a?.type === 'tensor') return a.value;
    if (a?.type === 'ints') return new Tensor('int64', a.value.map(BigInt), [a.value.length]);
    return undefined;
  }
  /** The declared size of axis 0 of `v` (graph input, value_info or initializer), if static. */
  rows(v: string): number | undefined {
    const init = this.g.initializers.get(v);
    if (init) return init.dims[0];
    const info = this.g.inputs.find((i) => i.name === v) ?? this.g.valueInfo.get(v);
    const d = info?.shape?.[0];
    return typeof d === 'number' ? d : undefined;
  }
  ints(v: string): number[] | undefined {
    const t = v ? this.constant(v) : undefined;
    return t && (t.type === 'int64' || t.type === 'int32') ? intsOf(t) : undefined;
  }
}

const isRec = (n: Node) => !n.domain && (n.opType === 'LSTM' || n.opType === 'GRU' || n.opType === 'RNN');
const attrInts = (n: Node, k: string) => { const a = n.attributes.get(k); return a?.type === 'ints' ? [...a.value] : undefined; };
const same = (a: readonly number[] | undefined, b: readonly number[]) => !!a && a.length === b.length && a.every((v, i) => v === b[i]);

function isTranspose(n: Node | undefined, perm: number[]): n is Node {
  return !!n && n.opType === 'Transpose' && !n.domain && same(attrInts(n, 'perm'), perm) && n.attributes.size === 1;
}

/** Axes of a Squeeze / Slice given as attribute (old opsets) or constant input (new). */
function axesOf(n: Node, ctx: GraphIndex, inputIndex: number): number[] | undefined {
  return attrInts(n, 'axes') ?? (n.inputs[inputIndex] ? ctx.ints(n.inputs[inputIndex]) : undefined);
}

interface RecInfo { D: 1 | 2; H: number; I: number; bias: boolean; nonlinearity: 'tanh' | 'relu' }

/** A recurrent node PyTorch could have written: constant weights, default gates, no extras. */
function recInfo(n: Node, ctx: GraphIndex): RecInfo | undefined {
  const mode = n.opType as RecMode;
  const W = ctx.constant(n.inputs[1] ?? ''), R = ctx.constant(n.inputs[2] ?? '');
  if (!W || !R || (W.type !== 'float32' && W.type !== 'float64')) return undefined;
  const B = n.inputs[3] ? ctx.constant(n.inputs[3]) : undefined;
  if (n.inputs[3] && !B) return undefined;
  if (n.inputs[4] || (mode === 'LSTM' && n.inputs[7])) return undefined;
  let D: 1 | 2 = 1;
  let nonlinearity: 'tanh' | 'relu' = 'tanh';
  for (const [k, a] of n.attributes) {
    if (k === 'hidden_size') continue;
    if (k === 'direction' && a.type === 'string' && (a.value === 'forward' || a.value === 'bidirectional')) { D = a.value === 'bidirectional' ? 2 : 1; continue; }
    if (k === 'linear_before_reset' && mode === 'GRU' && a.type === 'int' && a.value === 1) continue;
    if (k === 'layout' && a.type === 'int' && a.value === 0) continue;
    if (k === 'activations' && a.type === 'strings') continue;
    return undefined;
  }
  if (mode === 'GRU' && n.attributes.get('linear_before_reset')?.value !== 1) return undefined;
  const acts = n.attributes.get('activations')?.value as string[] | undefined;
  if (acts) {
    const low = acts.map((s) => s.toLowerCase());
    const want = mode === 'LSTM' ? ['sigmoid', 'tanh', 'tanh'] : mode === 'GRU' ? ['sigmoid', 'tanh'] : null;
    if (want) {
      if (low.length !== want.length * D || low.some((s, i) => s !== want[i % want.length])) return undefined;
    } else {
      if (low.length !== D || low.some((s) => s !== low[0]) || (low[0] !== 'tanh' && low[0] !== 'relu')) return undefined;
      nonlinearity = low[0] as 'tanh' | 'relu';
    }
  }
  const G = GATES[mode];
  if (W.dims.length !== 3 || W.dims[0] !== D || W.dims[1] % G !== 0) return undefined;
  const H = W.dims[1] / G;
  return { D, H, I: W.dims[2], bias: !!B, nonlinearity };
}

/** Follows Y [T, D, N, H] to PyTorch's [T, N, D·H]: Squeeze(1), or Transpose(0,2,1,3)+Reshape(0,0,-1). */
function followY(y: string, D: number, ctx: GraphIndex, taken: Node[]): string | undefined {
  const first = ctx.sole(y);
  if (D === 1) {
    if (!first || first.opType !== 'Squeeze' || !same(axesOf(first, ctx, 1), [1])) return undefined;
    taken.push(first);
    return first.outputs[0];
  }
  if (!isTranspose(first, [0, 2, 1, 3])) return undefined;
  const reshape = ctx.sole(first.outputs[0]);
  if (!reshape || reshape.opType !== 'Reshape' || !same(ctx.ints(reshape.inputs[1]), [0, 0, -1])) return undefined;
  taken.push(first, reshape);
  return reshape.outputs[0];
}

/**
 * Where layer k's initial state `v` (read by `reader`) comes from: 'zero' (absent, or a zero
 * tensor made by ConstantOfShape / Expand), the source of Slice(src, [k·D], [(k+1)·D], axes [0]),
 * or, for a single layer, the value itself.
 */
function stateSource(v: string, reader: Node, k: number, D: number, L: number, ctx: GraphIndex, taken: Node[]): string | undefined {
  if (!v || isZeroState(v, ctx)) return 'zero';
  const s = ctx.producer.get(v);
  if (s && s.opType === 'Slice' && ctx.sole(v) === reader) {
    const starts = attrInts(s, 'starts') ?? ctx.ints(s.inputs[1]);
    const ends = attrInts(s, 'ends') ?? ctx.ints(s.inputs[2]);
    const axes = axesOf(s, ctx, 3) ?? [0];
    const steps = s.inputs[4] ? ctx.ints(s.inputs[4]) : [1];
    if (same(starts, [k * D]) && same(ends, [(k + 1) * D]) && same(axes, [0]) && same(steps, [1])) {
      const src = s.inputs[0];
      if (isZeroState(src, ctx)) {
        taken.push(s);
        return 'zero';
      }
      // The stack reads the whole state: only a source with exactly L·D rows can stand for it.
      if (ctx.rows(src) === L * D) {
        taken.push(s);
        return src;
      }
    }
  }
  return L === 1 ? v : undefined;
}

/** Per-direction W_hr [P, H] of an LSTM whose Y / Y_h feed MatMul by a constant [D, H, P] (or [H, P]), P < H. */
interface Projection {
  readonly P: number;
  readonly whr: Float64Array[];
  readonly y: string; //  projected Y (or '' when Y is unused)
  readonly yh: string; // projected Y_h (or '')
  readonly nodes: Node[];
}

function projectionOf(n: Node, D: number, H: number, ctx: GraphIndex): Projection | null | undefined {
  if (n.opType !== 'LSTM') return null;
  const find = (v: string) => {
    const m = v ? ctx.sole(v) : undefined;
    if (!m || m.opType !== 'MatMul' || m.domain || m.inputs[0] !== v) return undefined;
    const C = ctx.constant(m.inputs[1]);
    if (!C || (C.type !== 'float32' && C.type !== 'float64')) return undefined;
    const dims = C.dims.length === 2 && D === 1 ? [1, ...C.dims] : C.dims;
    if (dims.length !== 3 || dims[0] !== D || dims[1] !== H || !(dims[2] < H)) return undefined;
    return { m, C, P: dims[2] };
  };
  const y = n.outputs[0] ?? '', yh = n.outputs[1] ?? '';
  const fy = find(y), fh = find(yh);
  if (!fy && !fh) return null;
  const base = (fy ?? fh)!;
  for (const [v, f] of [[y, fy], [yh, fh]] as const) {
    if (!ctx.unused(v) && (!f || f.m.inputs[1] !== base.m.inputs[1])) return undefined;
  }
  const { C, P } = base;
  const whr = Array.from({ length: D }, (_, d) => {
    const w = new Float64Array(P * H); // W_hr = C[d]ᵀ
    for (let h = 0; h < H; h++) for (let p = 0; p < P; p++) w[p * H + h] = Number(C.data[d * H * P + h * P + p]);
    return w;
  });
  return { P, whr, y: fy ? fy.m.outputs[0] : '', yh: fh ? fh.m.outputs[0] : '', nodes: [fy?.m, fh?.m].filter((m): m is Node => !!m) };
}

/** A projected initial state h0·M with W_hr·M_dᵀ = I: returns h0 (the projected state). */
function unprojectState(v: string, reader: Node, proj: Projection, D: number, H: number, ctx: GraphIndex, taken: Node[]): string | undefined {
  if (!v || isZeroState(v, ctx)) return v;
  const m = ctx.producer.get(v);
  if (!m || m.opType !== 'MatMul' || m.domain || ctx.sole(v) !== reader) return undefined;
  const M = ctx.constant(m.inputs[1]);
  const P = proj.P;
  const dims = M && M.dims.length === 2 && D === 1 ? [1, ...M.dims] : M?.dims;
  if (!M || !dims || dims.length !== 3 || dims[0] !== D || dims[1] !== P || dims[2] !== H) return undefined;
  for (let d = 0; d < D; d++) {
    const Md = new Float64Array(P * H);
    for (let i = 0; i < P * H; i++) Md[i] = Number(M.data[d * P * H + i]);
    if (!isRightInverse(proj.whr[d], Md, P, H)) return undefined;
  }
  taken.push(m);
  return m.inputs[0];
}

/** A zero state: ConstantOfShape with value 0, or Expand of an all-zero constant. */
function isZeroState(v: string, ctx: GraphIndex): boolean {
  const p = ctx.producer.get(v);
  if (!p || p.domain) return false;
  if (p.opType === 'ConstantOfShape') {
    const a = p.attributes.get('value');
    return !a || (a.type === 'tensor' && Number(a.value.data[0]) === 0);
  }
  if (p.opType === 'Expand') {
    const t = ctx.constant(p.inputs[0]);
    return !!t && t.type !== 'string' && Array.from(t.data as ArrayLike<number | bigint>).every((x) => Number(x) === 0);
  }
  return false;
}

function matchStack(r0: Node, ctx: GraphIndex): StackMatch | undefined {
  const mode = r0.opType as RecMode;
  const info = recInfo(r0, ctx);
  if (!info) return undefined;
  const nodes: Node[] = [];
  // batch_first: x -> Transpose(1,0,2) -> layer 0
  let x = r0.inputs[0];
  const pre = ctx.producer.get(x);
  const internal: string[] = [];
  // (a Shape of the transposed x may feed the zero-state chain)
  const xReaders = (ctx.consumers.get(x) ?? []).filter((c) => c.opType !== 'Shape');
  const batchFirst = isTranspose(pre, [1, 0, 2]) && xReaders.length === 1 && xReaders[0] === r0 && !ctx.outputs.has(x);
  if (batchFirst) { nodes.push(pre!); internal.push(x); x = pre!.inputs[0]; }

  const layers = [r0];
  const projs: (Projection | null)[] = [];
  let yk: string | undefined;
  for (;;) {
    const rk = layers[layers.length - 1];
    const proj = projectionOf(rk, info.D, info.H, ctx);
    if (proj === undefined || (projs.length > 0 && (proj === null) !== (projs[0] === null)) || (proj && projs[0] && proj.P !== projs[0].P)) return undefined;
    projs.push(proj);
    let y = rk.outputs[0] ?? '';
    if (proj) { nodes.push(...proj.nodes); internal.push(y, rk.outputs[1] ?? ''); y = proj.y; }
    if (ctx.unused(y)) { yk = undefined; break; }
    const taken: Node[] = [];
    yk = followY(y, info.D, ctx, taken);
    if (!yk) return undefined;
    nodes.push(...taken);
    internal.push(y, yk);
    // The next layer reads yk; a Shape of it may feed that layer's zero-state chain.
    const readers = (ctx.consumers.get(yk) ?? []).filter((c) => c.opType !== 'Shape');
    const next = readers.length === 1 && !ctx.outputs.has(yk) ? readers[0] : undefined;
    const ni = next && next.opType === mode && !next.domain && next.inputs[0] === yk ? recInfo(next, ctx) : undefined;
    const width = info.D * (proj ? proj.P : info.H);
    if (!next || !ni || ni.D !== info.D || ni.H !== info.H || ni.I !== width || ni.bias !== info.bias || ni.nonlinearity !== info.nonlinearity) break;
    if (layers.includes(next)) return undefined; // a cycle: validation reports it, fusion must not loop
    layers.push(next);
  }
  let y = '';
  if (yk) {
    if (batchFirst) {
      const post = ctx.sole(yk);
      if (!isTranspose(post, [1, 0, 2])) return undefined;
      nodes.push(post);
      y = post.outputs[0];
    } else y = yk;
  }
  // initial states (a projected h0 enters each layer through MatMul by pinv(W_hr)ᵀ)
  const sources = (index: number): string | undefined => {
    const srcs = layers.map((l, k) => {
      let v: string | undefined = l.inputs[index] ?? '';
      let reader = l;
      const proj = projs[k];
      if (proj && index === 5) {
        const taken: Node[] = [];
        v = unprojectState(v, l, proj, info.D, info.H, ctx, taken);
        if (v === undefined) return undefined;
        if (taken.length) { nodes.push(...taken); reader = taken[0]; }
      }
      return stateSource(v, reader, k, info.D, layers.length, ctx, nodes);
    });
    if (srcs.some((s) => s === undefined || s !== srcs[0])) return undefined;
    return srcs[0] === 'zero' ? '' : srcs[0];
  };
  const h0 = sources(5);
  const c0 = mode === 'LSTM' ? sources(6) : '';
  if (h0 === undefined || c0 === undefined) return undefined;
  // final states: one layer -> its own output; several -> Concat(axis 0) of all of them, in order
  const finals = (index: number): string | undefined => {
    const vs = layers.map((l, k) => (index === 1 && projs[k] ? projs[k]!.yh : (l.outputs[index] ?? '')));
    if (layers.length === 1) return vs[0];
    if (vs.every((v) => ctx.unused(v))) return '';
    const cat = ctx.sole(vs[0]);
    if (!cat || cat.opType !== 'Concat' || cat.attributes.get('axis')?.value !== 0) return undefined;
    if (cat.inputs.length !== vs.length || cat.inputs.some((v, i) => v !== vs[i] || ctx.sole(v) !== cat)) return undefined;
    nodes.push(cat);
    return cat.outputs[0];
  };
  const hn = finals(1);
  const cn = mode === 'LSTM' ? finals(2) : '';
  if (hn === undefined || cn === undefined) return undefined;
  nodes.push(...layers);
  // The last layer's yk is the stack's y, not internal.
  if (yk) internal.splice(internal.indexOf(yk), 1);
  if (!onlyReadInside(internal.filter((v) => v), nodes, ctx)) return undefined;
  const P = projs[0]?.P ?? 0;
  return { mode, D: info.D, H: info.H, P, bias: info.bias, batchFirst, nonlinearity: info.nonlinearity, layers, projs, nodes, x, h0, c0, y, hn, cn };
}

/** True when every reader of `values` is in `nodes` or only feeds (transitively) into them. */
function onlyReadInside(values: string[], nodes: Node[], ctx: GraphIndex): boolean {
  const inside = new Set(nodes);
  for (let grew = true; grew;) {
    grew = false;
    for (const n of ctx.g.nodes) {
      if (inside.has(n) || n.outputs.length === 0) continue;
      const dead = n.outputs.every((o) => !o || (!ctx.outputs.has(o) && (ctx.consumers.get(o) ?? []).every((c) => inside.has(c))));
      if (dead) { inside.add(n); grew = true; }
    }
  }
  return values.every((v) => (ctx.consumers.get(v) ?? []).every((c) => inside.has(c)) && !ctx.outputs.has(v));
}

function uniquePrefix(p: string, used: Set<string>, inits: Map<string, Tensor>): string {
  let name = p;
  for (let i = 1; used.has(name) || [...inits.keys()].some((k) => k.startsWith(`${name}.weight_ih_l`)); i++) name = `${p}_${i}`;
  used.add(name);
  return name;
}

/** Drops nodes none of whose outputs is read, then initializers nothing reads. */
export function deadCodeElimination(g: Graph): Graph {
  let nodes = [...g.nodes];
  const outs = new Set(g.outputs.map((o) => o.name));
  for (;;) {
    const read = new Set(nodes.flatMap((n) => n.inputs));
    const keep = nodes.filter((n) => n.outputs.some((o) => o && (read.has(o) || outs.has(o))));
    if (keep.length === nodes.length) break;
    nodes = keep;
  }
  const read = new Set([...nodes.flatMap((n) => n.inputs), ...outs]);
  const initializers = new Map([...g.initializers].filter(([k]) => read.has(k)));
  return { ...g, nodes, initializers };
}
