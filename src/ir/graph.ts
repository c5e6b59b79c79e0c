import { NodeError, RnnxError } from './errors.js';
import type { DataType, Tensor } from './tensor.js';

export type Attribute =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'tensor'; readonly value: Tensor }
  | { readonly type: 'graph'; readonly value: Graph }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly type: 'graphs'; readonly value: readonly Graph[] }
  | { readonly type: 'unsupported'; readonly value: string };

/** A dimension: a size, a symbolic name, or unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  readonly name: string;
  /** 'tensor' (default), or an ONNX sequence / optional whose elements have `type`. */
  readonly kind?: 'tensor' | 'sequence' | 'optional';
  /** For an optional: whether it holds a tensor (default) or a sequence of tensors. */
  readonly optionalOf?: 'tensor' | 'sequence';
  readonly type?: DataType;
  /** Undefined when the rank is unknown. */
  readonly shape?: readonly Dim[];
}

/** One ONNX node, attributes kept as ONNX wrote them. `''` in inputs is an omitted optional input. */
export interface Node {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, Attribute>;
  /** NodeProto.metadata_props (e.g. the PyTorch module path `pkg.torch.onnx.name_scopes`), when present. */
  readonly metadata?: ReadonlyMap<string, string>;
}

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  /** Inputs the caller feeds (initializers excluded). */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: ReadonlyMap<string, Tensor>;
  readonly valueInfo: ReadonlyMap<string, ValueInfo>;
}

export interface Model {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  /** domain ('' for ai.onnx) -> opset version */
  readonly opsets: ReadonlyMap<string, number>;
  readonly graph: Graph;
}

export function normalizeDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

/**
 * Checks what every later stage relies on: each value produced once, every input produced
 * (or fed, or an initializer, or from an enclosing graph), no cycles. Returns nodes in
 * execution order.
 */
export function validateGraph(graph: Graph, outer: ReadonlySet<string> = new Set()): Node[] {
  const producer = new Map<string, Node | 'input' | 'initializer'>();
  for (const v of graph.inputs) {
    if (producer.has(v.name)) throw new RnnxError(`Graph '${graph.name}': input '${v.name}' is declared twice`);
    producer.set(v.name, 'input');
  }
  for (const name of graph.initializers.keys()) if (!producer.has(name)) producer.set(name, 'initializer');
  for (const node of graph.nodes) {
    for (const out of node.outputs) {
      if (out === '') continue;
      const prev = producer.get(out);
      if (prev !== undefined) {
        const by = typeof prev === 'string' ? `a graph ${prev}` : `node ${prev.name} (${prev.opType})`;
        throw new NodeError(node.name, node.opType, `output '${out}' is already produced by ${by}`);
      }
      producer.set(out, node);
    }
  }
  for (const node of graph.nodes) {
    for (const inp of node.inputs) {
      if (inp !== '' && !producer.has(inp) && !outer.has(inp)) {
        throw new NodeError(node.name, node.opType, `input '${inp}' is not produced by any node, graph input or initializer`);
      }
    }
  }
  for (const out of graph.outputs) {
    if (!producer.has(out.name) && !outer.has(out.name)) {
      throw new RnnxError(`Graph '${graph.name}': output '${out.name}' is not produced by any node, input or initializer`);
    }
  }
  return topoSort(graph, producer);
}

/** The graphs held by a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of n.attributes.values()) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}

/** Names a graph reads from enclosing scopes (recursively through its own subgraphs). */
export function outerReads(g: Graph): Set<string> {
  const defined = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free = new Set<string>();
  for (const n of g.nodes) for (const r of readsOf(n)) if (r && !defined.has(r)) free.add(r);
  for (const o of g.outputs) if (!defined.has(o.name)) free.add(o.name);
  return free;
}

/** Everything a node reads: its inputs and what its subgraphs read from enclosing scopes. */
export function readsOf(n: Node): string[] {
  const subs = subgraphsOf(n);
  return subs.length ? [...n.inputs, ...subs.flatMap((g) => [...outerReads(g)])] : [...n.inputs];
}

function topoSort(graph: Graph, producer: Map<string, Node | 'input' | 'initializer'>): Node[] {
  // Exporters write nodes in order; check that first (linear), else sort. A node with a body
  // depends on the producers of what the body reads too (a rewritten graph may list them later).
  const reads = new Map<Node, string[]>(graph.nodes.map((n) => [n, readsOf(n)]));
  const seen = new Set<Node>();
  let sorted = true;
  for (const node of graph.nodes) {
    for (const inp of reads.get(node)!) {
      const p = producer.get(inp);
      if (p && typeof p !== 'string' && !seen.has(p)) sorted = false;
    }
    if (!sorted) break;
    seen.add(node);
  }
  if (sorted) return [...graph.nodes];
  // Kahn's algorithm keeping the file's order among ready nodes.
  const index = new Map<Node, number>(graph.nodes.map((n, i) => [n, i]));
  const pending = new Map<Node, number>();
  const consumers = new Map<Node, Node[]>();
  for (const node of graph.nodes) {
    const deps = new Set<Node>();
    for (const inp of reads.get(node)!) {
      const p = producer.get(inp);
      if (p && typeof p !== 'string') deps.add(p);
    }
    pending.set(node, deps.size);
    for (const d of deps) {
      const list = consumers.get(d) ?? [];
      list.push(node);
      consumers.set(d, list);
    }
  }
  const ready = graph.nodes.filter((n) => pending.get(n) === 0);
  const order: Node[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => index.get(a)! - index.get(b)!);
    const n = ready.shift()!;
    order.push(n);
    for (const c of consumers.get(n) ?? []) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  if (order.length !== graph.nodes.length) {
    const stuck = graph.nodes.filter((n) => pending.get(n)! > 0).slice(0, 5);
    throw new RnnxError(
      `Graph '${graph.name}' has a cycle through: ${stuck.map((n) => `${n.name || '<unnamed>'} (${n.opType})`).join(', ')}`,
    );
  }
  return order;
}
