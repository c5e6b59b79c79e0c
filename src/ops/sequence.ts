import { nodeError } from '../ir/errors.js';
import { Tensor, dtypeFromOnnx, type DataType } from '../ir/tensor.js';
import { OptionalValue, TensorSequence, describeValue, type Value } from '../ir/value.js';
import { defineValueOp, intsOf, normAxis, type OpContext, type SubgraphPlan } from './op.js';
import { concatTensors, sliceAxis } from './shape.js';

function seqIn(v: Value | undefined, i: number, ctx: OpContext): TensorSequence {
  if (!(v instanceof TensorSequence)) throw nodeError(ctx.node, `input ${i}: expected a sequence, got ${describeValue(v)}`);
  return v;
}
function tensorIn(v: Value | undefined, i: number, ctx: OpContext): Tensor {
  if (!(v instanceof Tensor)) throw nodeError(ctx.node, `input ${i}: expected a tensor, got ${describeValue(v)}`);
  return v;
}
/** A position input: an integer scalar in [-n, n) (or [-n, n] where `end` allows appending). */
function position(v: Value | undefined, n: number, end: boolean, ctx: OpContext): number {
  const hi = end ? n : n - 1;
  let p = hi; // absent: the back
  if (v !== undefined) {
    const t = tensorIn(v, 1, ctx);
    if (t.size !== 1 || (t.type !== 'int64' && t.type !== 'int32')) throw nodeError(ctx.node, 'position must be an int32/int64 scalar');
    p = Number(t.data[0]);
  }
  if (p < -n || p > hi) throw nodeError(ctx.node, `position ${p} is out of range for a sequence of ${n}`);
  if (p < 0) p += n;
  return p;
}
function sameType(items: readonly Tensor[], type: DataType | undefined, ctx: OpContext): DataType | undefined {
  const t = type ?? items[0]?.type;
  for (const x of items) if (x.type !== t) throw nodeError(ctx.node, `sequence elements must all be ${t}, got ${x.type}`);
  return t;
}

export const SequenceEmpty = defineValueOp({
  parse: (_c, a) => {
    const code = a.int('dtype', 1);
    const t = dtypeFromOnnx(code);
    if (!t) throw a.error('dtype', `unsupported ${code}`);
    return t;
  },
  run: (_i, type) => [new TensorSequence(type, [])],
});

export const SequenceConstruct = defineValueOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const items = inputs.map((v, i) => tensorIn(v, i, ctx));
    return [new TensorSequence(sameType(items, undefined, ctx), items)];
  },
});

export const SequenceInsert = defineValueOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const s = seqIn(inputs[0], 0, ctx);
    const t = tensorIn(inputs[1], 1, ctx);
    const at = position(inputs[2], s.items.length, true, ctx);
    const items = [...s.items];
    items.splice(at, 0, t);
    return [new TensorSequence(sameType(items, s.elemType, ctx), items)];
  },
});

export const SequenceAt = defineValueOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const s = seqIn(inputs[0], 0, ctx);
    if (inputs[1] === undefined) throw nodeError(ctx.node, 'input 1 (position) is required');
    return [s.items[position(inputs[1], s.items.length, false, ctx)]];
  },
});

export const SequenceErase = defineValueOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const s = seqIn(inputs[0], 0, ctx);
    const at = position(inputs[1], s.items.length, false, ctx);
    return [new TensorSequence(s.elemType, s.items.filter((_, i) => i !== at))];
  },
});

export const SequenceLength = defineValueOp({
  parse: () => null,
  run: (inputs, _p, ctx) => [new Tensor('int64', [BigInt(seqIn(inputs[0], 0, ctx).items.length)], [])],
});

/** ConcatFromSequence: concatenates along `axis`, or stacks along a new one with new_axis=1. */
export const ConcatFromSequence = defineValueOp({
  parse: (_c, a) => {
    const axis = a.int('axis');
    if (axis === undefined) throw a.error('axis', 'is required');
    return { axis, newAxis: a.int('new_axis', 0) !== 0 };
  },
  run(inputs, p, ctx) {
    const s = seqIn(inputs[0], 0, ctx);
    if (s.items.length === 0) throw nodeError(ctx.node, 'cannot concatenate an empty sequence');
    if (!p.newAxis) return [concatTensors(s.items, p.axis, ctx)];
    const r = s.items[0].dims.length + 1;
    const ax = normAxis(p.axis, r, ctx);
    const lifted = s.items.map((t) => t.reshape([...t.dims.slice(0, ax), 1, ...t.dims.slice(ax)]));
    return [concatTensors(lifted, ax, ctx)];
  },
});

/** SplitToSequence: equal chunks of `split` (scalar), explicit sizes (1-D), or size-1 pieces (keepdims). */
export const SplitToSequence = defineValueOp({
  parse: (_c, a) => ({ axis: a.int('axis', 0), keepdims: a.int('keepdims', 1) !== 0 }),
  run(inputs, p, ctx) {
    const x = tensorIn(inputs[0], 0, ctx);
    const ax = normAxis(p.axis, x.dims.length, ctx);
    const D = x.dims[ax];
    let sizes: number[];
    const sp = inputs[1];
    if (sp === undefined) sizes = new Array(D).fill(1);
    else {
      const st = tensorIn(sp, 1, ctx);
      const vals = intsOf(st);
      if (st.dims.length === 0) sizes = Array.from({ length: Math.ceil(D / vals[0]) }, (_, i) => Math.min(vals[0], D - i * vals[0]));
      else sizes = vals;
      if (sizes.reduce((a, b) => a + b, 0) !== D) throw nodeError(ctx.node, `split sizes [${sizes}] do not sum to ${D}`);
    }
    let start = 0;
    const items = sizes.map((len) => {
      const t = sliceAxis(x, ax, start, len);
      start += len;
      return sp === undefined && !p.keepdims ? t.reshape(t.dims.filter((_, i) => i !== ax)) : t;
    });
    return [new TensorSequence(x.type, items)];
  },
});

export const Optional = defineValueOp({
  parse: (_c, a) => {
    a.ignore('type');
    return null;
  },
  run(inputs) {
    const v = inputs[0];
    if (v instanceof OptionalValue) return [v];
    return [new OptionalValue(v as Tensor | TensorSequence | undefined)];
  },
});

export const OptionalHasElement = defineValueOp({
  parse: () => null,
  run(inputs) {
    const v = inputs[0];
    const has = v instanceof OptionalValue ? v.value !== undefined : v !== undefined;
    return [new Tensor('bool', [has ? 1 : 0], [])];
  },
});

export const OptionalGetElement = defineValueOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const v = inputs[0];
    if (v instanceof OptionalValue) {
      if (v.value === undefined) throw nodeError(ctx.node, 'the optional input is empty');
      return [v.value];
    }
    if (v === undefined) throw nodeError(ctx.node, 'input 0 is required');
    return [v];
  },
});

/** SequenceMap: runs the body once per element; sequence inputs are indexed, tensor inputs passed whole. */
export const SequenceMap = defineValueOp<SubgraphPlan>({
  parse: (ctx, a) => {
    const g = a.graph('body');
    if (!g) throw a.error('body', 'is required');
    if (!ctx.subgraph) throw nodeError(ctx.node, 'subgraphs are not available here');
    return ctx.subgraph(g);
  },
  run(inputs, plan, ctx, scope) {
    const first = seqIn(inputs[0], 0, ctx);
    const n = first.items.length;
    inputs.forEach((v, i) => {
      if (v instanceof TensorSequence && v.items.length !== n) throw nodeError(ctx.node, `input ${i} has ${v.items.length} elements, input 0 has ${n}`);
    });
    const g = plan.graph;
    const outs: Tensor[][] = g.outputs.map(() => []);
    if (!scope) throw nodeError(ctx.node, 'subgraphs run only inside a session run');
    for (let k = 0; k < n; k++) {
      scope.tick(ctx.node);
      const bind = g.inputs.map((_, i) => {
        const v = inputs[i];
        return v instanceof TensorSequence ? v.items[k] : (v as Value);
      });
      const res = plan.run(scope, bind, ctx.node);
      g.outputs.forEach((o, j) => {
        const t = res[j];
        if (!(t instanceof Tensor)) throw nodeError(ctx.node, `body output '${o.name}' must be a tensor`);
        outs[j].push(t);
      });
    }
    return outs.map((items, j) => new TensorSequence(items[0]?.type ?? g.outputs[j].type, items));
  },
});
