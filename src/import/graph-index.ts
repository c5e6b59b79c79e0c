import { readsOf, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { AttrReader, intsOf, type OpContext } from '../ops/op.js';
import { lookupOp } from '../ops/registry.js';


/**
 * Ops whose constant inputs are evaluated at import to see through constant expressions (the
 * dynamo exporter's gate reorder: Slice/Concat/Unsqueeze over the parameters; shape arithmetic).
 * Data movement and integer arithmetic only: evaluating them is exact.
 */
const EVALUATED = new Set(['Identity', 'Slice', 'Concat', 'Unsqueeze', 'Squeeze', 'Reshape', 'Transpose', 'Gather', 'Cast', 'Shape', 'Flatten', 'Split', 'Expand', 'ConstantOfShape', 'Mul', 'Add', 'Sub']);

/** A dimension term of a symbolic shape vector: a number, or dim `i` of the base tensor. */
export type DimTerm = number | { readonly dim: number };

/** Producers, consumers and constants of one graph (with its enclosing graphs for constants). */
export class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly outputs: Set<string>;
  /** Why the last pattern match failed (set by the recognisers, shown by `inspect`). */
  reason = '';
  private readonly memo = new Map<string, Tensor | null>();
  constructor(readonly g: Graph, readonly opsets: ReadonlyMap<string, number>, readonly parent?: GraphIndex) {
    for (const n of g.nodes) {
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      // A value read inside a node's subgraph counts as read by that node.
      for (const i of new Set(readsOf(n))) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
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
  private defined(v: string): boolean {
    return this.producer.has(v) || this.g.initializers.has(v) || this.g.inputs.some((i) => i.name === v);
  }
  /**
   * The value of `v` when it is known at import: an initializer, a Constant node, or a constant
   * expression of them (evaluated with rnnx's own kernels), here or in an enclosing graph.
   */
  constant(v: string): Tensor | undefined {
    if (!v) return undefined;
    const init = this.g.initializers.get(v);
    if (init) return init;
    if (!this.defined(v)) return this.parent?.constant(v);
    const hit = this.memo.get(v);
    if (hit !== undefined) return hit ?? undefined;
    this.memo.set(v, null); // guards against cycles while evaluating
    const t = this.evaluate(v);
    this.memo.set(v, t ?? null);
    return t;
  }
  private evaluate(v: string): Tensor | undefined {
    const p = this.producer.get(v);
    if (!p || p.domain) return undefined;
    if (p.opType === 'Constant') {
      const a = p.attributes.get('value') ?? p.attributes.get('value_ints') ?? p.attributes.get('value_int') ?? p.attributes.get('value_floats') ?? p.attributes.get('value_float');
      if (!a) return undefined;
      if (a.type === 'tensor') return a.value;
      if (a.type === 'ints') return new Tensor('int64', a.value.map(BigInt), [a.value.length]);
      if (a.type === 'int') return new Tensor('int64', [BigInt(a.value)], []);
      if (a.type === 'floats') return new Tensor('float32', [...a.value], [a.value.length]);
      if (a.type === 'float') return new Tensor('float32', [a.value], []);
      return undefined;
    }
    if (!EVALUATED.has(p.opType)) return undefined;
    const inputs = p.opType === 'Shape' ? [undefined] : p.inputs.map((i) => (i ? this.constant(i) : undefined));
    if (p.opType === 'Shape') {
      // Shape needs only the static shape of its input: a constant's dims.
      const x = this.constant(p.inputs[0]);
      if (!x) return undefined;
      inputs[0] = x;
    } else if (p.inputs.some((i, k) => i && !inputs[k])) return undefined;
    const opset = this.opsets.get('') ?? 1;
    const row = lookupOp('', p.opType, opset);
    if (!row || row.def.values) return undefined;
    try {
      const ctx: OpContext = { node: p, opset, constant: (i) => inputs[i] };
      const attrs = row.def.parse(ctx, new AttrReader(ctx));
      const outs = row.def.run(inputs, attrs, ctx);
      const k = p.outputs.indexOf(v);
      return outs[k] ?? undefined;
    } catch {
      return undefined; // the executor reports what is wrong with the node when it runs
    }
  }
  /** The initializers (here or further out) a constant expression for `v` reads. */
  sources(v: string, seen = new Set<string>()): string[] {
    if (!v || seen.has(v)) return [];
    seen.add(v);
    if (this.g.initializers.has(v)) return [v];
    const p = this.producer.get(v);
    if (!p) return this.defined(v) ? [] : (this.parent?.sources(v) ?? []);
    return p.inputs.flatMap((i) => this.sources(i, seen));
  }
  ints(v: string): number[] | undefined {
    const t = v ? this.constant(v) : undefined;
    return t && (t.type === 'int64' || t.type === 'int32') ? intsOf(t) : undefined;
  }
  /** The declared size of axis 0 of `v` (graph input, value_info or initializer), if static. */
  rows(v: string): number | undefined {
    const init = this.constant(v);
    if (init) return init.dims[0];
    const info = this.g.inputs.find((i) => i.name === v) ?? this.g.valueInfo.get(v);
    if (!info && !this.defined(v)) return this.parent?.rows(v);
    const d = info?.shape?.[0];
    return typeof d === 'number' ? d : undefined;
  }
  /**
   * A 1-D int64 shape vector computed from `Shape(base)`, constants and shape arithmetic, as terms:
   * numbers, or `{dim: i}` for a dim of `base` not known here (`known` gives the static ones).
   */
  shapeTerms(v: string, base: string, known: ReadonlyMap<number, number>, depth = 0): DimTerm[] | undefined {
    const c = this.ints(v);
    if (c) return c;
    const p = this.producer.get(v);
    if (!p || p.domain || depth > 32) return undefined;
    const sub = (i: number) => this.shapeTerms(p.inputs[i] ?? '', base, known, depth + 1);
    const attrInt = (k: string) => { const a = p.attributes.get(k); return a?.type === 'int' ? a.value : undefined; };
    switch (p.opType) {
      case 'Shape': {
        if (p.inputs[0] !== base) return undefined;
        const rank = 4;
        const norm = (x: number) => Math.max(0, Math.min(rank, x < 0 ? x + rank : x));
        const start = norm(attrInt('start') ?? 0), end = norm(attrInt('end') ?? rank);
        const out: DimTerm[] = [];
        for (let i = start; i < end; i++) out.push(known.get(i) ?? { dim: i });
        return out;
      }
      case 'Identity': case 'Squeeze': case 'Unsqueeze': case 'Reshape': return sub(0);
      case 'Cast': return sub(0);
      case 'Slice': {
        const x = sub(0), s = this.ints(p.inputs[1]), e = this.ints(p.inputs[2]);
        const axes = p.inputs[3] ? this.ints(p.inputs[3]) : [0], steps = p.inputs[4] ? this.ints(p.inputs[4]) : [1];
        if (!x || !s || !e || !axes || !steps || s.length !== 1 || axes[0] !== 0 || steps[0] !== 1) return undefined;
        const n = x.length, clamp = (q: number) => Math.max(0, Math.min(n, q < 0 ? q + n : q));
        return x.slice(clamp(s[0]), clamp(e[0]));
      }
      case 'Gather': {
        const x = sub(0), idx = this.ints(p.inputs[1]);
        if (!x || !idx || (attrInt('axis') ?? 0) !== 0) return undefined;
        const out = idx.map((i) => x[i < 0 ? i + x.length : i]);
        return out.some((t) => t === undefined) ? undefined : out;
      }
      case 'Concat': {
        const parts = p.inputs.map((_, i) => sub(i));
        return parts.some((q) => !q) ? undefined : parts.flat() as DimTerm[];
      }
      case 'Mul': {
        const a = sub(0), b = sub(1);
        if (!a || !b || a.length !== b.length) return undefined;
        const out = a.map((x, i) => (typeof x === 'number' && typeof b[i] === 'number' ? x * (b[i] as number) : undefined));
        return out.some((t) => t === undefined) ? undefined : (out as number[]);
      }
      default: return undefined;
    }
  }
}
