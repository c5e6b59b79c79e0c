import { nodeError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { defineOp, defineValueOp, type AttrReader, type OpContext, type Scope, type SubgraphPlan } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

function body(ctx: OpContext, a: AttrReader, name: string): SubgraphPlan {
  const g = a.graph(name);
  if (!g) throw a.error(name, 'is required');
  if (!ctx.subgraph) throw nodeError(ctx.node, 'subgraphs are not available here');
  return ctx.subgraph(g);
}

/** Runs a subgraph with `bind` values for its inputs inside the enclosing run. */
function runBody(plan: SubgraphPlan, scope: Scope | undefined, bind: readonly Value[], ctx: OpContext): Value[] {
  if (!scope) throw nodeError(ctx.node, 'subgraphs run only inside a session run');
  return plan.run(scope, bind, ctx.node);
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

/** If: runs then_branch or else_branch on a boolean scalar. */
export const If = defineValueOp({
  parse: (ctx, a) => ({ then: body(ctx, a, 'then_branch'), else: body(ctx, a, 'else_branch') }),
  run(inputs, p, ctx, scope) {
    const cond = inputs[0];
    if (!(cond instanceof Tensor) || cond.size !== 1) throw nodeError(ctx.node, 'input 0 (cond) must be a one-element tensor');
    const plan = cond.data[0] ? p.then : p.else;
    const outs = runBody(plan, scope, [], ctx);
    if (outs.length !== ctx.node.outputs.length) {
      throw nodeError(ctx.node, `the chosen branch yields ${outs.length} outputs, the node has ${ctx.node.outputs.length}`);
    }
    return outs;
  },
});

/**
 * Loop: body(iteration_num, cond, v…) -> (cond, v…, scan…) while i < M and cond; loop-carried
 * values come out last, scan outputs stacked along a new first axis.
 */
export const Loop = defineValueOp({
  parse: (ctx, a) => body(ctx, a, 'body'),
  run(inputs, plan, ctx, scope) {
    const [M, condIn, ...carried] = inputs;
    if ((M && !(M instanceof Tensor)) || (condIn && !(condIn instanceof Tensor))) throw nodeError(ctx.node, 'M and cond must be tensors');
    const g = plan.graph;
    const N = carried.length;
    const K = g.outputs.length - 1 - N;
    if (K < 0) throw nodeError(ctx.node, `body has ${g.outputs.length} outputs for ${N} loop-carried values`);
    if (carried.some((t) => t === undefined)) throw nodeError(ctx.node, 'loop-carried inputs must be present');
    const maxTrips = M ? Number(M.data[0]) : Infinity;
    let cond = condIn ? Boolean(condIn.data[0]) : true;
    let vs = carried as Value[];
    const scans: Tensor[][] = Array.from({ length: K }, () => []);
    let i = 0;
    for (; i < maxTrips && cond; i++) {
      scope?.tick(ctx.node);
      const outs = runBody(plan, scope, [new Tensor('int64', BigInt64Array.of(BigInt(i)), []), new Tensor('bool', Uint8Array.of(cond ? 1 : 0), []), ...vs], ctx);
      if (condIn) cond = Boolean(tensorOut(outs[0], ctx).data[0]);
      vs = outs.slice(1, 1 + N);
      outs.slice(1 + N).forEach((t, k) => scans[k].push(tensorOut(t, ctx)));
    }
    return [...vs, ...scans.map((s, k) => stack(s, 0, false, elemInfo(g, 1 + N + k), ctx))];
  },
});

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
  run(inputs, p, ctx, _reuse, scope) {
    const g = p.plan.graph;
    const M = p.numScanInputs;
    const N = inputs.length - M;
    if (N < 0 || inputs.some((t) => t === undefined)) throw nodeError(ctx.node, `expected ${M} scan inputs after the states, all present`);
    const states0 = inputs.slice(0, N) as Tensor[];
    const xs = inputs.slice(N) as Tensor[];
    const axes = xs.map((x, j) => {
      const a = p.inAxes?.[j] ?? 0;
      return a < 0 ? a + x.dims.length : a;
    });
    const T = xs[0].dims[axes[0]];
    xs.forEach((x, j) => {
      if (x.dims[axes[j]] !== T) throw nodeError(ctx.node, `scan input ${j} has ${x.dims[axes[j]]} steps on axis ${axes[j]}, expected ${T}`);
    });
    const K = g.outputs.length - N;
    let states = states0;
    const scans: Tensor[][] = Array.from({ length: K }, () => []);
    for (let t = 0; t < T; t++) {
      scope?.tick(ctx.node);
      const slices = xs.map((x, j) => sliceAt(x, axes[j], p.inDirs?.[j] ? T - 1 - t : t));
      const outs = runBody(p.plan, scope, [...states, ...slices], ctx).map((o) => tensorOut(o, ctx));
      states = outs.slice(0, N);
      outs.slice(N).forEach((o, k) => scans[k].push(o));
    }
    return [...states, ...scans.map((s, k) => {
      const r = (s[0]?.dims.length ?? 0) + 1;
      let ax = p.outAxes?.[k] ?? 0;
      if (ax < 0) ax += r;
      return stack(s, ax, Boolean(p.outDirs?.[k]), elemInfo(g, N + k), ctx);
    })];
  },
});

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
