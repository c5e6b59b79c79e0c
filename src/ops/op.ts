import { nodeError, type NodeRef } from '../ir/errors.js';
import type { Attribute, Graph, Node } from '../ir/graph.js';
import type { DataType, Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import type { GemmPool } from '../wasm/threads.js';

export interface OpContext {
  readonly node: Node;
  /** The model's opset for the node's domain. */
  readonly opset: number;
  /** Input i when it is a constant (initializer) known at prepare time, so ops can pack it once. */
  readonly constant?: (i: number) => Tensor | undefined;
  /**
   * True when input i is a constant or a value the executor keeps unchanged from run to run (shape
   * arithmetic cached from the feeds' shapes): such a tensor object never changes, so an op may
   * keep what it derives from it (ScatterND's offsets, Gather's indices) keyed by the object.
   */
  readonly frozen?: (i: number) => boolean;
  /** The session's worker-thread GEMM pool (InferenceSession option `threads: 2`), if any. */
  readonly pool?: GemmPool;
  /** Prepares a subgraph attribute (If/Loop/Scan bodies) that may read this graph's values. */
  readonly subgraph?: (g: Graph) => SubgraphPlan;
}

/**
 * The enclosing run as a node with subgraphs sees it: passed to the bodies it runs, and ticked
 * once per loop iteration (the run's shared iteration budget, abort signal and memory check).
 */
export interface Scope {
  tick(node: NodeRef): void;
}

/** A prepared subgraph: `run` binds its graph inputs, runs it inside `scope`, returns its outputs. */
export interface SubgraphPlan {
  readonly graph: Graph;
  run(scope: Scope, inputs: readonly Value[], node: NodeRef): Value[];
}

/**
 * The body runs of one call of an op with subgraphs (If, Loop, Scan), driven by the executor:
 * `next()` says whether another body run is wanted (then `body` and `inputs` name it), `take`
 * receives that run's outputs, `result` gives the op's outputs. Between body runs the executor
 * may pause (an async run yields to the event loop there), so long loops stay responsive.
 */
export interface BodyRuns {
  /** The body the next run executes, and its inputs (valid after `next()` returned true). */
  readonly body: SubgraphPlan;
  readonly inputs: readonly Value[];
  next(): boolean;
  take(outs: readonly Value[]): void;
  result(): (Value | undefined)[];
}

/** Drives body runs to the end without pausing (an op's synchronous `run`). */
export function runBodies(runs: BodyRuns, scope: Scope, node: NodeRef): (Value | undefined)[] {
  while (runs.next()) runs.take(runs.body.run(scope, runs.inputs, node));
  return runs.result();
}

export type Inputs = readonly (Tensor | undefined)[];
/** Inputs of ops that take sequences and optionals too. */
export type ValueInputs = readonly (Value | undefined)[];

/**
 * One op: `parse` reads and validates the attributes once when a session is created (built and
 * imported graphs alike); `run` is a pure function of the input tensors and parsed attributes.
 */
export interface OpDef<A = unknown> {
  /** True for ops whose inputs and outputs may be sequences or optionals (see defineValueOp). */
  readonly values?: boolean;
  parse(ctx: OpContext, attrs: AttrReader): A;
  /**
   * `reuse(i)`: input i dies at this node and no live value shares its buffer, so it may be
   * overwritten. `scope`: the enclosing run, for ops that run subgraphs.
   */
  run(inputs: Inputs, attrs: A, ctx: OpContext, reuse?: (i: number) => boolean, scope?: Scope): (Tensor | undefined)[];
  /**
   * Ops that run subgraphs may give their call as body runs (see BodyRuns): the executor then
   * drives those instead of calling `run`, and can pause between them.
   */
  readonly bodies?: (inputs: ValueInputs, attrs: A, ctx: OpContext, scope: Scope) => BodyRuns;
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** An op over any values (tensors, sequences, optionals): the executor passes them through unchecked. */
export function defineValueOp<A>(def: {
  parse(ctx: OpContext, attrs: AttrReader): A;
  run(inputs: ValueInputs, attrs: A, ctx: OpContext, scope?: Scope): (Value | undefined)[];
  bodies?: OpDef<A>['bodies'];
}): OpDef<A> {
  return {
    values: true,
    parse: def.parse,
    // OpDef.run is typed for tensors because ops call each other's run (Conv inside ConvInteger, …)
    // and use the results as tensors; value ops are only ever called by the executor, whose value
    // map holds any Value.
    run: (inputs, attrs, ctx, _reuse, scope) => def.run(inputs, attrs, ctx, scope) as (Tensor | undefined)[],
    bodies: def.bodies,
  };
}

/** Typed attribute access that remembers what was read, so unread (unsupported) attributes can be refused. */
export class AttrReader {
  private readonly read = new Set<string>();
  constructor(private readonly ctx: OpContext) {}

  private get(name: string, type: Attribute['type']): Attribute | undefined {
    this.read.add(name);
    const a = this.ctx.node.attributes.get(name);
    if (a === undefined) return undefined;
    if (a.type !== type) throw this.error(name, `expected ${type}, got ${a.type}`);
    return a;
  }
  has(name: string): boolean {
    return this.ctx.node.attributes.has(name);
  }
  int(name: string, dflt: number): number;
  int(name: string): number | undefined;
  int(name: string, dflt?: number): number | undefined {
    return (this.get(name, 'int')?.value as number | undefined) ?? dflt;
  }
  float(name: string, dflt: number): number;
  float(name: string): number | undefined;
  float(name: string, dflt?: number): number | undefined {
    return (this.get(name, 'float')?.value as number | undefined) ?? dflt;
  }
  string(name: string, dflt: string): string;
  string(name: string): string | undefined;
  string(name: string, dflt?: string): string | undefined {
    return (this.get(name, 'string')?.value as string | undefined) ?? dflt;
  }
  ints(name: string): readonly number[] | undefined {
    return this.get(name, 'ints')?.value as readonly number[] | undefined;
  }
  floats(name: string): readonly number[] | undefined {
    return this.get(name, 'floats')?.value as readonly number[] | undefined;
  }
  strings(name: string): readonly string[] | undefined {
    return this.get(name, 'strings')?.value as readonly string[] | undefined;
  }
  tensor(name: string): Tensor | undefined {
    return this.get(name, 'tensor')?.value as Tensor | undefined;
  }
  graph(name: string): Graph | undefined {
    return this.get(name, 'graph')?.value as Graph | undefined;
  }
  /** Marks attributes that do not change the numbers at inference (e.g. Dropout's seed). */
  ignore(...names: string[]): void {
    for (const n of names) this.read.add(n);
  }
  error(name: string, detail: string): Error {
    return nodeError(this.ctx.node, `attribute '${name}': ${detail}`);
  }
  /** Throws for any attribute the op did not read: never ignore one that could change the numbers. */
  assertAllRead(): void {
    const unread = [...this.ctx.node.attributes.keys()].filter((k) => !this.read.has(k));
    if (unread.length > 0) {
      throw nodeError(this.ctx.node, `attribute${unread.length > 1 ? 's' : ''} ${unread.map((u) => `'${u}'`).join(', ')} not supported for opset ${this.ctx.opset}`);
    }
  }
}

/** An input that must be present. */
export function need(inputs: Inputs, i: number, ctx: OpContext, what?: string): Tensor {
  const t = inputs[i];
  if (t === undefined) throw nodeError(ctx.node, `input ${i}${what ? ` (${what})` : ''} is required but missing`);
  return t;
}

export function checkType(t: Tensor, allowed: readonly DataType[], i: number, ctx: OpContext, what?: string): void {
  if (!allowed.includes(t.type)) {
    throw nodeError(ctx.node, `input ${i}${what ? ` (${what})` : ''}: expected ${allowed.join(' | ')}, got ${t.type}`);
  }
}

export function normAxis(axis: number, rank: number, ctx: OpContext, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw nodeError(ctx.node, `${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Reads an int64/int32 tensor as numbers (shapes, axes, indices). */
export function intsOf(t: Tensor): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i] as number | bigint);
  return out;
}

export const FLOATS: readonly DataType[] = ['float32', 'float64'];
export const NUMERIC: readonly DataType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
