import { NodeError, RnnxError, nodeError } from '../ir/errors.js';
import { validateGraph, type Graph, type Model, type Node, type ValueInfo } from '../ir/graph.js';
import { asTensor, Tensor } from '../ir/tensor.js';
import { OptionalValue, TensorSequence, describeValue, type Value } from '../ir/value.js';
import { loadModel, type LoadOptions } from '../import/model.js';
import { GemmPool } from '../wasm/threads.js';
import { AttrReader, type OpContext, type OpDef } from '../ops/op.js';
import { knownOp, lookupOp } from '../ops/registry.js';
import { fuseBiasAdds, type ParsedStep } from './epilogue.js';
import { createStream, type Stream, type StreamOptions } from './stream.js';
import { createStreamBatcher, type BatcherOptions, type StreamBatcher } from './batcher.js';

export interface PlanOptions {
  /** Worker-thread GEMM pool shared by the plan's recurrent layers. */
  readonly pool?: GemmPool;
  /** For a subgraph: the names of the enclosing graphs it may read (never released here). */
  readonly outer?: ReadonlySet<string>;
}

/** Names a graph reads from enclosing scopes (recursively through its own subgraphs). */
export function freeNames(g: Graph): Set<string> {
  const defined = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free = new Set<string>();
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i && !defined.has(i)) free.add(i);
    for (const sub of subgraphsOf(n)) for (const f of freeNames(sub)) if (!defined.has(f)) free.add(f);
  }
  for (const o of g.outputs) if (!defined.has(o.name)) free.add(o.name);
  return free;
}

function subgraphsOf(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of n.attributes.values()) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}

export interface SessionOptions extends LoadOptions {
  /**
   * 1 (default) or 2: with 2, the SIMD recurrent kernels split every GEMM's columns with one
   * worker thread over shared WebAssembly memory (helps batch-1 streaming on a multi-core machine).
   */
  readonly threads?: 1 | 2;
}

interface Step {
  readonly node: Node;
  readonly def: OpDef<unknown>;
  readonly attrs: unknown;
  readonly ctx: OpContext;
  /** Values whose last reader is this step: released after it runs. */
  readonly release: readonly string[];
  /** Input positions whose value dies here and is an intermediate (not a feed, constant or output). */
  readonly dying: readonly number[];
}

export type Feeds = Record<string, Tensor | { type: string; data: unknown; dims: readonly number[] }>;
/** Feeds for runValues: tensors, sequences (arrays of tensors) and optionals (null: empty). */
export type ValueFeeds = Record<string, Value | Feeds[string] | readonly Feeds[string][] | null>;

/** A prepared graph: ops resolved, attributes parsed and validated, execution order fixed. */
export class ExecutionPlan {
  readonly steps: readonly Step[];
  readonly graph: Graph;
  /** Initializers plus the values of constant-folded nodes. */
  readonly constants: ReadonlyMap<string, Tensor>;

  constructor(readonly model: Model, options: PlanOptions = {}) {
    const graph = model.graph;
    this.graph = graph;
    const pool = options.pool;
    const outer = options.outer ?? new Set<string>();
    const order = validateGraph(graph, outer);
    // What a subgraph of this graph may read: everything defined here or further out.
    const visible = new Set<string>([...outer, ...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
    for (const n of graph.nodes) for (const o of n.outputs) if (o) visible.add(o);
    const subgraph = (g: Graph) => new ExecutionPlan({ ...model, graph: g }, { pool, outer: visible });
    const unsupported = new Map<string, number>();
    const resolved: { node: Node; def: OpDef<unknown>; ctx: OpContext }[] = [];
    const constants = new Map<string, Tensor>(graph.initializers);
    for (const node of order) {
      const opset = model.opsets.get(node.domain);
      const key = node.domain ? `${node.domain}.${node.opType}` : node.opType;
      if (opset === undefined) {
        throw nodeError(node, `domain '${node.domain}' is not imported by the model (no opset_import)`);
      }
      const row = lookupOp(node.domain, node.opType, opset);
      if (!row) {
        const known = knownOp(node.domain, node.opType);
        const label = known ? `${key} (opset ${opset}; supported: ${known.map((r) => `${r.since}-${r.until}`).join(', ')})` : `${key} (opset ${opset})`;
        unsupported.set(label, (unsupported.get(label) ?? 0) + 1);
        continue;
      }
      const constant = (i: number) => (node.inputs[i] ? constants.get(node.inputs[i]) : undefined);
      resolved.push({ node, def: row.def, ctx: { node, opset, constant, pool, subgraph } });
    }
    if (unsupported.size > 0) {
      const list = [...unsupported].map(([k, n]) => `${k} x${n}`).join(', ');
      throw new RnnxError(`Unsupported ops in this model: ${list}`);
    }
    // Parse every node once; a node whose inputs are all constants is evaluated now (constant
    // folding: e.g. the Transpose of a Linear weight), so later ops can pack its result once.
    const live: (typeof resolved[number] & { attrs: unknown })[] = [];
    for (const r of resolved) {
      const reader = new AttrReader(r.ctx);
      let attrs: unknown;
      try {
        attrs = r.def.parse(r.ctx, reader);
      } catch (e) {
        if (e instanceof RnnxError) throw e;
        throw new NodeError(r.node.name, r.node.opType, `invalid node: ${(e as Error).message}`);
      }
      reader.assertAllRead();
      const foldable = r.node.inputs.length > 0 && r.node.inputs.every((n) => !n || constants.has(n)) && subgraphsOf(r.node).length === 0 && !r.def.values;
      if (foldable) {
        const outs = runStep(r.def, r.node.inputs.map((n) => (n ? constants.get(n) : undefined)), attrs, r.ctx);
        r.node.outputs.forEach((o, i) => o && outs[i] && constants.set(o, outs[i]!));
        continue;
      }
      live.push({ ...r, attrs });
    }
    this.constants = constants;
    // A node with subgraphs also reads the outer values they use: keep those alive until it runs.
    const readsOf = (r: ParsedStep) => [...r.node.inputs, ...subgraphsOf(r.node).flatMap((g) => [...freeNames(g)])];
    const readCount = new Map<string, number>();
    for (const r of live) for (const n of readsOf(r)) if (n) readCount.set(n, (readCount.get(n) ?? 0) + 1);
    const graphOutputs = new Set(graph.outputs.map((o) => o.name));
    const fused = fuseBiasAdds(live, constants, (n) => readCount.get(n) ?? 0, (n) => graphOutputs.has(n));
    const reads = fused.map(readsOf);
    const lastUse = new Map<string, number>();
    reads.forEach((names, i) => names.forEach((name) => name && lastUse.set(name, i)));
    const keep = new Set([...graph.outputs.map((o) => o.name), ...constants.keys(), ...outer]);
    const feeds = new Set(graph.inputs.map((v) => v.name));
    this.steps = fused.map((r, i) => {
      const release = [...new Set(reads[i])].filter((n) => n && lastUse.get(n) === i && !keep.has(n));
      // Outputs nobody reads are dropped right away.
      for (const o of r.node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const dying = r.node.inputs.flatMap((n, k) =>
        n && release.includes(n) && !feeds.has(n) && r.node.inputs.indexOf(n) === k && r.node.inputs.lastIndexOf(n) === k ? [k] : []);
      return { ...r, release, dying };
    });
  }

  /** Runs the graph: `values` holds feeds (and, in a subgraph, the outer scope) and receives every output. */
  execute(values: Map<string, Value>): void {
    // Memory the caller or the model owns (feeds, constants) is never overwritten, even through an alias.
    const owned = new Set<ArrayBufferLike>();
    for (const v of values.values()) for (const buf of buffersOf(v)) owned.add(buf);
    for (const s of this.steps) {
      const inputs = s.node.inputs.map((name) => {
        if (name === '') return undefined;
        const v = values.get(name);
        if (v === undefined) throw nodeError(s.node, `input '${name}' has no value`);
        if (!s.def.values && !(v instanceof Tensor)) throw nodeError(s.node, `input '${name}' is a ${describeValue(v)}; this op takes tensors`);
        return v;
      });
      const reuse = s.dying.length
        ? (i: number) => s.dying.includes(i) && inputs[i] instanceof Tensor && unshared(inputs[i] as Tensor, s.node.inputs[i], values, owned)
        : undefined;
      const outs = runStep(s.def, inputs as (Tensor | undefined)[], s.attrs, s.ctx, reuse, values);
      s.node.outputs.forEach((name, i) => {
        if (!name) return;
        const t = outs[i];
        if (t === undefined) throw nodeError(s.node, `output ${i} ('${name}') was requested but not produced`);
        values.set(name, t);
      });
      for (const r of s.release) values.delete(r);
    }
  }
}

/** The array buffers a value's tensors live in. */
function buffersOf(v: Value): ArrayBufferLike[] {
  if (v instanceof Tensor) {
    const buf = (v.data as { buffer?: ArrayBufferLike }).buffer;
    return buf ? [buf] : [];
  }
  if (v instanceof TensorSequence) return v.items.flatMap(buffersOf);
  return v.value ? buffersOf(v.value) : [];
}

/** True when no other live value views the same memory as `t` (Reshape, Identity, … alias their input). */
function unshared(t: Tensor, name: string, values: Map<string, Value>, owned: Set<ArrayBufferLike>): boolean {
  const buf = (t.data as { buffer?: ArrayBufferLike }).buffer;
  if (!buf || owned.has(buf)) return false;
  for (const [k, v] of values) if (k !== name && views(v, buf)) return false;
  return true;
}

/** Whether any tensor of `v` lives in `buf` (allocation-free: this runs for every dying input). */
function views(v: Value, buf: ArrayBufferLike): boolean {
  if (v instanceof Tensor) return (v.data as { buffer?: ArrayBufferLike }).buffer === buf;
  if (v instanceof TensorSequence) return v.items.some((t) => views(t, buf));
  return v.value !== undefined && views(v.value, buf);
}

function runStep(
  def: OpDef<unknown>, inputs: (Tensor | undefined)[], attrs: unknown, ctx: OpContext,
  reuse?: (i: number) => boolean, scope?: ReadonlyMap<string, Value>,
): (Tensor | undefined)[] {
  try {
    return def.run(inputs, attrs, ctx, reuse, scope);
  } catch (e) {
    if (e instanceof RnnxError) throw e;
    throw new NodeError(ctx.node.name, ctx.node.opType, `kernel failed: ${(e as Error).message}`);
  }
}

/** The engine's entry point, shaped like onnxruntime-node's InferenceSession. */
export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  readonly plan: ExecutionPlan;

  private readonly pool: GemmPool | null;

  private constructor(readonly model: Model, options: SessionOptions = {}) {
    if (options.threads !== undefined && options.threads !== 1 && options.threads !== 2) {
      throw new RnnxError(`InferenceSession: threads must be 1 or 2, got ${options.threads}`);
    }
    this.pool = options.threads === 2 ? GemmPool.create() : null;
    try {
      this.plan = new ExecutionPlan(model, { pool: this.pool ?? undefined });
    } catch (e) {
      this.pool?.close();
      throw e;
    }
    this.inputMetadata = model.graph.inputs;
    this.outputMetadata = model.graph.outputs;
    this.inputNames = model.graph.inputs.map((v) => v.name);
    this.outputNames = model.graph.outputs.map((v) => v.name);
  }

  /** From a file path, ONNX bytes, or an already-built Model. */
  static createSync(source: string | Uint8Array | ArrayBuffer | Model, options: SessionOptions = {}): InferenceSession {
    if (source instanceof ArrayBuffer) source = new Uint8Array(source);
    const model = typeof source === 'string' || source instanceof Uint8Array ? loadModel(source, options) : source;
    return new InferenceSession(model, options);
  }

  static async create(source: string | Uint8Array | ArrayBuffer | Model, options: SessionOptions = {}): Promise<InferenceSession> {
    return InferenceSession.createSync(source, options);
  }

  /** Stops the worker thread of `threads: 2` (a no-op otherwise); the session can still run, on one thread. */
  async release(): Promise<void> {
    this.pool?.close();
  }

  get graph(): Graph {
    return this.model.graph;
  }

  /** Runs the model; every output must be a tensor (see runValues for sequences and optionals). */
  runSync(feeds: Feeds, fetches?: readonly string[]): Record<string, Tensor> {
    const out = this.runValues(feeds, fetches);
    for (const [k, v] of Object.entries(out)) {
      if (!(v instanceof Tensor)) throw new RnnxError(`Output '${k}' is a ${describeValue(v)}: use runValues() for sequence and optional outputs`);
    }
    return out as Record<string, Tensor>;
  }

  /** Runs the model with any values: a sequence feed may be a Tensor[] or a TensorSequence. */
  runValues(feeds: ValueFeeds, fetches?: readonly string[]): Record<string, Value> {
    const values = new Map<string, Value>();
    for (const [k, v] of this.plan.constants) values.set(k, v);
    const byName = new Map(this.inputMetadata.map((v) => [v.name, v]));
    for (const name of Object.keys(feeds)) {
      if (!byName.has(name)) throw new RnnxError(`Feed '${name}' is not an input of the model (inputs: ${this.inputNames.join(', ') || 'none'})`);
    }
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length > 0) throw new RnnxError(`Missing feed${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
    for (const info of this.inputMetadata) values.set(info.name, feedValue(info, feeds[info.name]));
    for (const f of fetches ?? []) {
      if (!this.outputNames.includes(f)) throw new RnnxError(`Fetch '${f}' is not an output of the model (outputs: ${this.outputNames.join(', ')})`);
    }
    this.plan.execute(values);
    const result: Record<string, Value> = {};
    for (const name of fetches ?? this.outputNames) result[name] = values.get(name)!;
    return result;
  }

  async run(feeds: Feeds, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    return this.runSync(feeds, fetches);
  }

  /** A stream that carries the recurrent state from call to call (src/runtime/stream.ts). */
  createStream(options: StreamOptions = {}): Stream {
    return createStream(this, options);
  }

  /** Many streams whose ready chunks run as one batch (src/runtime/batcher.ts). */
  createStreamBatcher(options: BatcherOptions = {}): StreamBatcher {
    return createStreamBatcher(this, options);
  }
}

/** A feed as the graph input declares it: a tensor, a sequence, or an optional. */
function feedValue(info: ValueInfo, v: unknown): Value {
  const what = `Feed '${info.name}'`;
  const kind = info.kind ?? 'tensor';
  const seq = (x: unknown): TensorSequence => {
    if (!Array.isArray(x) && !(x instanceof TensorSequence)) throw new RnnxError(`${what}: expected a sequence (an array of tensors)`);
    const items = x instanceof TensorSequence ? x.items : x.map((t, i) => asTensor(t, `${what}[${i}]`));
    items.forEach((t, i) => { if (info.type && t.type !== info.type) throw new RnnxError(`${what}[${i}]: expected ${info.type}, got ${t.type}`); });
    return x instanceof TensorSequence ? x : new TensorSequence(info.type, items);
  };
  if (kind === 'sequence') return seq(v);
  if (kind === 'optional') {
    if (v instanceof OptionalValue) return v;
    if (v === null) return new OptionalValue(undefined);
    return new OptionalValue(Array.isArray(v) || v instanceof TensorSequence ? seq(v) : asTensor(v, what));
  }
  const t = asTensor(v, what);
  checkFeed(info, t);
  return t;
}

function checkFeed(info: ValueInfo, t: Tensor): void {
  if (info.type && t.type !== info.type) {
    throw new RnnxError(`Feed '${info.name}': expected ${info.type}, got ${t.type}`);
  }
  if (!info.shape) return;
  const want = info.shape.map((d) => (typeof d === 'number' ? String(d) : (d ?? '?')));
  if (t.dims.length !== info.shape.length || info.shape.some((d, i) => typeof d === 'number' && d !== t.dims[i])) {
    throw new RnnxError(`Feed '${info.name}': expected shape [${want.join(', ')}], got [${t.dims.join(', ')}]`);
  }
}
