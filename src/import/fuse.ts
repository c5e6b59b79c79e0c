import type { Attribute, Graph, Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { readsOf, subgraphsOf } from '../ir/graph.js';
import { GraphIndex } from './graph-index.js';
import { matchChain, matchUnrolledRnn, type Chain } from './unrolled-rnn.js';
import { cellCandidate, matchGruCell, matchLstmCell, matchRnnCell } from './decomposed-cell.js';
import { cellParamNames } from '../ops/rec/cell.js';
import { GATES, modulePrefix, paramsFromOnnx, type RecMode } from '../ops/rec/layer.js';
import { RNNX_DOMAIN } from '../ops/registry.js';
import { stackParamNames } from '../ops/rec/stack.js';
import { isRightInverse, unfoldProjection } from '../ops/rec/projection.js';

/**
 * Recovers whole PyTorch recurrent modules from what PyTorch's exporters write for them: one
 * LSTM/GRU/RNN node per layer, per-layer `Slice` of h0/c0 (or of a zero state), `Squeeze` or
 * `Transpose`+`Reshape` between layers, the `Transpose` pair of batch_first, `Concat` of h_n/c_n.
 * Both the TorchScript exporter's form and the dynamo exporter's (torch_lib) form: the weights may
 * be initializers or constant expressions over them (the gate reorder as Slice/Concat/Unsqueeze,
 * evaluated here, so the permutation is seen in the values), and the Reshape target may be a
 * shape computation. Each match becomes one ai.rnnx stack node holding the parameters under
 * PyTorch's names (from the parameter-named initializers, else the nodes' module-path metadata,
 * else the node name). Structure, not names, decides what fuses; anything only partly present
 * stays unfused and says why (`rnnx.not_fused` node metadata, shown by `inspect`). Subgraphs
 * (If/Loop/Scan bodies) are searched too.
 */
export function fuseRecurrent(model: Model): Model {
  const state = { stacks: 0 };
  const graph = fuseGraph(model.graph, model.opsets, undefined, state);
  if (graph === model.graph) return model;
  const opsets = new Map(model.opsets);
  if (state.stacks > 0) opsets.set(RNNX_DOMAIN, 1);
  return { ...model, opsets, graph };
}

/** Why layers cannot be fused: an opset before 7 (LSTM-1), or weights not all float32 or all float64. */
function unfusable(layers: readonly Node[], ctx: GraphIndex, opset: number): string | undefined {
  if (opset < 7) return `opset ${opset} recurrent nodes are not fused`;
  for (const l of layers) {
    const types = [1, 2, 3].filter((i) => l.inputs[i]).map((i) => ctx.constant(l.inputs[i])?.type);
    if (types.some((t) => t !== types[0]) || (types[0] !== 'float32' && types[0] !== 'float64')) return `weights of types ${types.join(', ')}: not all float32 or all float64`;
  }
  return undefined;
}

/** Metadata keys rnnx sets on the nodes it recovers or leaves. */
export const FUSED_FROM = 'rnnx.fused_from';
export const MODULE_PATH = 'rnnx.module_path';
export const NAMES_FROM = 'rnnx.names_from';
export const NOT_FUSED = 'rnnx.not_fused';

function fuseGraph(g0: Graph, opsets: ReadonlyMap<string, number>, parent: GraphIndex | undefined, state: { stacks: number }): Graph {
  // Subgraphs first: they read this graph's constants through `outer`.
  const outer = new GraphIndex(g0, opsets, parent);
  let changedSub = false;
  const withSubs = g0.nodes.map((n) => {
    if (subgraphsOf(n).length === 0) return n;
    const attributes = new Map(n.attributes);
    for (const [k, a] of n.attributes) {
      if (a.type === 'graph') {
        const f = fuseGraph(a.value, opsets, outer, state);
        if (f !== a.value) attributes.set(k, { type: 'graph', value: f });
      } else if (a.type === 'graphs') {
        const fs = a.value.map((sg) => fuseGraph(sg, opsets, outer, state));
        if (fs.some((f, i) => f !== a.value[i])) attributes.set(k, { type: 'graphs', value: fs });
      }
    }
    if ([...attributes].every(([k, a]) => a === n.attributes.get(k))) return n;
    changedSub = true;
    return { ...n, attributes };
  });
  const g: Graph = changedSub ? { ...g0, nodes: withSubs } : g0;
  const ctx = new GraphIndex(g, opsets, parent);
  const removed = new Set<Node>();
  const added: Node[] = [];
  const firsts: Node[] = [];
  const reasons = new Map<Node, string>();
  const inits = new Map(g.initializers);
  const usedPrefixes = new Set<string>();
  for (const node of g.nodes) {
    if (removed.has(node) || !isRec(node)) continue;
    ctx.reason = '';
    const m = matchStack(node, ctx);
    if (!m) { reasons.set(node, ctx.reason || 'not the pattern PyTorch exports'); continue; }
    // The fused path checks what the per-node path checks: left unfused, the node gets its own error.
    const refusal = unfusable(m.layers, ctx, opsets.get('') ?? 0);
    if (refusal) { reasons.set(node, refusal); continue; }
    for (const n of m.nodes) removed.add(n);
    const G = GATES[m.mode] * m.H;
    const tensors = m.layers.flatMap((l, k) => {
      const W = ctx.constant(l.inputs[1])!, R = ctx.constant(l.inputs[2])!;
      const B = l.inputs[3] ? ctx.constant(l.inputs[3]) : undefined;
      const params = paramsFromOnnx(m.mode, { W, R, B }, m.D, m.H, W.dims[2]);
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
    const bare = stackParamNames(m.layers.length, m.D === 2, m.bias, m.P > 0);
    const origin = moduleNames(m, node, bare, tensors, ctx);
    const prefix = uniquePrefix(origin.prefix, usedPrefixes, inits, origin.sources);
    const names = bare.map((n) => joinName(prefix, n));
    // A source initializer named like a parameter is replaced by the same values under the same name.
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
    const metadata = new Map([[FUSED_FROM, m.layers.map((l) => l.name || '(unnamed)').join(', ')], [NAMES_FROM, origin.from]]);
    if (origin.path !== undefined) metadata.set(MODULE_PATH, origin.path);
    firsts.push(m.layers[0]);
    added.push({
      name: prefix || m.mode.toLowerCase(), opType: m.mode, domain: RNNX_DOMAIN,
      inputs: [m.x, m.h0, m.mode === 'LSTM' ? m.c0 : '', ...names], outputs, attributes: attrs, metadata,
    });
    state.stacks++;
  }
  // PyTorch's decompositions (dynamo exports): nn.RNN unrolled, nn.LSTMCell / nn.GRUCell.
  // One module called several times (a cell in a loop traced step by step) reads the same
  // parameter initializers each time: every call gets the same names, so the state_dict has it once.
  const calls = new Map<string, { prefix: string; tensors: Tensor[]; count: number }>();
  const recover = (r: Recovered) => {
    // parameter-named initializers here or in an enclosing graph (a cell inside an If branch)
    const origin = originOf(r.bare, r.tensors, [...new Set(r.sources)], r.path, r.fallback, ctx);
    const key = `${r.opType}|${r.attributes.get('input_size')?.value}|${[...new Set(r.sources)].sort().join(',')}`;
    const prev = r.sources.length ? calls.get(key) : undefined;
    const again = prev && prev.tensors.every((t, i) => sameData(t, r.tensors[i]));
    const prefix = again ? prev!.prefix : uniquePrefix(origin.prefix, usedPrefixes, inits, origin.sources);
    if (again) prev!.count++;
    else if (r.sources.length) calls.set(key, { prefix, tensors: r.tensors, count: 1 });
    const names = r.bare.map((n) => joinName(prefix, n));
    // the source initializers already hold exactly these values under these names (maybe outside)
    names.forEach((n, i) => { if (!again && !origin.sources.includes(n)) inits.set(n, r.tensors[i]); });
    for (const n of r.nodes) removed.add(n);
    const metadata = new Map([[FUSED_FROM, r.from], [NAMES_FROM, origin.from]]);
    if (r.path !== undefined) metadata.set(MODULE_PATH, r.path);
    const order = new Map(g.nodes.map((n, i) => [n, i]));
    const anchor = r.nodes.filter((n) => n.outputs.some((o) => o && r.outputs.includes(o))).sort((p, q) => order.get(p)! - order.get(q)!)[0];
    firsts.push(anchor);
    added.push({ name: again ? `${prefix || r.fallback}:call${prev!.count}` : prefix || r.fallback, opType: r.opType, domain: RNNX_DOMAIN, inputs: [...r.inputs, ...names], outputs: r.outputs, metadata, attributes: r.attributes });
    state.stacks++;
  };
  const free = (nodes: Node[], outs: string[]) => !nodes.some((n) => removed.has(n))
    && onlyReadInside(nodes.flatMap((n) => n.outputs).filter((v) => v && !outs.includes(v)), nodes, ctx);
  // unrolled nn.RNN: every chain (one layer, one direction) first, then whole modules from layer 0
  const chains = new Map<string, Chain[]>();
  const chainOf = new Map<Node, Chain>();
  const layerOutputs = new Set<string>();
  for (const node of g.nodes) {
    if (removed.has(node) || !isConcatOfSteps(node, ctx)) continue;
    const c = matchChain(node, ctx);
    if (typeof c === 'string') { reasons.set(node, `unrolled nn.RNN: ${c}`); continue; }
    chains.set(c.input, [...(chains.get(c.input) ?? []), c]);
    chainOf.set(node, c);
    layerOutputs.add(c.out);
    const j = ctx.sole(c.out);
    if (j && j.opType === 'Concat' && !j.domain) layerOutputs.add(j.outputs[0]);
  }
  for (const [cat, c] of chainOf) {
    if (c.reverse || removed.has(cat) || layerOutputs.has(c.input)) continue;
    const u = matchUnrolledRnn(c, chains, ctx);
    if (typeof u === 'string') { reasons.set(cat, `unrolled nn.RNN: ${u}`); continue; }
    const outs = [u.y, u.hn].filter((v) => v);
    if (!free(u.nodes, outs)) { reasons.set(cat, 'unrolled nn.RNN: a value inside the pattern is also read outside it'); continue; }
    const D = u.bidirectional ? 2 : 1, H = u.params[0].weightHh.dims[0];
    const bare = stackParamNames(u.numLayers, u.bidirectional, u.bias, false);
    recover({
      opType: 'RNN', fallback: 'rnn', bare, path: torchModulePath(u.firstStep, 'RNN'), nodes: u.nodes,
      tensors: u.params.flatMap((p) => [p.weightIh, p.weightHh, ...(u.bias ? [p.biasIh!, p.biasHh!] : [])]),
      sources: u.params.flatMap((p) => p.sources), inputs: [u.x, u.h0, ''], outputs: [u.y, u.hn],
      from: `${u.firstStep.name || '(unnamed)'} … (${u.numLayers} layer${u.numLayers > 1 ? 's' : ''} × ${D} direction${D > 1 ? 's' : ''} × ${u.steps} unrolled steps, ${u.nodes.length} nodes)`,
      attributes: new Map<string, Attribute>([
        ['num_layers', { type: 'int', value: u.numLayers }], ['input_size', { type: 'int', value: u.params[0].weightIh.dims[1] }],
        ['hidden_size', { type: 'int', value: H }], ['bidirectional', { type: 'int', value: D - 1 }],
        ['batch_first', { type: 'int', value: u.batchFirst ? 1 : 0 }], ['bias', { type: 'int', value: u.bias ? 1 : 0 }],
        ['nonlinearity', { type: 'string', value: u.nonlinearity }],
      ]),
    });
  }
  // nn.LSTMCell / nn.GRUCell, from their gate Split; nn.RNNCell from its activation (metadata only)
  for (const node of g.nodes) {
    if (removed.has(node) || (node.opType !== 'Tanh' && node.opType !== 'Relu') || node.domain) continue;
    const path = torchModulePath(node, 'RNNCell');
    if (path === undefined) continue;
    const m = matchRnnCell(node, ctx);
    if (typeof m === 'string') { reasons.set(node, `decomposed nn.RNNCell: ${m}`); continue; }
    if (!free(m.nodes, [m.hy])) { reasons.set(node, 'decomposed nn.RNNCell: a value inside the pattern is also read outside it'); continue; }
    const bias = !!m.biasIh;
    const order = new Map(g.nodes.map((n, i) => [n, i]));
    recover({
      opType: 'RNNCell', fallback: 'cell', bare: cellParamNames(bias), path, nodes: m.nodes,
      tensors: [m.weightIh, m.weightHh, ...(bias ? [m.biasIh!, m.biasHh!] : [])], sources: m.sources, inputs: [m.x, m.h, ''], outputs: [m.hy],
      from: [...m.nodes].sort((p, q) => order.get(p)! - order.get(q)!).map((n) => n.name || '(unnamed)').join(', '),
      attributes: new Map<string, Attribute>([
        ['input_size', { type: 'int', value: m.weightIh.dims[1] }], ['hidden_size', { type: 'int', value: m.weightHh.dims[1] }],
        ['bias', { type: 'int', value: bias ? 1 : 0 }], ['nonlinearity', { type: 'string', value: m.nonlinearity! }],
      ]),
    });
  }
  for (const node of g.nodes) {
    if (removed.has(node) || node.opType !== 'Split' || node.domain) continue;
    const kind = cellCandidate(node, ctx);
    if (!kind) continue;
    const m = kind === 'LSTM' ? matchLstmCell(node, ctx) : matchGruCell(node, ctx);
    const mode = `${kind}Cell`;
    if (typeof m === 'string') {
      // a GRU cell's input Split is tried too: only the recurrent one (third part read by a Mul) reports
      if (kind === 'LSTM' || (ctx.consumers.get(node.outputs[2]) ?? []).some((q) => q.opType === 'Mul')) reasons.set(node, `decomposed nn.${mode}: ${m}`);
      else if (foldedRecurrentGates(node, ctx)) reasons.set(node, `decomposed nn.${mode}: the recurrent gates are constants (the exporter folded them: zero state, small weights), so weight_hh is not in the graph`);
      continue;
    }
    const outs = kind === 'LSTM' ? [m.hy, m.cy] : [m.hy];
    if (!free(m.nodes, outs)) { reasons.set(node, `decomposed nn.${mode}: a value inside the pattern is also read outside it`); continue; }
    const bias = !!m.biasIh;
    const order = new Map(g.nodes.map((n, i) => [n, i]));
    recover({
      opType: mode, fallback: 'cell', bare: cellParamNames(bias), path: torchModulePath(node, mode), nodes: m.nodes,
      tensors: [m.weightIh, m.weightHh, ...(bias ? [m.biasIh!, m.biasHh!] : [])], sources: m.sources,
      inputs: [m.x, m.h, m.c], outputs: outs,
      from: [...m.nodes].sort((p, q) => order.get(p)! - order.get(q)!).map((n) => n.name || '(unnamed)').join(', '),
      attributes: new Map<string, Attribute>([
        ['input_size', { type: 'int', value: m.weightIh.dims[1] }], ['hidden_size', { type: 'int', value: m.weightHh.dims[1] }],
        ['bias', { type: 'int', value: bias ? 1 : 0 }],
      ]),
    });
  }
  if (added.length === 0 && reasons.size === 0) return g;
  // Each stack takes its first layer's place: its inputs are ready there, and every reader of its
  // outputs (a subgraph's outer reads included, which ordering checks rely on) comes later.
  const at = new Map(added.map((s, i) => [firsts[i], s]));
  const nodes = g.nodes.flatMap((n) => (at.has(n) ? [at.get(n)!] : removed.has(n) ? [] : [n])).map((n) => {
    const why = reasons.get(n);
    return why && !removed.has(n) ? { ...n, metadata: new Map([...(n.metadata ?? []), [NOT_FUSED, why]]) } : n;
  });
  if (added.length === 0) return { ...g, nodes };
  return deadCodeElimination({ ...g, nodes, initializers: inits });
}

const joinName = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** A module recovered from one of PyTorch's decompositions, before it is named. */
interface Recovered {
  opType: string;
  fallback: string;
  bare: string[];
  tensors: Tensor[];
  sources: string[];
  path: string | undefined;
  nodes: Node[];
  inputs: string[];
  outputs: string[];
  from: string;
  attributes: Map<string, Attribute>;
}

/**
 * Names for recovered parameters: a prefix under which every parameter-named source initializer
 * holds exactly the recovered values; else the module path from the node metadata; else `fallback`.
 */
function originOf(bare: string[], tensors: Tensor[], local: string[], path: string | undefined, fallback: string, ctx: GraphIndex): { prefix: string; from: string; sources: string[] } {
  for (const src of local) for (const n of bare) {
    if (src !== n && !src.endsWith(`.${n}`)) continue;
    const prefix = src.slice(0, src.length - n.length).replace(/\.$/, '');
    if (bare.every((b, i) => !local.includes(joinName(prefix, b)) || sameData(ctx.constant(joinName(prefix, b))!, tensors[i]))) {
      return { prefix, from: 'parameter initializers', sources: local.filter((x) => bare.some((b) => x === joinName(prefix, b))) };
    }
  }
  if (path !== undefined) return { prefix: path, from: 'node metadata (pkg.torch.onnx.name_scopes)', sources: [] };
  return { prefix: fallback, from: 'default (no names in the graph)', sources: [] };
}

/** A GRU cell's input Split whose recurrent counterparts are constants: r's Add has a constant operand. */
function foldedRecurrentGates(split: Node, ctx: GraphIndex): boolean {
  const add = ctx.sole(split.outputs[0]);
  return !!add && add.opType === 'Add' && add.inputs.some((v) => v !== split.outputs[0] && !!ctx.constant(v));
}

/** A Concat on axis 0 whose inputs are Tanh/Relu outputs: the end of an unrolled nn.RNN chain, if anything. */
function isConcatOfSteps(n: Node, ctx: GraphIndex): boolean {
  return n.opType === 'Concat' && !n.domain && n.attributes.get('axis')?.value === 0 && n.inputs.length > 1
    && n.inputs.every((v) => { const p = ctx.producer.get(v); return !!p && !p.domain && (p.opType === 'Tanh' || p.opType === 'Relu'); });
}

/** `['', 'encoder', 'encoder.rnn', 'lstm']` (a Python list repr) -> its strings. */
function pyList(s: string | undefined): string[] | undefined {
  if (!s || !s.startsWith('[')) return undefined;
  return [...s.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]);
}

/** The module path the dynamo exporter recorded for a node (`pkg.torch.onnx.*` metadata), if any. */
export function torchModulePath(n: Node, mode: string): string | undefined {
  const scopes = pyList(n.metadata?.get('pkg.torch.onnx.name_scopes'));
  const classes = pyList(n.metadata?.get('pkg.torch.onnx.class_hierarchy'));
  if (!scopes || !classes || scopes.length !== classes.length) return undefined;
  for (let i = classes.length - 1; i >= 0; i--) {
    if (classes[i] === `torch.nn.modules.rnn.${mode}` || classes[i].endsWith(`.${mode}`)) return scopes[i];
  }
  return undefined;
}

const sameData = (a: Tensor, b: Tensor) =>
  a.type === b.type && a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]) && (a.data as Float32Array).every((v, i) => v === (b.data as Float32Array)[i]);

/**
 * Where the stack's PyTorch names come from. First the initializers the weights are computed
 * from: one named `<prefix>.weight_ih_l0` whose prefix names every parameter-named source with
 * exactly the recovered values (the gate reorder undone); then the nodes' module-path metadata;
 * then the node name.
 */
function moduleNames(m: StackMatch, node: Node, bare: string[], tensors: Tensor[], ctx: GraphIndex):
    { prefix: string; from: string; path?: string; sources: string[] } {
  const sources = [...new Set(m.layers.flatMap((l) => [1, 2, 3].flatMap((i) => ctx.sources(l.inputs[i] ?? ''))))];
  const local = sources.filter((s) => ctx.g.initializers.has(s));
  const path = torchModulePath(node, m.mode);
  // Candidate prefixes: every source initializer named like one of this module's parameters
  // (folded parameters are gone; those left over, e.g. the large ones, still carry their names).
  const candidates = new Set<string>();
  for (const s of local) for (const n of bare) if (s === n || s.endsWith(`.${n}`)) candidates.add(s.slice(0, s.length - n.length).replace(/\.$/, ''));
  for (const prefix of candidates) {
    const own = new Set(bare.map((n) => joinName(prefix, n)));
    const ok = bare.every((n, i) => !local.includes(joinName(prefix, n)) || sameData(ctx.g.initializers.get(joinName(prefix, n))!, tensors[i]));
    if (ok) return { prefix, from: 'parameter initializers', path: path ?? prefix, sources: local.filter((x) => own.has(x)) };
  }
  if (path !== undefined) return { prefix: path, from: 'node metadata (pkg.torch.onnx.name_scopes)', path, sources: [] };
  return { prefix: modulePrefix(node.name, node.opType), from: 'node name', sources: [] };
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

/** Records why a match failed (the last reason wins) and fails. */
function no(ctx: GraphIndex, why: string): undefined {
  ctx.reason = why;
  return undefined;
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
  if (!W) return no(ctx, `W ('${n.inputs[1]}') is not a constant or a constant expression of initializers`);
  if (!R) return no(ctx, `R ('${n.inputs[2]}') is not a constant or a constant expression of initializers`);
  if (W.type !== 'float32' && W.type !== 'float64') return no(ctx, `W is ${W.type}, not float32/float64`);
  const B = n.inputs[3] ? ctx.constant(n.inputs[3]) : undefined;
  if (n.inputs[3] && !B) return no(ctx, `B ('${n.inputs[3]}') is not a constant or a constant expression of initializers`);
  if (n.inputs[4]) return no(ctx, 'it has sequence_lens (PyTorch never writes it)');
  if (mode === 'LSTM' && n.inputs[7]) return no(ctx, 'it has peepholes (PyTorch has none)');
  let D: 1 | 2 = 1;
  let nonlinearity: 'tanh' | 'relu' = 'tanh';
  for (const [k, a] of n.attributes) {
    if (k === 'hidden_size') continue;
    if (k === 'direction' && a.type === 'string' && (a.value === 'forward' || a.value === 'bidirectional')) { D = a.value === 'bidirectional' ? 2 : 1; continue; }
    if (k === 'linear_before_reset' && mode === 'GRU' && a.type === 'int' && a.value === 1) continue;
    if (k === 'layout' && a.type === 'int' && a.value === 0) continue;
    if (k === 'input_forget' && mode === 'LSTM' && a.type === 'int' && a.value === 0) continue; // the default, written out
    if (k === 'activations' && a.type === 'strings') continue;
    return no(ctx, `attribute ${k}=${JSON.stringify(a.value)} has no PyTorch equivalent`);
  }
  if (mode === 'GRU' && n.attributes.get('linear_before_reset')?.value !== 1) return no(ctx, 'GRU without linear_before_reset=1 (PyTorch\'s GRU needs it)');
  const acts = n.attributes.get('activations')?.value as string[] | undefined;
  if (acts) {
    const low = acts.map((s) => s.toLowerCase());
    const want = mode === 'LSTM' ? ['sigmoid', 'tanh', 'tanh'] : mode === 'GRU' ? ['sigmoid', 'tanh'] : null;
    if (want) {
      if (low.length !== want.length * D || low.some((s, i) => s !== want[i % want.length])) return no(ctx, `activations [${acts.join(', ')}] are not PyTorch's`);
    } else {
      if (low.length !== D || low.some((s) => s !== low[0]) || (low[0] !== 'tanh' && low[0] !== 'relu')) return no(ctx, `activations [${acts.join(', ')}] are not PyTorch's`);
      nonlinearity = low[0] as 'tanh' | 'relu';
    }
  }
  const G = GATES[mode];
  if (W.dims.length !== 3 || W.dims[0] !== D || W.dims[1] % G !== 0) return no(ctx, `W has dims [${W.dims}], not [${D}, ${G}·H, I]`);
  const H = W.dims[1] / G;
  return { D, H, I: W.dims[2], bias: !!B, nonlinearity };
}

/**
 * Follows Y [T, D, N, H] to PyTorch's [T, N, D·H]: Squeeze(1) (D = 1, TorchScript form), or
 * Transpose(0,2,1,3) then a Reshape whose target is [T, N, D·H] (TorchScript: [0, 0, -1];
 * dynamo: exact dims, one -1, or computed from Shape of the transposed Y). Returns the stack
 * output and the values read only inside the match.
 */
function followY(y: string, D: number, H: number, ctx: GraphIndex, taken: Node[]): { out: string; internal: string[] } | undefined {
  const first = ctx.sole(y);
  if (D === 1 && first && first.opType === 'Squeeze' && !first.domain && same(axesOf(first, ctx, 1), [1])) {
    taken.push(first);
    return { out: first.outputs[0], internal: [] };
  }
  const expect = D === 1 ? 'Squeeze(axes=[1]) or Transpose(perm=[0,2,1,3]) + Reshape' : 'Transpose(perm=[0,2,1,3]) + Reshape';
  if (!isTranspose(first, [0, 2, 1, 3])) {
    const readers = ctx.consumers.get(y) ?? [];
    return no(ctx, `its Y is read by ${readers.map((r) => `${r.name || '(unnamed)'} (${r.opType})`).join(', ') || 'nothing'}${ctx.outputs.has(y) ? ' and is a graph output' : ''}; expected ${expect}`);
  }
  const yt = first.outputs[0];
  // A Shape of the transposed Y may compute the Reshape's target.
  const readers = (ctx.consumers.get(yt) ?? []).filter((c) => c.opType !== 'Shape');
  const reshape = readers.length === 1 && !ctx.outputs.has(yt) ? readers[0] : undefined;
  if (!reshape || reshape.opType !== 'Reshape' || reshape.domain || reshape.inputs[0] !== yt) return no(ctx, `the transposed Y is not read by one Reshape alone`);
  let allowzero = false;
  for (const [k, a] of reshape.attributes) {
    if (k === 'allowzero' && a.type === 'int') allowzero = a.value === 1;
    else return no(ctx, `Reshape ${reshape.name} has attribute ${k}`);
  }
  const t = ctx.shapeTerms(reshape.inputs[1], yt, new Map([[2, D], [3, H]]));
  const ok = (term: (typeof t & {})[number] | undefined, axis: number) =>
    term !== undefined && (typeof term === 'number' ? term > 0 || term === -1 || (term === 0 && !allowzero) : term.dim === axis);
  const ones = t ? t.filter((q) => q === -1).length : 0;
  const last = t?.[2];
  if (!t || t.length !== 3 || !ok(t[0], 0) || !ok(t[1], 1) || !(last === D * H || (last === -1 && ones === 1)) || ones > 1) {
    return no(ctx, `Reshape ${reshape.name}'s target is not [T, N, ${D * H}] (${t ? `[${t.map((q) => (typeof q === 'number' ? q : `dim${q.dim}`)).join(', ')}]` : 'not computable at import'})`);
  }
  taken.push(first, reshape);
  return { out: reshape.outputs[0], internal: [yt] };
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
  const c = ctx.g.initializers.has(v) || ctx.producer.get(v)?.opType !== 'Expand' ? ctx.constant(v) : undefined;
  if (c && (c.type === 'float32' || c.type === 'float64')) return (c.data as Float32Array).every((x) => x === 0);
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
    if (proj === undefined || (projs.length > 0 && (proj === null) !== (projs[0] === null)) || (proj && projs[0] && proj.P !== projs[0].P)) return no(ctx, `layer ${rk.name}: its output projection (MatMul) is not the same on every output and layer`);
    projs.push(proj);
    let y = rk.outputs[0] ?? '';
    if (proj) { nodes.push(...proj.nodes); internal.push(y, rk.outputs[1] ?? ''); y = proj.y; }
    if (ctx.unused(y)) { yk = undefined; break; }
    const taken: Node[] = [];
    const f = followY(y, info.D, proj ? proj.P : info.H, ctx, taken);
    if (!f) return no(ctx, `layer ${rk.name}: ${ctx.reason}`);
    yk = f.out;
    nodes.push(...taken);
    internal.push(y, ...f.internal, yk);
    // The next layer reads yk; a Shape of it may feed that layer's zero-state chain.
    const readers = (ctx.consumers.get(yk) ?? []).filter((c) => c.opType !== 'Shape');
    const next = readers.length === 1 && !ctx.outputs.has(yk) ? readers[0] : undefined;
    const why = ctx.reason;
    const ni = next && next.opType === mode && !next.domain && next.inputs[0] === yk ? recInfo(next, ctx) : undefined;
    ctx.reason = why; // the next layer's own problems are reported when it is tried alone
    const width = info.D * (proj ? proj.P : info.H);
    if (!next || !ni || ni.D !== info.D || ni.H !== info.H || ni.I !== width || ni.bias !== info.bias || ni.nonlinearity !== info.nonlinearity) break;
    if (layers.includes(next)) return no(ctx, 'the layers form a cycle'); // a cycle: validation reports it, fusion must not loop
    layers.push(next);
  }
  let y = '';
  if (yk) {
    if (batchFirst) {
      const post = ctx.sole(yk);
      if (!isTranspose(post, [1, 0, 2])) return no(ctx, 'the input is transposed (batch_first) but the output is not transposed back alone');
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
    const what = index === 5 ? 'initial_h' : 'initial_c';
    if (srcs.some((s) => s === undefined)) return no(ctx, `${what} of layer ${layers[srcs.indexOf(undefined)].name} is not a per-layer Slice(axes=[0]) of one [L·D, N, H] state or a zero state`);
    if (srcs.some((s) => s !== srcs[0])) return no(ctx, `the layers' ${what} do not come from one state tensor`);
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
    const what = index === 1 ? 'Y_h' : 'Y_c';
    if (!cat || cat.opType !== 'Concat' || cat.attributes.get('axis')?.value !== 0) return no(ctx, `the layers' ${what} are not read only by one Concat(axis=0)`);
    if (cat.inputs.length !== vs.length || cat.inputs.some((v, i) => v !== vs[i] || ctx.sole(v) !== cat)) return no(ctx, `the Concat of ${what} is not exactly the layers' final states in order`);
    nodes.push(cat);
    return cat.outputs[0];
  };
  const hn = finals(1);
  const cn = mode === 'LSTM' ? finals(2) : '';
  if (hn === undefined || cn === undefined) return undefined;
  nodes.push(...layers);
  // The last layer's yk is the stack's y, not internal.
  if (yk) internal.splice(internal.indexOf(yk), 1);
  if (!onlyReadInside(internal.filter((v) => v), nodes, ctx)) return no(ctx, 'a value between the layers is also read outside the pattern');
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

function uniquePrefix(p: string, used: Set<string>, inits: Map<string, Tensor>, own: readonly string[]): string {
  let name = p;
  const taken = (q: string) => used.has(q) || [...inits.keys()].some((k) => !own.includes(k) && k.startsWith(joinName(q, 'weight_ih_l')));
  for (let i = 1; taken(name); i++) name = `${p || 'rnn'}_${i}`;
  used.add(name);
  return name;
}

/** Drops nodes none of whose outputs is read, then initializers nothing reads. */
export function deadCodeElimination(g: Graph): Graph {
  let nodes = [...g.nodes];
  const outs = new Set(g.outputs.map((o) => o.name));
  for (;;) {
    const read = new Set(nodes.flatMap(readsOf));
    const keep = nodes.filter((n) => n.outputs.some((o) => o && (read.has(o) || outs.has(o))));
    if (keep.length === nodes.length) break;
    nodes = keep;
  }
  const read = new Set([...nodes.flatMap(readsOf), ...outs]);
  const initializers = new Map([...g.initializers].filter(([k]) => read.has(k)));
  return { ...g, nodes, initializers };
}
