import type { Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { GraphIndex } from './graph-index.js';

/**
 * nn.LSTMCell / nn.GRUCell as the dynamo exporter writes them: `aten::lstm_cell` / `aten::gru_cell`
 * decomposed through their CPU code in `aten/src/ATen/native/RNN.cpp` (torch_lib has neither):
 *
 *   LSTMCell: gates = linear(h, W_hh, b_hh) + linear(x, W_ih, b_ih); i, f, g, o = Split(gates, 4, axis 1)
 *             c' = σ(f)·c + σ(i)·tanh(g);  h' = σ(o)·tanh(c')
 *   GRUCell:  ir, iz, in = Split(linear(x, W_ih, b_ih), 3);  hr, hz, hn = Split(linear(h, W_hh, b_hh), 3)
 *             r = σ(hr + ir);  z = σ(hz + iz);  n = tanh(in + hn·r);  h' = (h − n)·z + n
 *
 * `linear` is Gemm(a, W, b, transB=1) (torch_lib for 2-D input), or MatMul by a constant [K, G·H]
 * with an optional Add of the bias. Add and Mul operands may come in either order. h and c are
 * any [N, H] values, or zero constants (the module called without a state).
 */
export interface DecomposedCell {
  mode: 'LSTM' | 'GRU' | 'RNN';
  nonlinearity?: 'tanh' | 'relu';
  x: string;
  h: string; // '' for zeros
  c: string; // '' for zeros (LSTM)
  hy: string;
  cy: string; // LSTM
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh?: Tensor;
  biasHh?: Tensor;
  sources: string[];
  nodes: Node[];
}

const op = (n: Node | undefined, t: string): n is Node => !!n && n.opType === t && !n.domain;
/** The reader of `v` of type `t` (whether anything else reads `v` is checked once, at the end). */
const reader = (v: string, t: string, ctx: GraphIndex): Node | undefined => (ctx.consumers.get(v) ?? []).find((c) => op(c, t));
const is = (n: Node | undefined, t: string): boolean => !!n && n.opType === t && !n.domain;

interface Linear { a: string; w: Tensor; b?: Tensor; sources: string[]; nodes: Node[] }

/** `v` as a linear map of a non-constant value: Gemm(a, W, b, transB) or MatMul(a, Wᵀ) [+ b]; W in PyTorch layout [G·H, K]. */
function linear(v: string, GH: number, ctx: GraphIndex): Linear | undefined {
  const p = ctx.producer.get(v);
  if (p && is(p, 'Gemm')) {
    const at = (k: string, d: number) => { const a = p.attributes.get(k); return a ? Number(a.value) : d; };
    for (const k of p.attributes.keys()) if (!['transA', 'transB', 'alpha', 'beta'].includes(k)) return undefined;
    if (at('transA', 0) !== 0 || at('alpha', 1) !== 1 || at('beta', 1) !== 1) return undefined;
    const W = ctx.constant(p.inputs[1]);
    const b = p.inputs[2] ? ctx.constant(p.inputs[2]) : undefined;
    if (!W || W.type !== 'float32' || W.dims.length !== 2) return undefined;
    if (p.inputs[2] && (!b || b.type !== 'float32' || b.size !== GH || (b.dims.length === 2 && b.dims[0] !== 1) || b.dims.length > 2)) return undefined;
    const w = at('transB', 0) === 1 ? W : transposed(W);
    if (w.dims[0] !== GH) return undefined;
    return { a: p.inputs[0], w, b: b && new Tensor('float32', b.data, [GH]), sources: [p.inputs[1], p.inputs[2] ?? ''].flatMap((s) => ctx.sources(s)), nodes: [p] };
  }
  let q: Node | undefined = p;
  let bias: string | undefined;
  const nodes: Node[] = [];
  if (q && is(q, 'Add')) {
    const [l, r] = q.inputs;
    const mm = op(ctx.producer.get(l), 'MatMul') && ctx.constant(r) ? l : op(ctx.producer.get(r), 'MatMul') && ctx.constant(l) ? r : undefined;
    if (!mm) return undefined;
    bias = mm === l ? r : l;
    nodes.push(q);
    q = ctx.producer.get(mm);
  }
  if (!op(q, 'MatMul')) return undefined;
  const W = ctx.constant(q.inputs[1]);
  const b = bias ? ctx.constant(bias) : undefined;
  if (!W || W.type !== 'float32' || W.dims.length !== 2 || W.dims[1] !== GH) return undefined;
  if (bias && (!b || b.type !== 'float32' || b.dims.length !== 1 || b.dims[0] !== GH)) return undefined;
  nodes.push(q);
  return { a: q.inputs[0], w: transposed(W), b, sources: [q.inputs[1], bias ?? ''].flatMap((s) => ctx.sources(s)), nodes };
}

function transposed(t: Tensor): Tensor {
  const [r, c] = t.dims, src = t.data as Float32Array, out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return new Tensor(t.type, out, [c, r]);
}

/** The equal parts of a Split on axis 1 (or -1 of a rank-2 tensor) into `n` outputs. */
function splitParts(s: Node, n: number, ctx: GraphIndex): boolean {
  if (!op(s, 'Split') || s.outputs.length !== n || s.outputs.some((o) => !o)) return false;
  const axis = s.attributes.get('axis')?.value ?? 0;
  if (axis !== 1 && axis !== -1) return false;
  const num = s.attributes.get('num_outputs')?.value;
  const sizes = s.inputs[1] ? ctx.ints(s.inputs[1]) : (s.attributes.get('split')?.value as number[] | undefined);
  if (num !== undefined) return num === n && !s.inputs[1];
  if (sizes) return sizes.length === n && sizes.every((q) => q === sizes[0]);
  return true; // no split sizes: equal parts
}

/** The operands of a commutative binary node `v` = opType(a, b), with `a` satisfying `isA`. */
function operands(v: string, opType: string, isA: (x: string) => boolean, ctx: GraphIndex): [string, string, Node] | undefined {
  const n = ctx.producer.get(v);
  if (!op(n, opType) || n.inputs.length !== 2) return undefined;
  if (isA(n.inputs[0])) return [n.inputs[0], n.inputs[1], n];
  if (isA(n.inputs[1])) return [n.inputs[1], n.inputs[0], n];
  return undefined;
}

/**
 * A state input: a value, or '' for a zero constant that stands for the cell's own [N, H] zeros
 * (dims [1, H] or [N, H] with N x's static batch: another shape would broadcast the outputs to it),
 * or undefined for a zero constant of another shape.
 */
function stateOf(v: string, x: string, H: number, ctx: GraphIndex): string | undefined {
  const c = ctx.constant(v);
  if (!c || c.type !== 'float32' || !(c.data as Float32Array).every((q) => q === 0)) return v;
  return c.dims.length === 2 && c.dims[1] === H && (c.dims[0] === 1 || c.dims[0] === batchOf(x, ctx)) ? '' : undefined;
}

/** The static batch size of a cell input x [N, I]: declared, or dim 1 of a [T, N, I] input it is step t of (Gather on axis 0). */
function batchOf(x: string, ctx: GraphIndex): number | undefined {
  const declared = (v: string, axis: number) => {
    const info = ctx.g.inputs.find((i) => i.name === v) ?? ctx.g.valueInfo.get(v);
    const d = info?.shape?.[axis];
    return typeof d === 'number' ? d : undefined;
  };
  const p = ctx.producer.get(x);
  if (p && p.opType === 'Gather' && !p.domain && (p.attributes.get('axis')?.value ?? 0) === 0 && ctx.constant(p.inputs[1])?.dims.length === 0) return declared(p.inputs[0], 1);
  return declared(x, 0);
}

/** Whether `s` looks like the gate Split of a cell (so inspect reports why it was not recovered). */
export function cellCandidate(s: Node, ctx: GraphIndex): 'LSTM' | 'GRU' | undefined {
  if (splitParts(s, 4, ctx) && s.outputs.every((o, i) => (ctx.consumers.get(o) ?? []).some((c) => c.opType === (i === 2 ? 'Tanh' : 'Sigmoid')))) return 'LSTM';
  if (splitParts(s, 3, ctx) && s.outputs.slice(0, 2).every((o) => (ctx.consumers.get(o) ?? []).some((c) => c.opType === 'Add' && c.outputs.some((q) => (ctx.consumers.get(q) ?? []).some((d) => d.opType === 'Sigmoid'))))) return 'GRU';
  return undefined;
}

/** An LSTMCell around the gate Split `s`, or why not. */
export function matchLstmCell(s: Node, ctx: GraphIndex): DecomposedCell | string {
  if (!splitParts(s, 4, ctx)) return 'not a Split into 4 equal gates on axis 1';
  const [iv, fv, gv, ov] = s.outputs;
  const act = (v: string, t: string) => reader(v, t, ctx);
  const si = act(iv, 'Sigmoid'), sf = act(fv, 'Sigmoid'), tg = act(gv, 'Tanh'), so = act(ov, 'Sigmoid');
  if (!si || !sf || !tg || !so) return 'the gates are not read by Sigmoid, Sigmoid, Tanh, Sigmoid alone';
  // h' = σ(o)·tanh(c'), c' = σ(f)·c + σ(i)·tanh(g)
  const hyNode = reader(so.outputs[0], 'Mul', ctx);
  if (!op(hyNode, 'Mul')) return 'σ(o) is not multiplied by tanh(c\')';
  const tcv = hyNode.inputs[0] === so.outputs[0] ? hyNode.inputs[1] : hyNode.inputs[0];
  const tc = ctx.producer.get(tcv);
  if (!op(tc, 'Tanh')) return 'σ(o) is not multiplied by tanh(c\')';
  const cy = tc.inputs[0];
  const sum = operands(cy, 'Add', (v) => { const m = ctx.producer.get(v); return op(m, 'Mul') && m.inputs.includes(sf.outputs[0]); }, ctx);
  if (!sum) return 'c\' is not σ(f)·c + σ(i)·tanh(g)';
  const [fcv, igv, addC] = sum;
  const fc = ctx.producer.get(fcv)!, ig = ctx.producer.get(igv);
  if (!op(ig, 'Mul') || !ig.inputs.includes(si.outputs[0]) || !ig.inputs.includes(tg.outputs[0])) return 'c\' is not σ(f)·c + σ(i)·tanh(g)';
  const c = fc.inputs[0] === sf.outputs[0] ? fc.inputs[1] : fc.inputs[0];
  // gates = linear(h) + linear(x) (PyTorch: the recurrent one first)
  const gates = ctx.producer.get(s.inputs[0]);
  if (!op(gates, 'Add')) return 'the gates are not the sum of two linear maps';
  const folded = gates.inputs.map((v) => ctx.constant(v)).find((c) => c && c.dims.length === 2);
  if (folded) return 'the recurrent product is a constant (the exporter folded it: zero state, small weights), so weight_hh is not in the graph';
  const lin = gates.inputs.map((v) => linear(v, gh(v, ctx), ctx));
  if (!lin[0] || !lin[1]) return 'the gates are not the sum of two linear maps of x and h (Gemm, or MatMul [+ Add])';
  const G4 = lin[0].w.dims[0];
  if (G4 % 4 !== 0 || lin[1].w.dims[0] !== G4) return 'the two linear maps do not have 4·H outputs';
  const H = G4 / 4;
  // which is h: the one whose input has H features and whose K is H; PyTorch's order breaks a tie
  const kh = [0, 1].filter((k) => lin[k]!.w.dims[1] === H);
  if (kh.length === 0) return `neither linear map reads a state of hidden_size ${H}`;
  const hk = kh.includes(0) ? 0 : 1;
  const lh = lin[hk]!, lx = lin[1 - hk]!;
  const internal = [...s.outputs, si.outputs[0], sf.outputs[0], tg.outputs[0], so.outputs[0], fcv, igv, tcv, gates.outputs[0], ...gates.inputs];
  const nodes = [s, si, sf, tg, so, hyNode, tc, addC, fc, ig, gates, ...lh.nodes, ...lx.nodes];
  if (!onlyInside(nodes, internal, ctx)) return 'a value inside the cell is also read outside it';
  const hs = stateOf(lh.a, lx.a, H, ctx), cs = stateOf(c, lx.a, H, ctx);
  if (hs === undefined || cs === undefined) return `a zero state constant is not [N, ${H}] or [1, ${H}]`;
  return {
    mode: 'LSTM', x: lx.a, h: hs, c: cs, hy: hyNode.outputs[0], cy,
    weightIh: lx.w, weightHh: lh.w, ...biases(lx, lh, G4), sources: [...lx.sources, ...lh.sources], nodes,
  };
}

/** Both biases when either linear has one (a zero bias the optimizer removed comes back as zeros). */
function biases(lx: Linear, lh: Linear, GH: number): { biasIh?: Tensor; biasHh?: Tensor } {
  if (!lx.b && !lh.b) return {};
  const zeros = () => new Tensor('float32', new Float32Array(GH), [GH]);
  return { biasIh: lx.b ?? zeros(), biasHh: lh.b ?? zeros() };
}

/** A GRUCell whose recurrent gate Split is `s` (its third part is multiplied by r), or why not. */
export function matchGruCell(s: Node, ctx: GraphIndex): DecomposedCell | string {
  if (!splitParts(s, 3, ctx)) return 'not a Split into 3 equal gates on axis 1';
  const [hrv, hzv, hnv] = s.outputs;
  // r = σ(hr + ir): find the input split through hr's Add
  const addR = reader(hrv, 'Add', ctx), addZ = reader(hzv, 'Add', ctx);
  if (!op(addR, 'Add') || !op(addZ, 'Add')) return 'the first two gates are not added to the input gates';
  const irv = addR.inputs[0] === hrv ? addR.inputs[1] : addR.inputs[0];
  const izv = addZ.inputs[0] === hzv ? addZ.inputs[1] : addZ.inputs[0];
  const si = ctx.producer.get(irv);
  if (!si || !splitParts(si, 3, ctx) || si.outputs[0] !== irv || si.outputs[1] !== izv) return 'the gates are not added to the parts of one input Split in order';
  const inv = si.outputs[2];
  const r = reader(addR.outputs[0], 'Sigmoid', ctx), z = reader(addZ.outputs[0], 'Sigmoid', ctx);
  if (!op(r, 'Sigmoid') || !op(z, 'Sigmoid')) return 'r and z are not Sigmoids';
  // n = tanh(in + hn·r)
  const mul = reader(hnv, 'Mul', ctx);
  if (!op(mul, 'Mul') || !mul.inputs.includes(r.outputs[0])) return 'the third recurrent gate is not multiplied by r';
  const addN = reader(mul.outputs[0], 'Add', ctx);
  if (!op(addN, 'Add') || !addN.inputs.includes(inv)) return 'n is not tanh(in + hn·r)';
  const tn = reader(addN.outputs[0], 'Tanh', ctx);
  if (!op(tn, 'Tanh')) return 'n is not tanh(in + hn·r)';
  const n = tn.outputs[0];
  // h' = (h − n)·z + n  (either operand order of the Mul and the Add)
  const nReaders = ctx.consumers.get(n) ?? [];
  const sub = nReaders.find((q) => op(q, 'Sub') && q.inputs[1] === n);
  const out = nReaders.find((q) => op(q, 'Add'));
  if (!sub || !out) return 'h\' is not (h − n)·z + n';
  const mz = reader(sub.outputs[0], 'Mul', ctx);
  if (!op(mz, 'Mul') || !mz.inputs.includes(z.outputs[0]) || !out.inputs.includes(mz.outputs[0]) || !out.inputs.includes(n)) return 'h\' is not (h − n)·z + n';
  const h = sub.inputs[0];
  // linear maps
  if (ctx.constant(s.inputs[0])) return 'the recurrent product is a constant (the exporter folded it: zero state, small weights), so weight_hh is not in the graph';
  const lh = linear(s.inputs[0], gh(s.inputs[0], ctx), ctx);
  const lx = linear(si.inputs[0], gh(si.inputs[0], ctx), ctx);
  if (!lh || !lx) return 'the gates are not linear maps of x and h (Gemm, or MatMul [+ Add])';
  if (lh.a !== h) return 'the recurrent gates do not read the h of (h − n)';
  const G3 = lh.w.dims[0];
  if (G3 % 3 !== 0 || lx.w.dims[0] !== G3 || lh.w.dims[1] !== G3 / 3) return 'the linear maps do not have GRUCell\'s shapes';
  const nodes = [s, si, addR, addZ, r, z, mul, addN, tn, sub, mz, out, ...lh.nodes, ...lx.nodes];
  const internal = [...s.outputs, ...si.outputs, addR.outputs[0], addZ.outputs[0], r.outputs[0], z.outputs[0], mul.outputs[0], addN.outputs[0], n, sub.outputs[0], mz.outputs[0], s.inputs[0], si.inputs[0]];
  if (!onlyInside(nodes, internal, ctx)) return 'a value inside the cell is also read outside it';
  const hs = stateOf(h, lx.a, G3 / 3, ctx);
  if (hs === undefined) return `the zero state constant is not [N, ${G3 / 3}] or [1, ${G3 / 3}]`;
  return {
    mode: 'GRU', x: lx.a, h: hs, c: '', hy: out.outputs[0], cy: '',
    weightIh: lx.w, weightHh: lh.w, ...biases(lx, lh, G3), sources: [...lx.sources, ...lh.sources], nodes,
  };
}

/** Output width of the linear map producing `v` (Gemm with transB: W rows; else W columns). */
function gh(v: string, ctx: GraphIndex): number {
  const p: Node | undefined = ctx.producer.get(v);
  const W = p ? ctx.constant(p.inputs[1]) : undefined;
  if (p && is(p, 'Add')) {
    const mm = [p.inputs[0], p.inputs[1]].map((q) => ctx.producer.get(q)).find((q) => op(q, 'MatMul'));
    const W2 = mm ? ctx.constant(mm.inputs[1]) : undefined;
    return W2 && W2.dims.length === 2 ? W2.dims[1] : -1;
  }
  if (!W || W.dims.length !== 2) return -1;
  return p && is(p, 'Gemm') && Number(p.attributes.get('transB')?.value ?? 0) === 1 ? W.dims[0] : W.dims[1];
}

/** Every internal value is read only by the cell's nodes (and is no graph output). */
function onlyInside(nodes: Node[], internal: string[], ctx: GraphIndex): boolean {
  const inside = new Set(nodes);
  return internal.every((v) => !ctx.outputs.has(v) && (ctx.consumers.get(v) ?? []).every((c) => inside.has(c)));
}

/**
 * An nn.RNNCell (`aten::rnn_tanh_cell` / `rnn_relu_cell`, RNN.cpp's SimpleCell:
 * `act(linear(h, W_hh, b_hh) + linear(x, W_ih, b_ih))`) at its activation `act`. The pattern is
 * too common to trust alone (`tanh(W₁a + W₂b)` is also e.g. additive attention), so it is
 * recovered only when the node metadata says the activation came from an nn.RNNCell.
 */
export function matchRnnCell(act: Node, ctx: GraphIndex): DecomposedCell | string {
  const add = ctx.producer.get(act.inputs[0]);
  if (!op(add, 'Add')) return 'the activation does not read the sum of two linear maps';
  if (add.inputs.some((v) => ctx.constant(v)?.dims.length === 2)) return 'the recurrent product is a constant (the exporter folded it: zero state, small weights), so weight_hh is not in the graph';
  const lin = add.inputs.map((v) => linear(v, gh(v, ctx), ctx));
  if (!lin[0] || !lin[1]) return 'the activation does not read the sum of two linear maps of x and h (Gemm, or MatMul [+ Add])';
  const H = lin[0].w.dims[0];
  if (lin[1].w.dims[0] !== H) return 'the two linear maps have different widths';
  const kh = [0, 1].filter((k) => lin[k]!.w.dims[1] === H);
  if (kh.length === 0) return `neither linear map reads a state of hidden_size ${H}`;
  const lh = lin[kh[0]]!, lx = lin[1 - kh[0]]!;
  const nodes = [act, add, ...lh.nodes, ...lx.nodes];
  if (!onlyInside(nodes, [add.outputs[0], ...add.inputs], ctx)) return 'a value inside the cell is also read outside it';
  const hs = stateOf(lh.a, lx.a, H, ctx);
  if (hs === undefined) return `the zero state constant is not [N, ${H}] or [1, ${H}]`;
  return {
    mode: 'RNN', nonlinearity: act.opType === 'Relu' ? 'relu' : 'tanh', x: lx.a, h: hs, c: '', hy: act.outputs[0], cy: '',
    weightIh: lx.w, weightHh: lh.w, ...biases(lx, lh, H), sources: [...lx.sources, ...lh.sources], nodes,
  };
}
