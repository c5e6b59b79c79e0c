import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, sameDims, sizeOf, type TensorData } from '../ir/tensor.js';
import { softmaxRows } from '../wasm/rows.js';
import { checkType, defineOp, intsOf, need, normAxis, NUMERIC, type OpDef } from './op.js';

interface ReduceAttrs {
  axes?: readonly number[];
  keepdims: boolean;
  noopWithEmptyAxes: boolean;
  /** the plan of the last input shape and axes (replaced, never changed) */
  last: ReducePlan | null;
}

type Arr = { length: number; [i: number]: number };

/**
 * A reduction's shape work for one input shape and set of axes, never changed once built. Adjacent
 * reduced axes (the last axis, [C, H, W] of NCHW, one middle axis, …) walk x as [outer, nRed,
 * inner]; other sets use a table of the reduced elements' offsets and each output's base offset.
 */
interface ReducePlan {
  readonly inDims: readonly number[];
  /** the axes tensor the plan was built from (a never-changing one), or undefined */
  readonly axesT: Tensor | undefined;
  readonly outDims: readonly number[];
  readonly nOut: number;
  readonly nRed: number;
  readonly adjacent: boolean;
  readonly outer: number;
  readonly inner: number;
  readonly redOffsets: Int32Array;
  readonly baseOffsets: Int32Array;
}

function reducePlan(dims: readonly number[], axes: readonly number[], keepdims: boolean, axesT: Tensor | undefined): ReducePlan {
  const r = dims.length;
  const red = new Set(axes);
  const outDims = dims.flatMap((d, i) => (red.has(i) ? (keepdims ? [1] : []) : [d]));
  const keptAxes = dims.map((_, i) => i).filter((i) => !red.has(i));
  const strides = new Array<number>(r);
  for (let i = r - 1, s = 1; i >= 0; i--) { strides[i] = s; s *= dims[i]; }
  const nOut = sizeOf(keptAxes.map((i) => dims[i]));
  const redAxes = [...red].sort((a, b) => a - b);
  const nRed = sizeOf(redAxes.map((i) => dims[i]));
  const adjacent = redAxes.length === 0 || redAxes[redAxes.length - 1] - redAxes[0] === redAxes.length - 1;
  const inner = redAxes.length ? sizeOf(dims.slice(redAxes[redAxes.length - 1] + 1)) : 1;
  const outer = redAxes.length ? sizeOf(dims.slice(0, redAxes[0])) : nOut;
  const redOffsets = new Int32Array(adjacent ? 0 : nRed);
  const baseOffsets = new Int32Array(adjacent ? 0 : nOut);
  for (let k = 0; k < redOffsets.length; k++) {
    let rem = k, off = 0;
    for (let j = redAxes.length - 1; j >= 0; j--) {
      const d = dims[redAxes[j]];
      off += (rem % d) * strides[redAxes[j]];
      rem = Math.floor(rem / d);
    }
    redOffsets[k] = off;
  }
  for (let o = 0; o < baseOffsets.length; o++) {
    let rem = o, base = 0;
    for (let j = keptAxes.length - 1; j >= 0; j--) {
      const d = dims[keptAxes[j]];
      base += (rem % d) * strides[keptAxes[j]];
      rem = Math.floor(rem / d);
    }
    baseOffsets[o] = base;
  }
  return { inDims: dims, axesT, outDims, nOut, nRed, adjacent, outer, inner, redOffsets, baseOffsets };
}

/**
 * float32 sums over [outer, nRed, inner]: each output adds its nRed values in order in a double
 * (the same order and bits as the generic loop). Four outputs at a time, in four registers (four
 * columns of a middle-axis reduction, or four rows of a last-axis one): a single running sum is
 * bound by the latency of its additions, four independent ones are not.
 */
function sumF32(out: Float32Array, X: Float32Array, outer: number, nRed: number, inner: number, finish: (acc: number, count: number) => number): void {
  if (inner === 1) {
    let o = 0;
    for (; o + 4 <= outer; o += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let k = 0, s = o * nRed; k < nRed; k++, s++) { a0 += X[s]; a1 += X[s + nRed]; a2 += X[s + 2 * nRed]; a3 += X[s + 3 * nRed]; }
      out[o] = finish(a0, nRed); out[o + 1] = finish(a1, nRed); out[o + 2] = finish(a2, nRed); out[o + 3] = finish(a3, nRed);
    }
    for (; o < outer; o++) {
      let a = 0;
      for (let k = 0, s = o * nRed; k < nRed; k++, s++) a += X[s];
      out[o] = finish(a, nRed);
    }
    return;
  }
  for (let oo = 0; oo < outer; oo++) {
    const base = oo * nRed * inner, ob = oo * inner;
    let i = 0;
    for (; i + 4 <= inner; i += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let k = 0, s = base + i; k < nRed; k++, s += inner) { a0 += X[s]; a1 += X[s + 1]; a2 += X[s + 2]; a3 += X[s + 3]; }
      out[ob + i] = finish(a0, nRed); out[ob + i + 1] = finish(a1, nRed); out[ob + i + 2] = finish(a2, nRed); out[ob + i + 3] = finish(a3, nRed);
    }
    for (; i < inner; i++) {
      let a = 0;
      for (let k = 0, s = base + i; k < nRed; k++, s += inner) a += X[s];
      out[ob + i] = finish(a, nRed);
    }
  }
}

/** Reduction of x by a plan: `step` folds each element into the accumulator (plainSum: it adds). */
function reduce(
  x: Tensor, p: ReducePlan,
  init: number, step: (acc: number, v: number) => number, finish: (acc: number, count: number) => number, plainSum = false,
): Tensor {
  const { nOut, nRed, outer, inner } = p;
  if (plainSum && p.adjacent && x.data instanceof Float32Array && init === 0) {
    const out = allocData('float32', nOut) as Float32Array;
    sumF32(out, x.data, outer, nRed, inner, finish);
    return new Tensor('float32', out, p.outDims);
  }
  if (!isBig(x.type) && p.adjacent) {
    const X = x.data as Arr;
    const out = allocData(x.type, nOut) as Arr;
    for (let oo = 0, o = 0; oo < outer; oo++) {
      const base = oo * nRed * inner;
      for (let ii = 0; ii < inner; ii++, o++) {
        let acc = init;
        const e = base + ii + nRed * inner;
        if (plainSum) for (let k = base + ii; k < e; k += inner) acc += X[k];
        else for (let k = base + ii; k < e; k += inner) acc = step(acc, X[k]);
        out[o] = finish(acc, nRed);
      }
    }
    return new Tensor(x.type, out as unknown as TensorData, p.outDims);
  }
  const { redOffsets, baseOffsets } = p;
  const X = (isBig(x.type) ? Float64Array.from(x.data as BigInt64Array, Number) : x.data) as Arr;
  const out = allocData(x.type, nOut) as Arr;
  const vals = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    const base = baseOffsets[o];
    let acc = init;
    // Sums add inline (the same order as through `step`, without a call per element).
    if (plainSum) for (let k = 0; k < nRed; k++) acc += X[base + redOffsets[k]];
    else for (let k = 0; k < nRed; k++) acc = step(acc, X[base + redOffsets[k]]);
    vals[o] = finish(acc, nRed);
  }
  if (isBig(x.type)) {
    const big = out as unknown as BigInt64Array;
    for (let o = 0; o < nOut; o++) big[o] = BigInt(Math.trunc(vals[o]));
  } else for (let o = 0; o < nOut; o++) out[o] = vals[o];
  return new Tensor(x.type, out as unknown as TensorData, p.outDims);
}

/** Lowest and highest values of the integer types an empty ReduceMax/ReduceMin-20 can return. */
const EXTREMES: Partial<Record<Tensor['type'], [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295], bool: [0, 1],
};

const NUMERIC_BOOL: readonly Tensor['type'][] = [...NUMERIC, 'bool'];

/** Axes are an attribute before `inputSince`, an optional input after. */
function reduceOp(inputSince: number, init: number, step: (a: number, v: number) => number, finish: (a: number, n: number) => number, plainSum = false): OpDef<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    parse: (ctx, a) => ({
      axes: ctx.opset < inputSince ? a.ints('axes') : undefined,
      keepdims: a.int('keepdims', 1) !== 0,
      noopWithEmptyAxes: ctx.opset >= inputSince ? a.int('noop_with_empty_axes', 0) !== 0 : false,
      last: null,
    }),
    run(inputs, p, ctx) {
      const x = need(inputs, 0, ctx, 'data');
      const extremum = init === -Infinity || init === Infinity;
      // ReduceMax/ReduceMin-20 take bool (max = any, min = all: the same comparisons on 0/1).
      checkType(x, extremum && ctx.opset >= 20 ? NUMERIC_BOOL : NUMERIC, 0, ctx, 'data');
      // The last plan applies to the same input shape and the same axes (an attribute, no axes
      // input, or the same never-changing axes tensor).
      const axesT = ctx.opset >= inputSince ? inputs[1] : undefined;
      let plan = p.last;
      if (plan === null || !sameDims(plan.inDims, x.dims) || plan.axesT !== axesT || (axesT !== undefined && !(ctx.frozen?.(1) ?? false))) {
        let axes = p.axes ? [...p.axes] : undefined;
        if (axesT) {
          checkType(axesT, ['int64'], 1, ctx, 'axes');
          axes = intsOf(axesT);
        }
        if (!axes || axes.length === 0) {
          if (p.noopWithEmptyAxes) return [x];
          axes = x.dims.map((_, i) => i);
        }
        const norm = axes.map((a) => normAxis(a, x.dims.length, ctx));
        plan = p.last = reducePlan(x.dims, norm, p.keepdims, axesT);
      }
      let start = init;
      if (x.size === 0 && extremum) {
        // ReduceMax/ReduceMin-20 define the empty set: -inf/+inf, or the type's lowest/highest value.
        if (ctx.opset < 20 && init === -Infinity) throw nodeError(ctx.node, 'cannot take the maximum of an empty tensor');
        if (x.type !== 'float32' && x.type !== 'float64') {
          const bounds = EXTREMES[x.type];
          if (!bounds) throw nodeError(ctx.node, `the ${init < 0 ? 'maximum' : 'minimum'} of an empty ${x.type} tensor is not supported`);
          start = init < 0 ? bounds[0] : bounds[1];
        }
      }
      return [reduce(x, plan, start, step, finish, plainSum)];
    },
  });
}

export const ReduceSum = reduceOp(13, 0, (a, v) => a + v, (a) => a, true);
export const ReduceMean = reduceOp(18, 0, (a, v) => a + v, (a, n) => a / n, true);
export const ReduceMax = reduceOp(18, -Infinity, (a, v) => (v > a || v !== v ? v : a), (a) => a);
export const ReduceMin = reduceOp(18, Infinity, (a, v) => (v < a || v !== v ? v : a), (a) => a);
export const ReduceProd = reduceOp(18, 1, (a, v) => a * v, (a) => a);
export const ReduceL1 = reduceOp(18, 0, (a, v) => a + Math.abs(v), (a) => a);
export const ReduceL2 = reduceOp(18, 0, (a, v) => a + v * v, (a) => Math.sqrt(a));
export const ReduceSumSquare = reduceOp(18, 0, (a, v) => a + v * v, (a) => a);
export const ReduceLogSum = reduceOp(18, 0, (a, v) => a + v, (a) => Math.log(a), true);
export const ReduceLogSumExp = reduceOp(18, 0, (a, v) => a + Math.exp(v), (a) => Math.log(a));

/** ArgMax / ArgMin along one axis; ties pick the first index unless select_last_index. */
function argOp(better: (v: number, best: number) => boolean): OpDef<{ axis: number; keepdims: boolean; last: boolean }> {
  return defineOp({
    parse: (ctx, a) => ({
      axis: a.int('axis', 0),
      keepdims: a.int('keepdims', 1) !== 0,
      last: ctx.opset >= 12 ? a.int('select_last_index', 0) !== 0 : false,
    }),
    run(inputs, p, ctx) {
      const x = need(inputs, 0, ctx, 'data');
      checkType(x, NUMERIC, 0, ctx, 'data');
      const ax = normAxis(p.axis, x.dims.length, ctx);
      const D = x.dims[ax];
      if (D === 0) throw nodeError(ctx.node, `axis ${ax} is empty`);
      const outer = sizeOf(x.dims.slice(0, ax));
      const inner = sizeOf(x.dims.slice(ax + 1));
      const X = x.data as unknown as Arr;
      const out = new BigInt64Array(outer * inner);
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          const base = o * D * inner + i;
          let best = X[base], bi = 0;
          for (let d = 1; d < D; d++) {
            const v = X[base + d * inner];
            if (better(v, best) || (p.last && v === best)) { best = v; bi = d; }
          }
          out[o * inner + i] = BigInt(bi);
        }
      const dims = p.keepdims ? x.dims.map((d, i) => (i === ax ? 1 : d)) : x.dims.filter((_, i) => i !== ax);
      return [new Tensor('int64', out, dims)];
    },
  });
}
export const ArgMax = argOp((v, best) => v > best);
export const ArgMin = argOp((v, best) => v < best);

/**
 * Softmax / LogSoftmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1);
 * from 13 the op runs along `axis` (default -1). The max is seeded with -Infinity.
 */
function softmaxOp(log: boolean): OpDef<number> {
  return defineOp({
    parse: (ctx, a) => a.int('axis', ctx.opset < 13 ? 1 : -1),
    run(inputs, axis, ctx, reuse) {
      const x = need(inputs, 0, ctx, 'input');
      checkType(x, ['float32', 'float64'], 0, ctx, 'input');
      const r = x.dims.length;
      const ax = normAxis(axis, r, ctx);
      const outer = sizeOf(x.dims.slice(0, ax));
      const D = ctx.opset < 13 ? sizeOf(x.dims.slice(ax)) : x.dims[ax];
      const inner = ctx.opset < 13 ? 1 : sizeOf(x.dims.slice(ax + 1));
      const X = x.data as Float32Array;
      if (inner === 1 && x.type === 'float32' && D >= 2) {
        const fast = softmaxRows(X, outer, D, log, reuse?.(0) ? X : undefined);
        if (fast) return [new Tensor(x.type, fast, x.dims)];
      }
      const out = allocData(x.type, x.size) as Float32Array;
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          const base = o * D * inner + i;
          let max = -Infinity;
          for (let d = 0; d < D; d++) max = Math.max(max, X[base + d * inner]);
          let sum = 0;
          for (let d = 0; d < D; d++) sum += Math.exp(X[base + d * inner] - max);
          if (log) {
            const ls = Math.log(sum);
            for (let d = 0; d < D; d++) out[base + d * inner] = X[base + d * inner] - max - ls;
          } else {
            for (let d = 0; d < D; d++) out[base + d * inner] = Math.exp(X[base + d * inner] - max) / sum;
          }
        }
      return [new Tensor(x.type, out, x.dims)];
    },
  });
}
export const Softmax = softmaxOp(false);
export const LogSoftmax = softmaxOp(true);

/** TopK along an axis: values and int64 indices, largest or smallest, sorted (ties: lower index first). */
export const TopK = defineOp({
  parse: (ctx, a) => ({
    axis: a.int('axis', -1),
    k: ctx.opset < 10 ? a.int('k') : undefined,
    largest: ctx.opset >= 11 ? a.int('largest', 1) !== 0 : true,
    sorted: ctx.opset >= 11 ? a.int('sorted', 1) !== 0 : true,
  }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, NUMERIC, 0, ctx, 'X');
    let k = p.k;
    if (ctx.opset >= 10) {
      const kt = need(inputs, 1, ctx, 'K');
      checkType(kt, ['int64'], 1, ctx, 'K');
      k = Number(kt.data[0]);
    }
    const ax = normAxis(p.axis, x.dims.length, ctx);
    const D = x.dims[ax];
    if (k === undefined || k < 0 || k > D) throw nodeError(ctx.node, `K=${k} is out of range for axis ${ax} of size ${D}`);
    const outer = sizeOf(x.dims.slice(0, ax)), inner = sizeOf(x.dims.slice(ax + 1));
    const X = x.data as unknown as ArrayLike<number | bigint>;
    const vals = allocData(x.type, outer * k * inner) as unknown as { [i: number]: number | bigint };
    const idx = new BigInt64Array(outer * k * inner);
    const order = new Array<number>(D);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const at = (d: number) => X[(o * D + d) * inner + i];
        for (let d = 0; d < D; d++) order[d] = d;
        order.sort((a, b) => {
          const va = at(a), vb = at(b);
          if (va === vb) return a - b;
          return (p.largest ? va > vb : va < vb) ? -1 : 1;
        });
        for (let j = 0; j < k; j++) {
          vals[(o * k + j) * inner + i] = at(order[j]);
          idx[(o * k + j) * inner + i] = BigInt(order[j]);
        }
      }
    const dims = x.dims.map((d, i) => (i === ax ? k! : d));
    return [new Tensor(x.type, vals as never, dims), new Tensor('int64', idx, dims)];
  },
});

/** GlobalAveragePool / GlobalMaxPool: reduce every spatial dim (2..) keeping them as 1. */
function globalPool(max: boolean) {
  return defineOp({
    parse: () => null,
    run(inputs, _a, ctx) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, ['float32', 'float64'], 0, ctx, 'X');
      if (x.dims.length < 3) throw nodeError(ctx.node, `X must be [N, C, spatial…], got [${x.dims}]`);
      const NC = x.dims[0] * x.dims[1], S = sizeOf(x.dims.slice(2));
      const X = x.data as Float32Array;
      const out = allocData(x.type, NC) as Float32Array;
      for (let c = 0; c < NC; c++) {
        let acc = max ? -Infinity : 0;
        for (let s = 0; s < S; s++) acc = max ? Math.max(acc, X[c * S + s]) : acc + X[c * S + s];
        out[c] = max ? acc : acc / S;
      }
      return [new Tensor(x.type, out, x.dims.map((d, i) => (i < 2 ? d : 1)))];
    },
  });
}
export const GlobalAveragePool = globalPool(false);
export const GlobalMaxPool = globalPool(true);
