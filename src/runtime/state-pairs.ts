import { RnnxError } from '../ir/errors.js';
import type { Dim, Graph, Node, ValueInfo } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/** One recurrent state carried between calls: the graph input fed and the graph output that replaces it. */
export interface StatePair {
  readonly input: string;
  readonly output: string;
  /** 'graph': both reach the same recurrent node's state; 'name': by naming convention; 'given': options.state. */
  readonly how: 'graph' | 'name' | 'given';
  /** The state's batch axis when the graph establishes it (recurrent node's batch axis traced back, or the one symbolic dim). */
  readonly batchAxis?: number;
  /** Human-readable evidence, e.g. `LSTM /rnn/LSTM initial_h/initial_c`. */
  readonly detail: string;
}

export interface StateDetection {
  readonly pairs: readonly StatePair[];
  /** Inputs that reach a recurrent node's initial state but have no matching output. */
  readonly unpaired: readonly string[];
}

interface Site { readonly node: Node; readonly graph: Graph; readonly index: number }

/** Whole-model index over every graph and subgraph (ONNX value names are unique across scopes in practice). */
class ModelIndex {
  readonly producer = new Map<string, Site>();
  readonly consumers = new Map<string, Site[]>();
  readonly owner = new Map<Graph, Node>();
  readonly constants = new Map<string, Tensor>();
  readonly recurrent: Node[] = [];
  readonly outputOf = new Map<string, { graph: Graph; index: number }[]>();

  constructor(readonly top: Graph, folded: ReadonlyMap<string, Tensor>) {
    for (const [k, v] of folded) this.constants.set(k, v);
    this.visit(top);
  }

  private visit(g: Graph): void {
    for (const [k, v] of g.initializers) this.constants.set(k, v);
    g.outputs.forEach((o, index) => {
      const l = this.outputOf.get(o.name) ?? [];
      l.push({ graph: g, index });
      this.outputOf.set(o.name, l);
    });
    for (const node of g.nodes) {
      node.outputs.forEach((o, index) => o && this.producer.set(o, { node, graph: g, index }));
      node.inputs.forEach((i, index) => {
        if (!i) return;
        const l = this.consumers.get(i) ?? [];
        l.push({ node, graph: g, index });
        this.consumers.set(i, l);
      });
      if (node.opType === 'Constant' && node.domain === '') {
        const v = node.attributes.get('value');
        if (v?.type === 'tensor' && node.outputs[0]) this.constants.set(node.outputs[0], v.value);
      }
      if (((node.opType === 'LSTM' || node.opType === 'GRU' || node.opType === 'RNN') && (node.domain === '' || node.domain === 'ai.rnnx'))
        || ((node.opType === 'LSTMCell' || node.opType === 'GRUCell' || node.opType === 'RNNCell') && node.domain === 'ai.rnnx')) {
        this.recurrent.push(node);
      }
      for (const a of node.attributes.values()) {
        const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
        for (const s of subs) {
          this.owner.set(s, node);
          this.visit(s);
        }
      }
    }
  }

  ints(node: Node, attr: string, input: number): number[] | undefined {
    const a = node.attributes.get(attr);
    if (a?.type === 'ints') return [...a.value];
    const name = node.inputs[input];
    const t = name ? this.constants.get(name) : undefined;
    if (!t || (t.type !== 'int64' && t.type !== 'int32')) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, Number);
  }

  int(node: Node, attr: string, dflt: number): number {
    const a = node.attributes.get(attr);
    return a?.type === 'int' ? a.value : dflt;
  }
}

/** Where a recurrent node takes its initial states and gives its final ones, and the batch axis of a state. */
function stateSlots(n: Node, ix: ModelIndex): { kind: string; input: number; output: number; batchAxis: number }[] {
  if (n.domain === 'ai.rnnx' && n.opType.endsWith('Cell')) {
    // Cell (recovered nn.LSTMCell / nn.GRUCell / nn.RNNCell): x, h, c → h', c'; states [N, H].
    const s = [{ kind: 'h', input: 1, output: 0, batchAxis: 0 }];
    if (n.opType === 'LSTMCell') s.push({ kind: 'c', input: 2, output: 1, batchAxis: 0 });
    return s;
  }
  if (n.domain === 'ai.rnnx') {
    // Stack: x, h0, c0 → y, h_n, c_n; states [L·D, N, H].
    const s = [{ kind: 'h', input: 1, output: 1, batchAxis: 1 }];
    if (n.opType === 'LSTM') s.push({ kind: 'c', input: 2, output: 2, batchAxis: 1 });
    return s;
  }
  // ONNX: initial_h = input 5, initial_c = input 6 (LSTM); Y_h = output 1, Y_c = output 2.
  // layout 0: states [D, N, H]; layout 1: [N, D, H].
  const batchAxis = ix.int(n, 'layout', 0) === 1 ? 0 : 1;
  const s = [{ kind: 'h', input: 5, output: 1, batchAxis }];
  if (n.opType === 'LSTM') s.push({ kind: 'c', input: 6, output: 2, batchAxis });
  return s;
}

const PASS = new Set(['Identity', 'Cast', 'Squeeze', 'Unsqueeze', 'Slice', 'Gather', 'Concat', 'Split', 'Transpose', 'Reshape', 'If', 'ScatterND']);

/** The axis of an op's output that an axis of its data input becomes (undefined: lost or unknown). */
function forwardAxis(site: Site, ix: ModelIndex, a: number | undefined): number | undefined {
  if (a === undefined) return undefined;
  const n = site.node;
  switch (n.opType) {
    case 'Identity': case 'Cast': return a;
    case 'Squeeze': {
      const axes = ix.ints(n, 'axes', 1);
      if (!axes || axes.some((x) => x < 0)) return undefined;
      return axes.includes(a) ? undefined : a - axes.filter((x) => x < a).length;
    }
    case 'Unsqueeze': {
      const axes = ix.ints(n, 'axes', 1);
      if (!axes || axes.some((x) => x < 0)) return undefined;
      let out = a;
      for (const x of [...axes].sort((p, q) => p - q)) if (x <= out) out++;
      return out;
    }
    case 'Slice': case 'Split': {
      const axes = n.opType === 'Slice' ? ix.ints(n, 'axes', 3) : [ix.int(n, 'axis', 0)];
      if (!axes || axes.some((x) => x < 0)) return undefined;
      const k = axes.indexOf(a);
      return k < 0 || (n.opType === 'Slice' && fullSlice(n, ix, k)) ? a : undefined;
    }
    case 'ScatterND': return site.index === 0 ? a : undefined;
    case 'Gather': {
      const g = ix.int(n, 'axis', 0);
      const idx = ix.constants.get(n.inputs[1] ?? '');
      if (g < 0 || !idx || site.index !== 0 || a === g) return undefined;
      if (idx.dims.length === 0) return a > g ? a - 1 : a;
      return idx.dims.length === 1 ? a : undefined;
    }
    case 'Concat': {
      const k = ix.int(n, 'axis', 0);
      return k >= 0 && k !== a ? a : undefined;
    }
    case 'Transpose': {
      const perm = ix.ints(n, 'perm', -1);
      return perm ? perm.indexOf(a) : undefined;
    }
    default: return undefined;
  }
}

/** Whether a Slice keeps the whole of its k-th sliced axis (start 0, end past any size, step 1). */
function fullSlice(n: Node, ix: ModelIndex, k: number): boolean {
  const starts = ix.ints(n, 'starts', 1);
  const ends = ix.ints(n, 'ends', 2);
  const steps = n.inputs[4] ? ix.ints(n, '', 4) : [];
  return starts?.[k] === 0 && (ends?.[k] ?? 0) >= 2 ** 31 - 1 && (steps?.[k] ?? 1) === 1;
}

/** Inverse of forwardAxis: the data-input axis an output axis came from. */
function backwardAxis(site: Site, ix: ModelIndex, a: number | undefined): number | undefined {
  if (a === undefined) return undefined;
  const n = site.node;
  switch (n.opType) {
    case 'Identity': case 'Cast': return a;
    case 'Squeeze': {
      const axes = ix.ints(n, 'axes', 1);
      if (!axes || axes.some((x) => x < 0)) return undefined;
      let i = 0;
      for (let seen = 0; ; i++) {
        if (axes.includes(i)) continue;
        if (seen === a) return i;
        seen++;
      }
    }
    case 'Unsqueeze': {
      const axes = ix.ints(n, 'axes', 1);
      if (!axes || axes.some((x) => x < 0) || axes.includes(a)) return undefined;
      return a - axes.filter((x) => x < a).length;
    }
    case 'Slice': case 'Split': case 'Concat': case 'Gather': case 'Transpose': case 'ScatterND': {
      if (n.opType === 'Gather') {
        const g = ix.int(n, 'axis', 0);
        const idx = ix.constants.get(n.inputs[1] ?? '');
        if (g < 0 || !idx) return undefined;
        if (idx.dims.length === 0) return a >= g ? a + 1 : a;
        return idx.dims.length === 1 && a !== g ? a : undefined;
      }
      if (n.opType === 'Transpose') {
        const perm = ix.ints(n, 'perm', -1);
        return perm ? perm[a] : undefined;
      }
      return forwardAxis(site, ix, a);
    }
    default: return undefined;
  }
}

/** Data inputs a pass-through op moves (not shapes, indices or axes). */
function dataInputs(n: Node): number[] {
  if (n.opType === 'Concat') return n.inputs.map((_, i) => i);
  if (n.opType === 'ScatterND') return [0, 2];
  return [0];
}

/** Graph inputs (top level) a value comes from through data-moving ops, with the axis carried along. */
function traceBack(ix: ModelIndex, name: string, axis: number | undefined, inputs: ReadonlySet<string>, out: Map<string, (number | undefined)[]>, seen = new Set<string>()): void {
  if (seen.has(name)) return;
  seen.add(name);
  if (inputs.has(name)) {
    const l = out.get(name) ?? [];
    l.push(axis);
    out.set(name, l);
    return;
  }
  const p = ix.producer.get(name);
  if (!p || !PASS.has(p.node.opType) || p.node.domain !== '') return;
  if (p.node.opType === 'If') {
    for (const a of p.node.attributes.values()) {
      if (a.type === 'graph') {
        const o = a.value.outputs[p.index];
        if (o) traceBack(ix, o.name, axis, inputs, out, seen);
      }
    }
    return;
  }
  const ax = p.node.opType === 'Reshape' ? undefined : backwardAxis(p, ix, axis);
  for (const i of dataInputs(p.node)) {
    if (p.node.inputs[i]) traceBack(ix, p.node.inputs[i], p.node.opType === 'ScatterND' && i === 2 ? undefined : ax, inputs, out, seen);
  }
}

/** Graph outputs (top level) a value reaches through data-moving ops (and out of If branches). */
function traceForward(ix: ModelIndex, name: string, axis: number | undefined, outputs: ReadonlySet<string>, out: Map<string, (number | undefined)[]>, seen = new Set<string>()): void {
  if (seen.has(name)) return;
  seen.add(name);
  if (outputs.has(name)) {
    const l = out.get(name) ?? [];
    l.push(axis);
    out.set(name, l);
  }
  for (const { graph, index } of ix.outputOf.get(name) ?? []) {
    const owner = ix.owner.get(graph);
    if (owner?.opType === 'If' && owner.outputs[index]) traceForward(ix, owner.outputs[index], axis, outputs, out, seen);
  }
  for (const c of ix.consumers.get(name) ?? []) {
    const n = c.node;
    if (!PASS.has(n.opType) || n.opType === 'If' || n.domain !== '' || !dataInputs(n).includes(c.index)) continue;
    const ax = n.opType === 'Reshape' ? undefined : forwardAxis(c, ix, axis);
    for (const o of n.outputs) if (o) traceForward(ix, o, ax, outputs, out, seen);
  }
}

/** Values a name comes from through data-moving ops: where those ops stop (the computing producers). */
function anchors(ix: ModelIndex, name: string, out: Set<string>, seen = new Set<string>()): void {
  if (seen.has(name)) return;
  seen.add(name);
  const p = ix.producer.get(name);
  if (!p || !PASS.has(p.node.opType) || p.node.domain !== '' || p.node.opType === 'If') { out.add(name); return; }
  for (const i of dataInputs(p.node)) if (p.node.inputs[i]) anchors(ix, p.node.inputs[i], out, seen);
}

function producedBy(ix: ModelIndex, name: string, opType: string): Node | undefined {
  const p = ix.producer.get(name);
  return p && p.node.opType === opType && p.node.domain === '' ? p.node : undefined;
}

/**
 * Unrolled cells (LSTM/GRU written as MatMul, Sigmoid, Tanh, Mul, Add, as Keras/TF exports them):
 * an output that carries `Add(Mul(Sigmoid(·), S), …)` (c_t = f∘c + i∘g; GRU h_t = (1−z)∘n + z∘h),
 * possibly through `Mul(Sigmoid(·), Tanh(c_t))` (h_t = o∘tanh(c_t)), where S comes from a graph
 * input through data-moving ops: that input is the state the output replaces.
 */
function cellInputs(ix: ModelIndex, output: string, inputs: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  const starts = new Set<string>();
  anchors(ix, output, starts);
  for (let v of starts) {
    const m = producedBy(ix, v, 'Mul');
    if (m) {
      const t = m.inputs.find((i) => producedBy(ix, i, 'Tanh'));
      if (t && m.inputs.some((i) => producedBy(ix, i, 'Sigmoid'))) v = producedBy(ix, t, 'Tanh')!.inputs[0];
    }
    const add = producedBy(ix, v, 'Add');
    if (!add) continue;
    for (const term of add.inputs) {
      const mul = producedBy(ix, term, 'Mul');
      if (!mul || !mul.inputs.some((i) => producedBy(ix, i, 'Sigmoid'))) continue;
      for (const other of mul.inputs) {
        if (producedBy(ix, other, 'Sigmoid')) continue;
        const from = new Map<string, (number | undefined)[]>();
        traceBack(ix, other, undefined, inputs, from);
        for (const i of from.keys()) found.add(i);
      }
    }
  }
  return found;
}

/** The common value of a list, or undefined when they differ or any is unknown. */
function agreed(axes: readonly (number | undefined)[]): number | undefined {
  return axes.length > 0 && axes.every((a) => a !== undefined && a === axes[0]) ? axes[0] : undefined;
}

/** The one axis whose declared dim is not a number, when there is exactly one. */
export function symbolicAxis(shape: readonly Dim[] | undefined): number | undefined {
  if (!shape) return undefined;
  const sym = shape.flatMap((d, i) => (typeof d === 'number' ? [] : [i]));
  return sym.length === 1 ? sym[0] : undefined;
}

/** Same dtype and rank, and every dim both declare as a number equal. */
export function compatible(a: ValueInfo, b: ValueInfo): boolean {
  if (a.type !== b.type || (a.kind ?? 'tensor') !== 'tensor' || (b.kind ?? 'tensor') !== 'tensor') return false;
  if (!a.shape || !b.shape) return true;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => typeof d !== 'number' || typeof b.shape![i] !== 'number' || d === b.shape![i]);
}

/** Output names the usual conventions give a state input: h→hn, state→stateN, x_cache→x_cache_out, h0→h1, in_states→out_states, … */
export function conventionalOutputs(input: string): string[] {
  const c = [
    `${input}n`, `${input}N`, `${input}_n`, `${input}_out`, `${input}out`, `${input}_new`, `new_${input}`, `${input}_next`, `next_${input}`,
  ];
  if (/_in$/i.test(input)) c.push(input.replace(/_in$/i, '_out'));
  if (/^in_/i.test(input)) c.push(input.replace(/^in_/i, 'out_'));
  if (/^input_/i.test(input)) c.push(input.replace(/^input_/i, 'output_'));
  if (/0$/.test(input)) c.push(input.replace(/0$/, '1'), input.replace(/0$/, 'n'), input.replace(/0$/, '_n'));
  if (/^past/i.test(input)) c.push(input.replace(/^past/i, 'present'));
  if (/_prev$/i.test(input)) c.push(input.replace(/_prev$/i, ''), input.replace(/_prev$/i, '_next'));
  if (/in$/i.test(input) && !/_in$/i.test(input)) c.push(input.replace(/in$/i, 'out'));
  return c;
}

/**
 * Finds the state pairs of a model: first from the graph (an input that reaches a recurrent node's
 * initial_h/initial_c, possibly inside an If branch, paired with the output its Y_h/Y_c reach),
 * then, for the other inputs, by name convention among inputs and outputs of compatible dtype and shape.
 */
export function detectStatePairs(graph: Graph, constants: ReadonlyMap<string, Tensor> = new Map()): StateDetection {
  const ix = new ModelIndex(graph, constants);
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  const info = new Map<string, ValueInfo>([...graph.inputs, ...graph.outputs].map((v) => [v.name, v]));
  const slotsIn = new Map<string, Set<string>>();
  const slotsOut = new Map<string, Set<string>>();
  const axesIn = new Map<string, (number | undefined)[]>();
  const axesOut = new Map<string, (number | undefined)[]>();
  const label = new Map<string, string>();
  ix.recurrent.forEach((n, k) => {
    for (const s of stateSlots(n, ix)) {
      const key = `${k}:${s.kind}`;
      label.set(key, `${n.domain === 'ai.rnnx' ? 'ai.rnnx.' : ''}${n.opType} ${n.name || '<unnamed>'} ${s.kind === 'h' ? 'h' : 'c'}`);
      const from = new Map<string, (number | undefined)[]>();
      if (n.inputs[s.input]) traceBack(ix, n.inputs[s.input], s.batchAxis, inputNames, from);
      for (const [i, axes] of from) {
        (slotsIn.get(i) ?? slotsIn.set(i, new Set()).get(i)!).add(key);
        (axesIn.get(i) ?? axesIn.set(i, []).get(i)!).push(...axes);
      }
      const to = new Map<string, (number | undefined)[]>();
      if (n.outputs[s.output]) traceForward(ix, n.outputs[s.output], s.batchAxis, outputNames, to);
      for (const [o, axes] of to) {
        (slotsOut.get(o) ?? slotsOut.set(o, new Set()).get(o)!).add(key);
        (axesOut.get(o) ?? axesOut.set(o, []).get(o)!).push(...axes);
      }
    }
  });
  const pairs: StatePair[] = [];
  const unpaired: string[] = [];
  const usedOut = new Set<string>();
  for (const [input, slots] of slotsIn) {
    let best: string[] = [];
    let bestN = 0;
    for (const [output, os] of slotsOut) {
      if (usedOut.has(output) || !compatible(info.get(input)!, info.get(output)!)) continue;
      const n = [...slots].filter((s) => os.has(s)).length;
      if (n > bestN) { best = [output]; bestN = n; } else if (n === bestN && n > 0) best.push(output);
    }
    if (best.length > 1) {
      throw new RnnxError(`State input '${input}' reaches the same recurrent states as outputs ${best.map((b) => `'${b}'`).join(', ')}: pass options.state to choose`);
    }
    if (best.length === 0) { unpaired.push(input); continue; }
    const output = best[0];
    usedOut.add(output);
    const shared = [...slots].filter((s) => slotsOut.get(output)!.has(s));
    const batchAxis = agreed(axesIn.get(input)!) ?? symbolicAxis(info.get(input)!.shape);
    pairs.push({ input, output, how: 'graph', batchAxis, detail: shared.map((s) => label.get(s)).join(', ') });
  }
  const paired = () => new Set(pairs.map((p) => p.input));
  for (const o of graph.outputs) {
    if (usedOut.has(o.name)) continue;
    const from = [...cellInputs(ix, o.name, inputNames)].filter((i) => !paired().has(i) && compatible(info.get(i)!, o));
    if (from.length !== 1) continue;
    usedOut.add(o.name);
    unpaired.splice(unpaired.indexOf(from[0]) >>> 0, unpaired.includes(from[0]) ? 1 : 0);
    pairs.push({ input: from[0], output: o.name, how: 'graph', batchAxis: symbolicAxis(info.get(from[0])!.shape), detail: 'unrolled recurrent cell (Add(Mul(Sigmoid, state), …))' });
  }
  for (const inp of graph.inputs) {
    if (paired().has(inp.name)) continue;
    for (const cand of conventionalOutputs(inp.name)) {
      const out = info.get(cand);
      if (!outputNames.has(cand) || usedOut.has(cand) || !out || !compatible(inp, out)) continue;
      usedOut.add(cand);
      if (unpaired.includes(inp.name)) unpaired.splice(unpaired.indexOf(inp.name), 1);
      const axes = axesIn.get(inp.name);
      pairs.push({ input: inp.name, output: cand, how: 'name', batchAxis: (axes && agreed(axes)) ?? symbolicAxis(inp.shape), detail: slotsIn.has(inp.name)
        ? `reaches ${[...slotsIn.get(inp.name)!].map((k) => label.get(k)).join(', ')}; output by naming convention`
        : 'naming convention, same dtype and shape' });
      break;
    }
  }
  // Keep the model's input order.
  const order = new Map(graph.inputs.map((v, i) => [v.name, i]));
  pairs.sort((a, b) => order.get(a.input)! - order.get(b.input)!);
  return { pairs, unpaired };
}

/** Input/output pairs of compatible dtype and shape: the candidates an error lists when nothing pairs. */
export function stateCandidates(graph: Graph): string[] {
  const out: string[] = [];
  for (const i of graph.inputs) for (const o of graph.outputs) if (compatible(i, o) && i.shape && o.shape) out.push(`${i.name}→${o.name}`);
  return out;
}
