// Model-local functions (ModelProto.functions): every call is replaced by the function's body at
// import, before the graph is decoded, so the rest of rnnx (validation, recurrent-layer recovery,
// the executor) only ever sees standard nodes.
import { RnnxError } from '../ir/errors.js';
import { normalizeDomain } from '../ir/graph.js';
import { toNum, type OnnxNs } from './proto.js';

type FunctionProto = OnnxNs.IFunctionProto;
type NodeProto = OnnxNs.INodeProto;
type GraphProto = OnnxNs.IGraphProto;
type AttributeProto = OnnxNs.IAttributeProto;

/** Calls nested deeper than this are refused (a guard against runaway expansion). */
const MAX_DEPTH = 64;

const keyOf = (domain: string | null | undefined, name: string | null | undefined, overload: string | null | undefined) =>
  `${normalizeDomain(domain ?? '')}::${name ?? ''}::${overload ?? ''}`;
const label = (f: FunctionProto) => `${f.domain ? `${f.domain}.` : ''}${f.name ?? ''}${f.overload ? `:${f.overload}` : ''}`;

/**
 * Expands the model's local functions in place: mp.graph loses every call (in subgraphs too) and
 * mp.opsetImport gains the opsets the function bodies import. Conflicting opset versions for one
 * domain, recursion, unknown attributes and arity mismatches are errors naming the function.
 */
export function expandModelFunctions(mp: OnnxNs.ModelProto): void {
  const fns = mp.functions ?? [];
  if (fns.length === 0 || !mp.graph) return;
  const table = new Map<string, FunctionProto>();
  for (const f of fns) {
    const k = keyOf(f.domain, f.name, f.overload);
    if (table.has(k)) throw new RnnxError(`Model-local function ${label(f)} is defined twice`);
    table.set(k, f);
  }
  const opsets = new Map<string, number>();
  for (const o of mp.opsetImport ?? []) opsets.set(normalizeDomain(o.domain ?? ''), toNum(o.version));
  const added = new Map<string, number>();
  const used = new Set<FunctionProto>();
  const ex = new Expander(table, used);
  mp.graph = ex.graph(mp.graph, []);
  // The bodies run under the model's opsets: a function importing another version of a domain the
  // model uses would need two opsets for one domain, which rnnx does not do.
  for (const f of used) {
    for (const o of f.opsetImport ?? []) {
      const d = normalizeDomain(o.domain ?? ''), v = toNum(o.version);
      const have = opsets.get(d) ?? added.get(d);
      if (have === undefined) added.set(d, v);
      else if (have !== v) {
        throw new RnnxError(`Model-local function ${label(f)} imports ${d || 'ai.onnx'} version ${v}, but the model uses version ${have}; rnnx runs one opset per domain`);
      }
    }
  }
  for (const [domain, version] of added) mp.opsetImport = [...(mp.opsetImport ?? []), { domain, version }];
}

class Expander {
  private counter = 0;
  constructor(private readonly table: Map<string, FunctionProto>, private readonly used: Set<FunctionProto>) {}

  /** A copy of g with every call expanded (recursively, subgraphs included). */
  graph(g: GraphProto, stack: readonly FunctionProto[]): OnnxNs.GraphProto {
    return { ...g, node: this.nodes(g.node ?? [], stack) } as OnnxNs.GraphProto;
  }

  private nodes(nodes: readonly NodeProto[], stack: readonly FunctionProto[]): NodeProto[] {
    const out: NodeProto[] = [];
    for (const n of nodes) {
      const f = this.table.get(keyOf(n.domain, n.opType, n.overload));
      if (f) out.push(...this.call(n, f, stack));
      else out.push(this.withSubgraphs(n, (g) => this.graph(g, stack)));
    }
    return out;
  }

  private call(n: NodeProto, f: FunctionProto, stack: readonly FunctionProto[]): NodeProto[] {
    const where = `node ${n.name || n.opType} calls model-local function ${label(f)}`;
    if (stack.includes(f)) throw new RnnxError(`${where}: recursive call (${[...stack, f].map(label).join(' → ')})`);
    if (stack.length >= MAX_DEPTH) throw new RnnxError(`${where}: calls nested more than ${MAX_DEPTH} deep`);
    this.used.add(f);
    const fin = f.input ?? [], fout = f.output ?? [];
    const nin = n.input ?? [], nout = n.output ?? [];
    if (nin.length > fin.length) throw new RnnxError(`${where}: ${nin.length} inputs, the function takes ${fin.length}`);
    if (nout.length > fout.length) throw new RnnxError(`${where}: ${nout.length} outputs, the function has ${fout.length}`);
    // Attributes: the call's values, else the function's defaults; a reference to neither is absent.
    const declared = new Set([...(f.attribute ?? []), ...(f.attributeProto ?? []).map((a) => a.name ?? '')]);
    const given = new Map<string, AttributeProto>();
    for (const a of n.attribute ?? []) {
      if (!declared.has(a.name ?? '')) throw new RnnxError(`${where}: attribute '${a.name}' is not an attribute of the function`);
      given.set(a.name ?? '', a);
    }
    for (const a of f.attributeProto ?? []) if (!given.has(a.name ?? '')) given.set(a.name ?? '', a);
    // Names: formal inputs and outputs become the call's; everything else gets a fresh prefix.
    const prefix = `${n.name || f.name}/${f.name}#${this.counter++}/`;
    const rename = new Map<string, string>();
    fin.forEach((name, i) => rename.set(name, nin[i] ?? ''));
    fout.forEach((name, i) => { if (nout[i] && !rename.has(name)) rename.set(name, nout[i]); });
    const map = (name: string) => (name === '' ? '' : rename.get(name) ?? prefix + name);
    // Node names: the body's nodes sit in the caller's scope, as if the exporter had inlined them
    // ('/rnn/LSTM' calling a function: its nodes become '/rnn/<node>'), so module paths survive.
    const cut = (n.name ?? '').lastIndexOf('/');
    const scope = cut > 0 ? n.name!.slice(0, cut + 1) : prefix;
    const body = this.nodes((f.node ?? []).map((b) => this.instantiate(b, given, map, scope)), [...stack, f]);
    // A formal output that is also a formal input is copied with Identity.
    const produced = new Set(body.flatMap((b) => b.output ?? []));
    const extra: NodeProto[] = [];
    fout.forEach((name, i) => {
      const actual = nout[i];
      if (!actual || produced.has(actual)) return;
      if (!fin.includes(name)) throw new RnnxError(`${where}: no node of the function computes its output '${name}'`);
      if (!map(name)) throw new RnnxError(`${where}: output '${name}' is an omitted optional input`);
      extra.push({ name: `${prefix}Identity_${name}`, opType: 'Identity', domain: '', input: [map(name)], output: [actual] });
    });
    return [...body, ...extra];
  }

  /** One body node of a call: names renamed, attribute references resolved (subgraphs too). */
  private instantiate(b: NodeProto, given: Map<string, AttributeProto>, map: (s: string) => string, scope: string): NodeProto {
    const attrs: AttributeProto[] = [];
    for (const a of b.attribute ?? []) {
      if (a.refAttrName) {
        const v = given.get(a.refAttrName);
        if (v) attrs.push({ ...v, name: a.name, refAttrName: '' } as AttributeProto);
        continue;
      }
      attrs.push(this.mapAttrGraphs(a, (g) => this.instantiateGraph(g, given, map, scope)));
    }
    return {
      ...b,
      name: scope + (b.name || b.opType),
      input: (b.input ?? []).map(map),
      output: (b.output ?? []).map(map),
      attribute: attrs,
    };
  }

  /** A subgraph inside a function body: its names get the call's prefix, references resolve as in the body. */
  private instantiateGraph(g: GraphProto, given: Map<string, AttributeProto>, map: (s: string) => string, scope: string): OnnxNs.GraphProto {
    const vi = (v: OnnxNs.IValueInfoProto) => ({ ...v, name: map(v.name ?? '') });
    return {
      ...g,
      input: (g.input ?? []).map(vi),
      output: (g.output ?? []).map(vi),
      valueInfo: (g.valueInfo ?? []).map(vi),
      initializer: (g.initializer ?? []).map((t) => ({ ...t, name: map(t.name ?? '') })),
      node: (g.node ?? []).map((b) => this.instantiate(b, given, map, scope)),
    } as OnnxNs.GraphProto;
  }

  private withSubgraphs(n: NodeProto, f: (g: GraphProto) => OnnxNs.GraphProto): NodeProto {
    if (!(n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0)) return n;
    return { ...n, attribute: (n.attribute ?? []).map((a) => this.mapAttrGraphs(a, f)) };
  }

  private mapAttrGraphs(a: AttributeProto, f: (g: GraphProto) => OnnxNs.GraphProto): AttributeProto {
    if (!a.g && !(a.graphs ?? []).length) return a;
    return { ...a, g: a.g ? f(a.g) : a.g, graphs: (a.graphs ?? []).map(f) } as AttributeProto;
  }
}
