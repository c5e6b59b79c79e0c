import type { Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { GraphIndex } from './graph-index.js';

/**
 * A one-layer nn.RNN as PyTorch's decomposition unrolls it (what torch.onnx.export(dynamo=True)
 * writes, torch_lib having no rnn_tanh/rnn_relu):
 *
 *   P   = MatMul(x, W_ihᵀ) [+ b_ih]                        x [T, N, I] (static T)
 *   h_t = act(MatMul(h_{t-1}, W_hhᵀ) [+ b_hh] + Squeeze(Slice(P, t, t+1, axis 0), 0))   [1, N, H]
 *   y   = Concat(h_1 … h_T, axis 0)      h_n = Unsqueeze(Squeeze(h_T, 0), 0)
 *
 * h_0 is a zero constant or Slice(h0, 0, 1, axis 0). Every step must read the same weights.
 */
export interface UnrolledRnn {
  nonlinearity: 'tanh' | 'relu';
  x: string;
  h0: string; // '' for zeros
  y: string;
  hn: string;
  /** PyTorch layout: weight_ih [H, I], weight_hh [H, H], bias_ih, bias_hh [H] (biases may be absent). */
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh?: Tensor;
  biasHh?: Tensor;
  /** Names of the source constants (for PyTorch names). */
  sources: string[];
  nodes: Node[];
  /** Where the stack node goes: the earliest of the nodes producing its outputs. */
  anchor: Node;
  act: Node;
}

const op = (n: Node | undefined, t: string): n is Node => !!n && n.opType === t && !n.domain;
const transposed = (t: Tensor): Tensor => {
  const [r, c] = t.dims, src = t.data as Float32Array, out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return new Tensor(t.type, out, [c, r]);
};

/** `MatMul(a, C) [+ b]` with constant C [K, H] and constant b [H]: a, C, b and the nodes. */
function linear(v: string, ctx: GraphIndex): { a: string; w: string; b?: string; nodes: Node[] } | undefined {
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

/** The declared static size of axis 1 of `v` (the batch of a [T, N, I] input), if known. */
function batchOf(v: string, ctx: GraphIndex): number | undefined {
  const init = ctx.constant(v);
  if (init) return init.dims.length === 3 ? init.dims[1] : undefined;
  const info = ctx.g.inputs.find((i) => i.name === v) ?? ctx.g.valueInfo.get(v);
  const d = info?.shape?.length === 3 ? info.shape[1] : undefined;
  return typeof d === 'number' ? d : undefined;
}

export function matchUnrolledRnn(cat: Node, ctx: GraphIndex): UnrolledRnn | undefined {
  if (!op(cat, 'Concat') || cat.attributes.get('axis')?.value !== 0 || cat.inputs.length === 0) return undefined;
  const T = cat.inputs.length;
  const nodes: Node[] = [cat];
  let act: string | undefined, P: string | undefined, whh: string | undefined, bhh: string | undefined;
  let hPrev: string | undefined;
  for (let t = T - 1; t >= 0; t--) {
    const a = ctx.producer.get(cat.inputs[t]);
    if (!a || a.domain || (a.opType !== 'Tanh' && a.opType !== 'Relu') || (act && a.opType !== act)) return undefined;
    act = a.opType;
    const add = ctx.producer.get(a.inputs[0]);
    if (!op(add, 'Add')) return undefined;
    // one operand is the step's slice of P, the other the recurrent linear
    let step: Node[] | undefined, rec: ReturnType<typeof linear>;
    for (const [sv, rv] of [[add.inputs[0], add.inputs[1]], [add.inputs[1], add.inputs[0]]]) {
      const sq = ctx.producer.get(sv);
      const sl = sq && op(sq, 'Squeeze') ? ctx.producer.get(sq.inputs[0]) : undefined;
      if (!sq || !op(sl, 'Slice') || ctx.ints(sq.inputs[1] ?? '')?.join() !== '0') continue;
      if (ctx.ints(sl.inputs[1])?.join() !== `${t}` || ctx.ints(sl.inputs[2])?.join() !== `${t + 1}` || ctx.ints(sl.inputs[3] ?? '')?.join() !== '0' || (sl.inputs[4] && ctx.ints(sl.inputs[4])?.join() !== '1')) continue;
      if (P !== undefined && sl.inputs[0] !== P) continue;
      const r = linear(rv, ctx);
      if (!r) continue;
      P = sl.inputs[0];
      step = [sq, sl];
      rec = r;
      break;
    }
    if (!step || !rec) return undefined;
    if ((whh !== undefined && rec.w !== whh) || (t < T - 1 && rec.b !== bhh)) return undefined;
    whh = rec.w;
    bhh = rec.b;
    // the previous state is the previous step's output (t > 0)
    if (t > 0 && rec.a !== cat.inputs[t - 1]) return undefined;
    if (t === 0) hPrev = rec.a;
    nodes.push(a, add, ...step, ...rec.nodes);
  }
  const pre = linear(P!, ctx);
  if (!pre) return undefined;
  nodes.push(...pre.nodes);
  const x = pre.a;
  if (ctx.rows(x) !== T) return undefined; // the unrolled length is the model's static T
  const Wih = transposed(ctx.constant(pre.w)!), Whh = transposed(ctx.constant(whh!)!);
  const H = Whh.dims[0];
  if (Whh.dims[1] !== H || Wih.dims[0] !== H || !!pre.b !== !!bhh) return undefined;
  const bih = pre.b ? ctx.constant(pre.b) : undefined, bhhT = bhh ? ctx.constant(bhh) : undefined;
  if ((bih && bih.dims[0] !== H) || (bhhT && bhhT.dims[0] !== H)) return undefined;
  // initial state: zeros, or Slice(h0, 0, 1, axis 0) of a [1, N, H] state
  let h0 = '';
  const c = ctx.constant(hPrev!);
  if (c) {
    if (!(c.data as Float32Array).every((q) => q === 0)) return undefined;
    // The zero state broadcasts against each step's [N, H]: the RNN's own zero state is [1, N, H]
    // only if the constant is [1, 1, H] or [1, N, H] with N the input's static batch size.
    const n = batchOf(x, ctx);
    if (c.dims.length !== 3 || c.dims[0] !== 1 || c.dims[2] !== H || (c.dims[1] !== 1 && c.dims[1] !== n)) return undefined;
  } else {
    const s = ctx.producer.get(hPrev!);
    if (op(s, 'Slice') && ctx.ints(s.inputs[1])?.join() === '0' && ctx.ints(s.inputs[2])?.join() === '1' && ctx.ints(s.inputs[3] ?? '')?.join() === '0' && ctx.rows(s.inputs[0]) === 1) {
      nodes.push(s);
      h0 = s.inputs[0];
    } else if (ctx.rows(hPrev!) === 1) h0 = hPrev!;
    else return undefined;
  }
  // h_n: Unsqueeze(Squeeze(h_T, 0), 0), if anything reads the last state apart from the Concat
  let hn = '';
  let anchor = cat;
  const last = cat.inputs[T - 1];
  const readers = (ctx.consumers.get(last) ?? []).filter((n) => n !== cat);
  if (readers.length > 1 || ctx.outputs.has(last)) return undefined;
  if (readers.length === 1) {
    const sq = readers[0], un = ctx.sole(sq.outputs[0]);
    if (!op(sq, 'Squeeze') || ctx.ints(sq.inputs[1] ?? '')?.join() !== '0' || !op(un, 'Unsqueeze') || ctx.ints(un.inputs[1] ?? '')?.join() !== '0') return undefined;
    nodes.push(sq, un);
    hn = un.outputs[0];
    const order = ctx.g.nodes;
    if (order.indexOf(un) < order.indexOf(cat)) anchor = un;
  }
  const sources = [pre.w, whh!, pre.b ?? '', bhh ?? ''].flatMap((v) => ctx.sources(v));
  return {
    nonlinearity: act === 'Relu' ? 'relu' : 'tanh', x, h0, y: cat.outputs[0], hn,
    weightIh: Wih, weightHh: Whh, biasIh: bih, biasHh: bhhT, sources, nodes, anchor, act: ctx.producer.get(cat.inputs[0])!,
  };
}
