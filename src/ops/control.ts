import { nodeError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { defineOp, defineValueOp, runBodies, type AttrReader, type BodyRuns, type Inputs, type OpContext, type Scope, type SubgraphPlan, type ValueInputs } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

function body(ctx: OpContext, a: AttrReader, name: string): SubgraphPlan {
  const g = a.graph(name);
  if (!g) throw a.error(name, 'is required');
  if (!ctx.subgraph) throw nodeError(ctx.node, 'subgraphs are not available here');
  return ctx.subgraph(g);
}

/** Stacks equal-shaped slices along a new axis `axis` (in order, or reversed). */
function stack(slices: readonly Tensor[], axis: number, reverse: boolean, empty: { type: Tensor['type']; dims: readonly number[] } | undefined, ctx: OpContext): Tensor {
  if (slices.length === 0) {
    const e = empty ?? { type: 'float32' as const, dims: [] };
    const dims = [...e.dims];
    dims.splice(axis, 0, 0);
    return new Tensor(e.type, allocData(e.type, 0), dims);
  }
  const first = slices[0];
  for (const s of slices) {
    if (s.type !== first.type || s.dims.length !== first.dims.length || s.dims.some((d, i) => d !== first.dims[i])) {
      throw nodeError(ctx.node, `scan outputs change shape across iterations: [${first.dims}] then [${s.dims}]`);
    }
  }
  const T = slices.length;
  const outer = sizeOf(first.dims.slice(0, axis)), inner = sizeOf(first.dims.slice(axis));
  const out = allocData(first.type, T * first.size) as AnyArr;
  slices.forEach((s, k) => {
    const t = reverse ? T - 1 - k : k;
    const S = s.data as AnyArr;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out[(o * T + t) * inner + i] = S[o * inner + i];
  });
  const dims = [...first.dims];
  dims.splice(axis, 0, T);
  return new Tensor(first.type, out as TensorData, dims);
}

function elemInfo(g: Graph, i: number): { type: Tensor['type']; dims: readonly number[] } | undefined {
  const o = g.outputs[i];
  if (!o?.type) return undefined;
  const dims = o.shape?.every((d) => typeof d === 'number') ? (o.shape as number[]) : [];
  return { type: o.type, dims };
}

interface Branches {
  then: SubgraphPlan;
  else: SubgraphPlan;
}

function needScope(scope: Scope | undefined, ctx: OpContext): Scope {
  if (!scope) throw nodeError(ctx.node, 'subgraphs run only inside a session run');
  return scope;
}

/** If: runs then_branch or else_branch on a boolean scalar. */
export const If = defineValueOp<Branches>({
  parse: (ctx, a) => ({ then: body(ctx, a, 'then_branch'), else: body(ctx, a, 'else_branch') }),
  run: (inputs, p, ctx, scope) => runBodies(new IfRuns(inputs, p, ctx), needScope(scope, ctx), ctx.node),
  bodies: (inputs, p, ctx) => new IfRuns(inputs, p, ctx),
});

class IfRuns implements BodyRuns {
  readonly body: SubgraphPlan;
  readonly inputs: readonly Value[] = [];
  private outs: readonly Value[] | undefined;
  private started = false;
  constructor(inputs: ValueInputs, p: Branches, private readonly ctx: OpContext) {
    const cond = inputs[0];
    if (!(cond instanceof Tensor) || cond.size !== 1) throw nodeError(ctx.node, 'input 0 (cond) must be a one-element tensor');
    this.body = cond.data[0] ? p.then : p.else;
  }
  next(): boolean {
    if (this.started) return false;
    this.started = true;
    return true;
  }
  take(outs: readonly Value[]): void {
    if (outs.length !== this.ctx.node.outputs.length) {
      throw nodeError(this.ctx.node, `the chosen branch yields ${outs.length} outputs, the node has ${this.ctx.node.outputs.length}`);
    }
    this.outs = outs;
  }
  result(): Value[] {
    return this.outs!.slice();
  }
}

/**
 * Loop: body(iteration_num, cond, v…) -> (cond, v…, scan…) while i < M and cond; loop-carried
 * values come out last, scan outputs stacked along a new first axis.
 */
export const Loop = defineValueOp<SubgraphPlan>({
  parse: (ctx, a) => body(ctx, a, 'body'),
  run: (inputs, plan, ctx, scope) => runBodies(new LoopRuns(inputs, plan, ctx, needScope(scope, ctx)), needScope(scope, ctx), ctx.node),
  bodies: (inputs, plan, ctx, scope) => new LoopRuns(inputs, plan, ctx, scope),
});

class LoopRuns implements BodyRuns {
  /** The body's inputs: [iteration_num, cond, v…], refilled for each iteration. */
  readonly inputs: Value[];
  private readonly N: number;
  private readonly K: number;
  private readonly maxTrips: number;
  private readonly condIn: boolean;
  private cond: boolean;
  private i = 0;
  private readonly scans: Tensor[][];
  constructor(inputs: ValueInputs, readonly body: SubgraphPlan, private readonly ctx: OpContext, private readonly scope: Scope) {
    const [M, condIn, ...carried] = inputs;
    if ((M && !(M instanceof Tensor)) || (condIn && !(condIn instanceof Tensor))) throw nodeError(ctx.node, 'M and cond must be tensors');
    const g = body.graph;
    this.N = carried.length;
    this.K = g.outputs.length - 1 - this.N;
    if (this.K < 0) throw nodeError(ctx.node, `body has ${g.outputs.length} outputs for ${this.N} loop-carried values`);
    if (carried.some((t) => t === undefined)) throw nodeError(ctx.node, 'loop-carried inputs must be present');
    this.maxTrips = M ? Number(M.data[0]) : Infinity;
    this.condIn = condIn !== undefined;
    this.cond = condIn ? Boolean(condIn.data[0]) : true;
    this.inputs = [undefined, undefined, ...carried] as unknown as Value[];
    this.scans = Array.from({ length: this.K }, () => []);
  }
  next(): boolean {
    if (!(this.i < this.maxTrips && this.cond)) return false;
    this.scope.tick(this.ctx.node);
    this.inputs[0] = new Tensor('int64', BigInt64Array.of(BigInt(this.i)), []);
    this.inputs[1] = new Tensor('bool', Uint8Array.of(this.cond ? 1 : 0), []);
    return true;
  }
  take(outs: readonly Value[]): void {
    const { N, K } = this;
    if (this.condIn) this.cond = Boolean(tensorOut(outs[0], this.ctx).data[0]);
    for (let k = 0; k < N; k++) this.inputs[2 + k] = outs[1 + k];
    for (let k = 0; k < K; k++) this.scans[k].push(tensorOut(outs[1 + N + k], this.ctx));
    this.i++;
  }
  result(): Value[] {
    const out: Value[] = this.inputs.slice(2);
    for (let k = 0; k < this.K; k++) out.push(stack(this.scans[k], 0, false, elemInfo(this.body.graph, 1 + this.N + k), this.ctx));
    return out;
  }
}

interface ScanAttrs {
  plan: SubgraphPlan;
  numScanInputs: number;
  inAxes?: readonly number[];
  inDirs?: readonly number[];
  outAxes?: readonly number[];
  outDirs?: readonly number[];
}

/** Scan (opset 9+): iterates the body over slices of the scan inputs, carrying state. */
export const Scan = defineOp<ScanAttrs>({
  parse: (ctx, a) => {
    const numScanInputs = a.int('num_scan_inputs');
    if (numScanInputs === undefined || numScanInputs < 1) throw a.error('num_scan_inputs', 'is required (>= 1)');
    return {
      plan: body(ctx, a, 'body'), numScanInputs,
      inAxes: a.ints('scan_input_axes'), inDirs: a.ints('scan_input_directions'),
      outAxes: a.ints('scan_output_axes'), outDirs: a.ints('scan_output_directions'),
    };
  },
  run: (inputs, p, ctx, _reuse, scope) => runBodies(new ScanRuns(inputs, p, ctx, needScope(scope, ctx)), needScope(scope, ctx), ctx.node) as (Tensor | undefined)[],
  bodies: (inputs, p, ctx, scope) => new ScanRuns(inputs as Inputs, p, ctx, scope),
});

class ScanRuns implements BodyRuns {
  readonly body: SubgraphPlan;
  /** The body's inputs: [state…, slice…], refilled for each iteration. */
  readonly inputs: Value[];
  private readonly N: number;
  private readonly K: number;
  private readonly T: number;
  private readonly xs: Tensor[];
  private readonly axes: number[];
  private t = 0;
  private readonly scans: Tensor[][];
  constructor(inputs: Inputs, private readonly p: ScanAttrs, private readonly ctx: OpContext, private readonly scope: Scope) {
    this.body = p.plan;
    const M = p.numScanInputs;
    const N = inputs.length - M;
    if (N < 0 || inputs.some((t) => !(t instanceof Tensor))) throw nodeError(ctx.node, `expected ${M} scan inputs after the states, all present`);
    const xs = inputs.slice(N) as Tensor[];
    const axes = xs.map((x, j) => {
      const a = p.inAxes?.[j] ?? 0;
      return a < 0 ? a + x.dims.length : a;
    });
    const T = xs[0].dims[axes[0]];
    xs.forEach((x, j) => {
      if (x.dims[axes[j]] !== T) throw nodeError(ctx.node, `scan input ${j} has ${x.dims[axes[j]]} steps on axis ${axes[j]}, expected ${T}`);
    });
    this.N = N;
    this.K = p.plan.graph.outputs.length - N;
    this.T = T;
    this.xs = xs;
    this.axes = axes;
    this.inputs = inputs.slice() as Value[];
    this.scans = Array.from({ length: this.K }, () => []);
  }
  next(): boolean {
    const { t, T, N } = this;
    if (t >= T) return false;
    this.scope.tick(this.ctx.node);
    for (let j = 0; j < this.xs.length; j++) this.inputs[N + j] = sliceAt(this.xs[j], this.axes[j], this.p.inDirs?.[j] ? T - 1 - t : t);
    return true;
  }
  take(outs: readonly Value[]): void {
    const { N, K } = this;
    for (let k = 0; k < N; k++) this.inputs[k] = tensorOut(outs[k], this.ctx);
    for (let k = 0; k < K; k++) this.scans[k].push(tensorOut(outs[N + k], this.ctx));
    this.t++;
  }
  result(): Tensor[] {
    const out = this.inputs.slice(0, this.N) as Tensor[];
    for (let k = 0; k < this.K; k++) {
      const s = this.scans[k];
      const r = (s[0]?.dims.length ?? 0) + 1;
      let ax = this.p.outAxes?.[k] ?? 0;
      if (ax < 0) ax += r;
      out.push(stack(s, ax, Boolean(this.p.outDirs?.[k]), elemInfo(this.body.graph, this.N + k), this.ctx));
    }
    return out;
  }
}

function tensorOut(v: Value, ctx: OpContext): Tensor {
  if (!(v instanceof Tensor)) throw nodeError(ctx.node, `the body produced a ${v.kind} where a tensor is needed`);
  return v;
}

/** x with index t taken on `axis` (the axis removed). */
function sliceAt(x: Tensor, axis: number, t: number): Tensor {
  const D = x.dims[axis];
  const outer = sizeOf(x.dims.slice(0, axis)), inner = sizeOf(x.dims.slice(axis + 1));
  const X = x.data as AnyArr;
  const out = allocData(x.type, outer * inner) as AnyArr;
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out[o * inner + i] = X[(o * D + t) * inner + i];
  return new Tensor(x.type, out as TensorData, x.dims.filter((_, i) => i !== axis));
}
