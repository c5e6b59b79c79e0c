// LSTM / GRU / RNN nodes of a float64 model rewritten as a Loop over primitive ops (MatMul,
// Sigmoid, Tanh, ...), straight from the ONNX operator definitions. onnxruntime has no float64
// GRU or RNN kernel, and its float32 ones use fast sigmoid/tanh approximations; the expanded graph
// lets it compute the same recurrence in float64 with exact elementwise functions, as an
// independent second opinion for the differential fuzzer. Only the forms the fuzzed fixtures use
// are expanded (no sequence_lens, clip or input_forget; activations without parameters; opset
// >= 9); any other recurrent node is left as it is, and the second opinion then fails.
import { onnx, toNum, type OnnxNs } from '../import/proto.js';

const A = onnx.AttributeProto.AttributeType;
const T = onnx.TensorProto.DataType;
const GATES: Record<string, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const DEFAULT_ACTS: Record<string, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };
/** Recurrent activations that are also ONNX ops without parameters. */
const PLAIN_ACTS = new Map(['Sigmoid', 'Tanh', 'Relu', 'Softsign', 'Softplus'].map((n) => [n.toLowerCase(), n]));

type Attr = OnnxNs.IAttributeProto;
const attrOf = (n: OnnxNs.INodeProto, name: string): Attr | undefined => (n.attribute ?? []).find((a) => a.name === name);
const text = (a: Attr | undefined): string | undefined => (a?.s ? new TextDecoder().decode(a.s) : undefined);

class Builder {
  readonly nodes: OnnxNs.INodeProto[] = [];
  constructor(private readonly prefix: string, private readonly consts: OnnxNs.ITensorProto[], readonly opset: number, private counter = { n: 0 }) {}
  fresh(): string {
    return `${this.prefix}${this.counter.n++}`;
  }
  op(opType: string, inputs: string[], attrs: Attr[] = [], nOut = 1): string[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh());
    this.nodes.push({ opType, input: inputs, output: outputs, attribute: attrs, name: outputs[0] });
    return outputs;
  }
  one(opType: string, inputs: string[], attrs: Attr[] = []): string {
    return this.op(opType, inputs, attrs)[0];
  }
  ints(values: number[], scalar = false): string {
    const name = this.fresh();
    this.consts.push({ name, dataType: T.INT64, dims: scalar ? [] : [values.length], int64Data: values });
    return name;
  }
  double(value: number): string {
    const name = this.fresh();
    this.consts.push({ name, dataType: T.DOUBLE, dims: [], doubleData: [value] });
    return name;
  }
  /** A sub-builder for a Loop body: its constants still go to the outer graph (outer-scope reads). */
  body(): Builder {
    return new Builder(this.prefix, this.consts, this.opset, this.counter);
  }
  /** x[from:to] along `axis` (a Gather: the same in every opset, unlike Slice). */
  cols(x: string, from: number, to: number, axis: number): string {
    return this.one('Gather', [x, this.ints(Array.from({ length: to - from }, (_, i) => from + i))], [intAttr('axis', axis)]);
  }
  unsqueeze(x: string, axis: number): string {
    return this.opset >= 13 ? this.one('Unsqueeze', [x, this.ints([axis])]) : this.one('Unsqueeze', [x], [intsAttr('axes', [axis])]);
  }
}

const intAttr = (name: string, i: number): Attr => ({ name, type: A.INT, i });
const intsAttr = (name: string, ints: number[]): Attr => ({ name, type: A.INTS, ints });
const tensorInfo = (name: string, elemType: number, dims?: number[]): OnnxNs.IValueInfoProto => ({
  name, type: { tensorType: { elemType, ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } },
});

/** Expands one recurrent node, or returns undefined if its form is not covered. */
function expandNode(n: OnnxNs.INodeProto, b: Builder): OnnxNs.INodeProto[] | undefined {
  const mode = n.opType ?? '';
  const G = GATES[mode];
  const inputs = n.input ?? [];
  const H = toNum(attrOf(n, 'hidden_size')?.i as never);
  if (!G || n.domain || !(H > 0) || inputs.length < 3) return undefined;
  if (inputs[4] || attrOf(n, 'clip') || toNum(attrOf(n, 'input_forget')?.i as never) !== 0) return undefined;
  const direction = text(attrOf(n, 'direction')) ?? 'forward';
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) return undefined;
  const D = direction === 'bidirectional' ? 2 : 1;
  const names = (attrOf(n, 'activations')?.strings ?? []).map((s) => new TextDecoder().decode(s));
  const perDir = DEFAULT_ACTS[mode].length;
  if (names.length && names.length !== perDir * D) return undefined;
  const acts = names.length ? names.map((s) => PLAIN_ACTS.get(s.toLowerCase())) : [...DEFAULT_ACTS[mode], ...DEFAULT_ACTS[mode]];
  if (acts.some((a) => !a) || attrOf(n, 'activation_alpha') || attrOf(n, 'activation_beta')) return undefined;
  const layout = toNum(attrOf(n, 'layout')?.i as never);
  const lbr = toNum(attrOf(n, 'linear_before_reset')?.i as never) !== 0;

  const start = b.nodes.length;
  const X = layout ? b.one('Transpose', [inputs[0]], [intsAttr('perm', [1, 0, 2])]) : inputs[0];
  const state = (i: number) => (inputs[i] ? (layout ? b.one('Transpose', [inputs[i]], [intsAttr('perm', [1, 0, 2])]) : inputs[i]) : undefined);
  const h0 = state(5), c0 = mode === 'LSTM' ? state(6) : undefined;
  const shape = b.one('Shape', [X]);
  const steps = b.one('Gather', [shape, b.ints([0], true)]);
  const last = b.one('Sub', [steps, b.ints([1], true)]);
  const zeros = () => b.one('ConstantOfShape', [b.one('Concat', [b.one('Gather', [shape, b.ints([1])]), b.ints([H])], [intAttr('axis', 0)])],
    [{ name: 'value', type: A.TENSOR, t: { dataType: T.DOUBLE, dims: [1], doubleData: [0] } }]);
  const GH = G * H;
  const ys: string[] = [], hs: string[] = [], cs: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = direction === 'reverse' || d === 1;
    const [f, g, h] = acts.slice(d * perDir, (d + 1) * perDir) as string[];
    const dir = (v: string) => b.one('Gather', [v, b.ints([d], true)], [intAttr('axis', 0)]);
    const WT = b.one('Transpose', [dir(inputs[1])]); // [I, GH]
    const RT = b.one('Transpose', [dir(inputs[2])]); // [H, GH]
    let Wb: string | undefined, Rb: string | undefined;
    if (inputs[3]) {
      const Bd = dir(inputs[3]);
      Wb = b.cols(Bd, 0, GH, 0);
      Rb = b.cols(Bd, GH, 2 * GH, 0);
    }
    let XW = b.one('MatMul', [X, WT]); // [T, N, GH]
    if (Wb) XW = b.one('Add', [XW, Wb]);
    const P = mode === 'LSTM' && inputs[7] ? dir(inputs[7]) : undefined;
    const hInit = h0 ? dir(h0) : zeros();
    const cInit = mode === 'LSTM' ? (c0 ? dir(c0) : zeros()) : undefined;

    const body = b.body();
    const iter = body.fresh(), condIn = body.fresh(), hIn = body.fresh(), cIn = body.fresh();
    const t = reverse ? body.one('Sub', [last, iter]) : iter;
    const xw = body.one('Gather', [XW, t], [intAttr('axis', 0)]); // [N, GH]
    let hr = body.one('MatMul', [hIn, RT]);
    if (Rb) hr = body.one('Add', [hr, Rb]);
    const gate = (k: number, src: string) => body.cols(src, k * H, (k + 1) * H, 1);
    const pre = (k: number) => body.one('Add', [gate(k, xw), gate(k, hr)]);
    let hOut: string, cOut: string | undefined;
    if (mode === 'RNN') hOut = body.one(f, [pre(0)]);
    else if (mode === 'GRU') {
      const z = body.one(f, [pre(0)]), r = body.one(f, [pre(1)]);
      let hh: string;
      if (lbr) hh = body.one('Mul', [r, gate(2, hr)]);
      else {
        hh = body.one('MatMul', [body.one('Mul', [r, hIn]), body.cols(RT, 2 * H, 3 * H, 1)]);
        if (Rb) hh = body.one('Add', [hh, body.cols(Rb, 2 * H, 3 * H, 0)]);
      }
      const nn = body.one(g, [body.one('Add', [gate(2, xw), hh])]);
      hOut = body.one('Add', [body.one('Mul', [body.one('Sub', [b.double(1), z]), nn]), body.one('Mul', [z, hIn])]); // (1−z)·n + z·h
    } else {
      const peep = (k: number, c: string, v: string) => (P ? body.one('Add', [v, body.one('Mul', [body.cols(P, k * H, (k + 1) * H, 0), c])]) : v);
      const i = body.one(f, [peep(0, cIn, pre(0))]); // gates i, o, f, c; peepholes i, o, f
      const fg = body.one(f, [peep(2, cIn, pre(2))]);
      const cc = body.one(g, [pre(3)]);
      cOut = body.one('Add', [body.one('Mul', [fg, cIn]), body.one('Mul', [i, cc])]);
      const o = body.one(f, [peep(1, cOut, pre(1))]);
      hOut = body.one('Mul', [o, body.one(h, [cOut])]);
    }
    const condOut = body.one('Identity', [condIn]);
    const scan = body.one('Identity', [hOut]);
    const scanT = reverse ? body.one('Identity', [t]) : undefined; // the step each iteration computed
    const bodyGraph: OnnxNs.IGraphProto = {
      name: body.fresh(), node: body.nodes,
      input: [tensorInfo(iter, T.INT64, []), tensorInfo(condIn, T.BOOL, []), tensorInfo(hIn, T.DOUBLE), ...(cOut ? [tensorInfo(cIn, T.DOUBLE)] : [])],
      output: [tensorInfo(condOut, T.BOOL, []), tensorInfo(hOut, T.DOUBLE), ...(cOut ? [tensorInfo(cOut, T.DOUBLE)] : []), tensorInfo(scan, T.DOUBLE),
        ...(scanT ? [tensorInfo(scanT, T.INT64, [])] : [])],
    };
    const outs = b.op('Loop', [steps, '', hInit, ...(cInit ? [cInit] : [])], [{ name: 'body', type: A.GRAPH, g: bodyGraph }], (cInit ? 3 : 2) + (scanT ? 1 : 0));
    let Y = outs[cInit ? 2 : 1];
    if (reverse) Y = b.one('Gather', [Y, outs[outs.length - 1]], [intAttr('axis', 0)]); // step k's h sits at T−1−k
    ys.push(b.unsqueeze(Y, 1));
    hs.push(b.unsqueeze(outs[0], 0));
    if (cInit) cs.push(b.unsqueeze(outs[1], 0));
  }
  const outputs = n.output ?? [];
  const finish = (parts: string[], axis: number, perm: number[], name: string | undefined) => {
    if (!name) return;
    const cat = b.one('Concat', parts, [intAttr('axis', axis)]);
    b.nodes.push(layout ? { opType: 'Transpose', input: [cat], output: [name], attribute: [intsAttr('perm', perm)] } : { opType: 'Identity', input: [cat], output: [name] });
  };
  finish(ys, 1, [2, 0, 1, 3], outputs[0]);
  finish(hs, 0, [1, 0, 2], outputs[1]);
  if (mode === 'LSTM') finish(cs, 0, [1, 0, 2], outputs[2]);
  return b.nodes.splice(start);
}

/**
 * Rewrites the recurrent nodes of a float64 model's main graph in place; returns how many were
 * expanded and how many were left (a form not covered).
 */
export function expandRecurrent(m: OnnxNs.IModelProto): { expanded: number; left: number } {
  const opset = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const g = m.graph!;
  let expanded = 0, left = 0;
  const consts: OnnxNs.ITensorProto[] = [];
  const nodes: OnnxNs.INodeProto[] = [];
  for (const [k, n] of (g.node ?? []).entries()) {
    if (!GATES[n.opType ?? ''] || n.domain) { nodes.push(n); continue; }
    const version = toNum(opset?.version as never);
    const out = version >= 9 ? expandNode(n, new Builder(`__rnnx_expand_${k}_`, consts, version)) : undefined;
    if (out) { nodes.push(...out); expanded++; } else { nodes.push(n); left++; }
  }
  g.node = nodes;
  g.initializer = [...(g.initializer ?? []), ...consts];
  // before IR version 4 every initializer must also be a graph input
  if (toNum(m.irVersion as never) < 4) g.input = [...(g.input ?? []), ...consts.map((c) => tensorInfo(c.name!, c.dataType!, (c.dims ?? []).map((d) => toNum(d as never))))];
  return { expanded, left };
}
