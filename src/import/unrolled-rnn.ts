import type { Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { GraphIndex } from './graph-index.js';

/**
 * nn.RNN as PyTorch's decomposition unrolls it (what torch.onnx.export(dynamo=True) writes:
 * torch_lib has no rnn_tanh/rnn_relu, so `torch/_decomp/decompositions.py` `rnn_tanh_input` →
 * `_rnn_helper` → `one_layer_rnn` runs first). Per layer and direction (a "chain"):
 *
 *   P   = MatMul(in, W_ihᵀ) [+ b_ih]                  in [T, N, I] (static T)
 *   P'  = P, or Slice(P, -1, INT64_MIN, axis 0, step -1) for the reverse direction (flip)
 *   s_t = act(MatMul(s_{t-1}, W_hhᵀ) [+ b_hh] + Squeeze(Slice(P', t, t+1, axis 0), 0))   [1, N, H]
 *   out = Concat(s_0 … s_{T-1}) (reverse: Concat(s_{T-1} … s_0)), axis 0
 *
 * s_{-1} is Unsqueeze(Squeeze(Slice(h0, j, j+1, axis 0), 0), 0) (`hx.unbind(0)`, then
 * `unsqueeze(0)`), or Slice(h0, j, j+1) alone, or a zero constant; with a zero state the first
 * step's recurrent product may be folded into a constant (b_hh broadcast, or zeros). Layers chain
 * through `in`; bidirectional layers join their two chains with Concat on the last axis; the
 * final states are Concat(Unsqueeze(Squeeze(s_last, 0), 0) …) (one state: no Concat).
 */
export interface UnrolledRnn {
  nonlinearity: 'tanh' | 'relu';
  numLayers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  bias: boolean;
  x: string;
  h0: string; // '' for zeros
  y: string;
  hn: string; // '' when unused
  /** Per layer and direction, PyTorch layout: weight_ih [H, I], weight_hh [H, H], biases [H]. */
  params: { weightIh: Tensor; weightHh: Tensor; biasIh?: Tensor; biasHh?: Tensor; sources: string[] }[];
  nodes: Node[];
  /** The step nodes of each chain, first and last (for inspect). */
  firstStep: Node;
  steps: number;
}

const op = (n: Node | undefined, t: string): n is Node => !!n && n.opType === t && !n.domain;
const transposed = (t: Tensor): Tensor => {
  const [r, c] = t.dims, src = t.data as Float32Array, out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return new Tensor(t.type, out, [c, r]);
};
const isAll = (t: Tensor | undefined, f: (v: number, i: number) => boolean) => !!t && t.type === 'float32' && (t.data as Float32Array).every(f);

interface Linear { a: string; w: string; b?: string; nodes: Node[] }

/** `MatMul(a, C) [+ b]` with constant C [K, H] and constant b [H] (either Add order). */
function linear(v: string, ctx: GraphIndex): Linear | undefined {
  let p = ctx.producer.get(v);
  const nodes: Node[] = [];
  let b: string | undefined;
  if (op(p, 'Add')) {
    const [l, r] = p.inputs;
    const [mmv, bv] = op(ctx.producer.get(l), 'MatMul') && ctx.constant(r) ? [l, r] : op(ctx.producer.get(r), 'MatMul') && ctx.constant(l) ? [r, l] : [undefined, undefined];
    if (!mmv || ctx.constant(bv!)?.dims.length !== 1) return undefined;
    nodes.push(p);
    b = bv;
    p = ctx.producer.get(mmv);
  }
  if (!op(p, 'MatMul')) return undefined;
  const W = ctx.constant(p.inputs[1]);
  if (!W || W.dims.length !== 2 || W.type !== 'float32') return undefined;
  nodes.push(p);
  return { a: p.inputs[0], w: p.inputs[1], b, nodes };
}

/**
 * Row t of `src` on axis 0 as one `unbind(0)` item: `Squeeze(Slice(src, t, t+1, axis 0), 0)`
 * (torch_lib's aten_unbind with a static dim at the commit followed), or `Squeeze(Split(src,
 * axis 0, num_outputs = rows)[t], 0)` (its form in other onnxscript versions): src and t.
 */
function stepInput(v: string, ctx: GraphIndex): { src: string; t: number; nodes: Node[] } | undefined {
  const sq = ctx.producer.get(v);
  if (!op(sq, 'Squeeze') || ctx.ints(sq.inputs[1] ?? '')?.join() !== '0') return undefined;
  const sl = ctx.producer.get(sq.inputs[0]);
  if (sl && sl.opType === 'Split' && !sl.domain) {
    const t = sl.outputs.indexOf(sq.inputs[0]);
    const axis = sl.attributes.get('axis')?.value ?? 0;
    const sizes = sl.inputs[1] ? ctx.ints(sl.inputs[1]) : undefined;
    const rows = ctx.rows(sl.inputs[0]);
    if (axis !== 0 || (sizes ? sizes.some((q) => q !== 1) : sl.attributes.get('num_outputs')?.value !== sl.outputs.length)) return undefined;
    if (rows !== undefined && rows !== sl.outputs.length) return undefined;
    return { src: sl.inputs[0], t, nodes: [sq, sl] };
  }
  if (!op(sl, 'Slice')) return undefined;
  const s = ctx.ints(sl.inputs[1]), e = ctx.ints(sl.inputs[2]);
  if (!s || !e || s.length !== 1 || e[0] !== s[0] + 1 || ctx.ints(sl.inputs[3] ?? '')?.join() !== '0' || (sl.inputs[4] && ctx.ints(sl.inputs[4])?.join() !== '1')) return undefined;
  return { src: sl.inputs[0], t: s[0], nodes: [sq, sl] };
}

/** One step `act(R + x_t)`: R a linear of the previous state, a folded constant, or absent. */
interface Step { act: string; prev?: string; rec?: Linear; folded?: string; x: { src: string; t: number }; nodes: Node[] }

function stepOf(v: string, ctx: GraphIndex): Step | undefined {
  const a = ctx.producer.get(v);
  if (!a || a.domain || (a.opType !== 'Tanh' && a.opType !== 'Relu')) return undefined;
  const direct = stepInput(a.inputs[0], ctx);
  if (direct) return { act: a.opType, x: direct, nodes: [a, ...direct.nodes] }; // Add(0, x_t) removed by the optimizer
  const add = ctx.producer.get(a.inputs[0]);
  if (!op(add, 'Add')) return undefined;
  for (const [xv, rv] of [[add.inputs[0], add.inputs[1]], [add.inputs[1], add.inputs[0]]]) {
    const x = stepInput(xv, ctx);
    if (!x) continue;
    const c = ctx.constant(rv);
    if (c) return { act: a.opType, folded: rv, x, nodes: [a, add, ...x.nodes] };
    const rec = linear(rv, ctx);
    if (rec) return { act: a.opType, prev: rec.a, rec, x, nodes: [a, add, ...x.nodes, ...rec.nodes] };
  }
  return undefined;
}

export interface Chain {
  reverse: boolean;
  out: string;
  input: string;
  pre: Linear;
  whh?: string;
  bhh?: string;
  act: string;
  /** The state before the first step: a value, or 'zero'. */
  init: string;
  /** Dims of the constant standing for a zero state (the folded first recurrent term), if any. */
  zeroDims?: readonly number[];
  last: string;
  T: number;
  nodes: Node[];
  first: Node;
}

/** One direction of one layer from the Concat of its steps, or why not. */
export function matchChain(cat: Node, ctx: GraphIndex): Chain | string {
  if (!op(cat, 'Concat') || cat.attributes.get('axis')?.value !== 0 || cat.inputs.length < 2) return 'not a Concat of steps on axis 0';
  const T = cat.inputs.length;
  const steps = cat.inputs.map((v) => stepOf(v, ctx));
  const bad = steps.findIndex((s) => !s);
  if (bad >= 0) return `input ${bad} of ${cat.name} is not act(MatMul(h, W_hhᵀ) + b_hh + Squeeze(Slice(P, t, t+1)))`;
  const ss = steps as Step[];
  const reverse = ss[0].x.t === T - 1 && T > 1;
  // computation order: step t is Concat input t (forward) or T-1-t (reverse)
  const at = (t: number) => (reverse ? ss[T - 1 - t] : ss[t]);
  const val = (t: number) => cat.inputs[reverse ? T - 1 - t : t];
  let whh: string | undefined, bhh: string | undefined, src: string | undefined;
  for (let t = 0; t < T; t++) {
    const s = at(t);
    if (s.act !== ss[0].act) return `${cat.name}: steps mix ${ss[0].act} and ${s.act}`;
    if (s.x.t !== t) return `${cat.name}: step ${t} reads input step ${s.x.t}`;
    if (src !== undefined && s.x.src !== src) return `${cat.name}: steps slice different tensors`;
    src = s.x.src;
    if (t > 0) {
      if (!s.rec) return `${cat.name}: step ${t} has no recurrent product`;
      if (s.prev !== val(t - 1)) return `${cat.name}: step ${t} does not read step ${t - 1}'s state`;
      if ((whh !== undefined && s.rec.w !== whh) || (t > 1 && s.rec.b !== bhh)) return `${cat.name}: steps use different recurrent weights`;
      whh = s.rec.w;
      bhh = s.rec.b;
    }
  }
  const s0 = at(0);
  if (s0.rec && ((whh !== undefined && s0.rec.w !== whh) || (T > 1 && s0.rec.b !== bhh))) return `${cat.name}: step 0 uses different recurrent weights`;
  whh ??= s0.rec?.w;
  bhh ??= s0.rec?.b;
  if (!whh) return `${cat.name}: no step has a recurrent product (W_hh is not in the graph)`;
  const nodes: Node[] = [cat, ...ss.flatMap((s) => s.nodes)];
  // P (and the flip for the reverse direction)
  let pv = src!;
  if (reverse) {
    const f = ctx.producer.get(pv);
    const ends = f && ctx.ints(f.inputs[2]);
    if (!op(f, 'Slice') || ctx.ints(f.inputs[1])?.join() !== '-1' || !ends || !(ends[0] <= -T - 1) || ctx.ints(f.inputs[3] ?? '')?.join() !== '0' || ctx.ints(f.inputs[4] ?? '')?.join() !== '-1') {
      return `${cat.name}: the reversed steps do not read a flip (Slice with step -1) of the input projection`;
    }
    nodes.push(f);
    pv = f.inputs[0];
  }
  const pre = linear(pv, ctx);
  if (!pre) return `${cat.name}: the steps do not read MatMul(x, W_ihᵀ) [+ b_ih]`;
  nodes.push(...pre.nodes);
  let init: string;
  if (s0.rec) init = s0.prev!;
  else {
    // a zero state folded away: the constant is b_hh broadcast (or zero), or the Add is gone
    const b = bhh ? ctx.constant(bhh) : undefined;
    const c = s0.folded ? ctx.constant(s0.folded) : undefined;
    const H = b?.dims[0] ?? 0;
    if (s0.folded && !(b ? isAll(c, (v, i) => v === (b.data as Float32Array)[i % H]) && c!.dims[c!.dims.length - 1] === H : isAll(c, (v) => v === 0))) {
      return `${cat.name}: step 0's folded recurrent term is not a zero state's (b_hh broadcast)`;
    }
    if (!s0.folded && bhh) return `${cat.name}: step 0 has no recurrent term although the steps have a bias`;
    init = 'zero';
  }
  const zeroDims = s0.folded ? ctx.constant(s0.folded)!.dims : undefined;
  return { reverse, out: cat.outputs[0], input: pre.a, pre, whh, bhh, act: ss[0].act, init, zeroDims, last: val(T - 1), T, nodes, first: at(0).nodes[0] };
}

/** Where chain j's initial state comes from: 'zero', or [h0, nodes] for row j of h0 [L·D, N, H]. */
function initialState(c: Chain, j: number, rows: number, N: number | undefined, H: number, ctx: GraphIndex): { src: string; nodes: Node[] } | { zero: true } | string {
  // A constant zero state broadcasts against each step's [N, H]: it stands for the stack's own
  // [1, N, H] zeros only as [1, 1, H] or [1, N, H] with N the input's static batch size.
  const fits = (d: readonly number[]) => d.length === 3 && d[0] === 1 && d[2] === H && (d[1] === 1 || d[1] === N);
  if (c.init === 'zero') return !c.zeroDims || fits(c.zeroDims) ? { zero: true } : `the zero state of ${c.first.name} has dims [${c.zeroDims}], not [1, N, ${H}]`;
  const z = ctx.constant(c.init);
  if (z) {
    if (!isAll(z, (v) => v === 0)) return `the initial state of ${c.first.name} is a non-zero constant`;
    return fits(z.dims) ? { zero: true } : `the zero state of ${c.first.name} has dims [${z.dims}], not [1, N, ${H}]`;
  }
  const nodes: Node[] = [];
  let v = c.init;
  const un = ctx.producer.get(v);
  if (op(un, 'Unsqueeze') && ctx.ints(un.inputs[1] ?? '')?.join() === '0') {
    const sq = ctx.producer.get(un.inputs[0]);
    if (!op(sq, 'Squeeze') || ctx.ints(sq.inputs[1] ?? '')?.join() !== '0') return `the initial state of ${c.first.name} is not a row of h0`;
    nodes.push(un, sq);
    v = sq.inputs[0];
  }
  const sl = ctx.producer.get(v);
  if (nodes.length && sl && sl.opType === 'Split' && !sl.domain && sl.outputs.indexOf(v) === j && sl.outputs.length === rows
    && (sl.attributes.get('axis')?.value ?? 0) === 0 && (sl.inputs[1] ? ctx.ints(sl.inputs[1])?.every((q) => q === 1) : sl.attributes.get('num_outputs')?.value === rows)) {
    if (ctx.rows(sl.inputs[0]) !== undefined && ctx.rows(sl.inputs[0]) !== rows) return `the initial states are parts of a tensor without ${rows} rows`;
    return { src: sl.inputs[0], nodes: [...nodes, sl] };
  }
  if (op(sl, 'Slice') && ctx.ints(sl.inputs[1])?.join() === `${j}` && ctx.ints(sl.inputs[2])?.join() === `${j + 1}` && ctx.ints(sl.inputs[3] ?? '')?.join() === '0' && (!sl.inputs[4] || ctx.ints(sl.inputs[4])?.join() === '1')) {
    if (ctx.rows(sl.inputs[0]) !== rows) return `the initial states are slices of a tensor without ${rows} rows`;
    return { src: sl.inputs[0], nodes: [...nodes, sl] };
  }
  if (rows === 1 && nodes.length === 0 && ctx.rows(v) === 1) return { src: v, nodes };
  return `the initial state of ${c.first.name} is not row ${j} of one [L·D, N, H] state`;
}

/** Static size of axis `axis` of `v` (graph input or value_info), if known. */
function staticDim(v: string, axis: number, ctx: GraphIndex): number | undefined {
  const info = ctx.g.inputs.find((i) => i.name === v) ?? ctx.g.valueInfo.get(v);
  const d = info?.shape?.[axis];
  return typeof d === 'number' ? d : undefined;
}

/**
 * The whole nn.RNN whose first layer's forward chain is `first`: layers chained through their
 * outputs, bidirectional pairs, initial and final states. A string says what is missing.
 */
export function matchUnrolledRnn(first: Chain, chains: ReadonlyMap<string, Chain[]>, ctx: GraphIndex): UnrolledRnn | string {
  const layers: Chain[][] = [];
  const extra: Node[] = [];
  let input = first.input;
  let y = '';
  let D = 0;
  for (;;) {
    const group = (chains.get(input) ?? []).filter((c) => c.T === first.T && c.act === first.act);
    const fwd = group.filter((c) => !c.reverse), rev = group.filter((c) => c.reverse);
    if (fwd.length !== 1 || rev.length > 1) {
      if (layers.length === 0) return `${fwd.length} forward chains read ${input}`;
      break;
    }
    const d = rev.length ? 2 : 1;
    if (D && d !== D) return `layer ${layers.length} has ${d} directions, layer 0 has ${D}`;
    D = d;
    const layer = d === 2 ? [fwd[0], rev[0]] : [fwd[0]];
    let out = fwd[0].out;
    if (d === 2) {
      const cat = ctx.sole(fwd[0].out);
      const axis = cat?.attributes.get('axis')?.value;
      if (!op(cat, 'Concat') || cat.inputs.length !== 2 || cat.inputs[0] !== fwd[0].out || cat.inputs[1] !== rev[0].out || ctx.sole(rev[0].out) !== cat || (axis !== 2 && axis !== -1)) {
        return `the directions of layer ${layers.length} are not joined by one Concat on the last axis`;
      }
      extra.push(cat);
      out = cat.outputs[0];
    }
    layers.push(layer);
    y = out;
    // the next layer reads this output through its input projections
    const readers = (ctx.consumers.get(out) ?? []);
    if (ctx.outputs.has(out) || readers.length === 0 || !chains.has(out)) break;
    input = out;
  }
  const L = layers.length;
  const all = layers.flat();
  const H = ctx.constant(first.whh!)!.dims[0];
  const bias = !!first.pre.b;
  if (all.some((c) => !!c.pre.b !== bias || !!c.bhh !== bias)) return 'some input projections have a bias and others not';
  // batch_first: x -> Transpose(1,0,2) -> layer 0; y -> Transpose(1,0,2)
  let x = first.input;
  const tr = ctx.producer.get(x);
  const isT = (n: Node | undefined): n is Node => op(n, 'Transpose') && (n.attributes.get('perm')?.value as number[] | undefined)?.join() === '1,0,2';
  const batchFirst = isT(tr) && (ctx.consumers.get(x) ?? []).every((c) => layers[0].some((ch) => ch.pre.nodes.includes(c))) && !ctx.outputs.has(x);
  if (batchFirst) { extra.push(tr!); x = tr!.inputs[0]; }
  const T = batchFirst ? staticDim(x, 1, ctx) : (ctx.rows(x) ?? staticDim(x, 0, ctx));
  if (T !== first.T) return `the input's time dimension is ${T ?? 'not static'}, the graph has ${first.T} unrolled steps`;
  if (batchFirst) {
    const post = ctx.sole(y);
    if (!isT(post)) return 'the input is transposed (batch_first) but the output is not transposed back alone';
    extra.push(post);
    y = post.outputs[0];
  }
  // initial states: all zero, or rows k·D+d of one h0
  const N = batchFirst ? (ctx.rows(x) ?? staticDim(x, 0, ctx)) : staticDim(x, 1, ctx);
  const inits = all.map((c, j) => initialState(c, j, L * D, N, H, ctx));
  const why = inits.find((s): s is string => typeof s === 'string');
  if (why) return why;
  const srcs = inits as ({ src: string; nodes: Node[] } | { zero: true })[];
  const zero = srcs.every((s) => 'zero' in s);
  if (!zero && (srcs.some((s) => 'zero' in s) || new Set(srcs.map((s) => (s as { src: string }).src)).size !== 1)) return 'the layers\' initial states do not come from one state tensor';
  const h0 = zero ? '' : (srcs[0] as { src: string }).src;
  if (!zero) for (const s of srcs) extra.push(...(s as { nodes: Node[] }).nodes);
  // final states: Unsqueeze(Squeeze(last, 0), 0) per chain, then Concat on axis 0 (one chain: none)
  let hn = '';
  const finals = all.map((c) => {
    const readers = (ctx.consumers.get(c.last) ?? []).filter((n) => !c.nodes.includes(n) && !extra.includes(n) && !all.some((o) => o.nodes.includes(n)));
    if (readers.length === 0 && !ctx.outputs.has(c.last)) return '';
    const sq = readers.length === 1 && !ctx.outputs.has(c.last) ? readers[0] : undefined;
    const un = sq && op(sq, 'Squeeze') && ctx.ints(sq.inputs[1] ?? '')?.join() === '0' ? ctx.sole(sq.outputs[0]) : undefined;
    if (!un || !op(un, 'Unsqueeze') || ctx.ints(un.inputs[1] ?? '')?.join() !== '0') return undefined;
    extra.push(sq!, un);
    return un.outputs[0];
  });
  if (finals.some((f) => f === undefined)) return 'a final state is not read as Unsqueeze(Squeeze(h_T, 0), 0)';
  if (finals.some((f) => f)) {
    if (finals.length === 1) hn = finals[0]!;
    else {
      const cat = ctx.sole(finals[0]!);
      if (!op(cat, 'Concat') || cat.attributes.get('axis')?.value !== 0 || cat.inputs.length !== finals.length || cat.inputs.some((v, i) => v !== finals[i] || ctx.sole(v) !== cat)) {
        return 'the final states are not stacked by one Concat in layer order';
      }
      extra.push(cat);
      hn = cat.outputs[0];
    }
  }
  const params = all.map((c) => {
    const bi = c.pre.b ? ctx.constant(c.pre.b) : undefined, bh = c.bhh ? ctx.constant(c.bhh) : undefined;
    return {
      weightIh: transposed(ctx.constant(c.pre.w)!), weightHh: transposed(ctx.constant(c.whh!)!), biasIh: bi, biasHh: bh,
      sources: [c.pre.w, c.whh!, c.pre.b ?? '', c.bhh ?? ''].flatMap((v) => ctx.sources(v)),
    };
  });
  for (let k = 0; k < L; k++) for (const p of params.slice(k * D, (k + 1) * D)) {
    const I = k === 0 ? p.weightIh.dims[1] : D * H;
    if (p.weightIh.dims[0] !== H || p.weightIh.dims[1] !== I || p.weightHh.dims[0] !== H || p.weightHh.dims[1] !== H
      || (p.biasIh && (p.biasIh.dims.length !== 1 || p.biasIh.dims[0] !== H)) || (p.biasHh && (p.biasHh.dims.length !== 1 || p.biasHh.dims[0] !== H))) {
      return `layer ${k}'s weights do not have nn.RNN's shapes (hidden_size ${H})`;
    }
  }
  return {
    nonlinearity: first.act === 'Relu' ? 'relu' : 'tanh', numLayers: L, bidirectional: D === 2, batchFirst, bias, x, h0, y, hn,
    params, nodes: [...all.flatMap((c) => c.nodes), ...extra], firstStep: first.first, steps: first.T,
  };
}
