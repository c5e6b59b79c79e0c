import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf } from '../ir/tensor.js';
import { checkType, defineOp, FLOATS, need, normAxis } from './op.js';

type FArr = Float32Array | Float64Array;

/** LayerNormalization (opset 17): normalise over axes [axis, rank); Scale and B broadcast over them. */
export const LayerNormalization = defineOp({
  parse: (_c, a) => {
    a.int('stash_type', 1); // rnnx computes the statistics in float64 either way
    return { axis: a.int('axis', -1), epsilon: a.float('epsilon', 1e-5) };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    const scale = need(inputs, 1, ctx, 'Scale');
    const bias = inputs[2];
    checkType(x, FLOATS, 0, ctx, 'X');
    const r = x.dims.length;
    const ax = normAxis(p.axis, r, ctx);
    const inner = sizeOf(x.dims.slice(ax));
    const outer = sizeOf(x.dims.slice(0, ax));
    const bcast = (t: Tensor, i: number, what: string) => {
      if (t.type !== x.type) throw nodeError(ctx.node, `input ${i} (${what}): expected ${x.type}, got ${t.type}`);
      const n = t.size;
      if (inner % n !== 0 || t.dims.length > r - ax || t.dims.some((d, k) => d !== 1 && d !== x.dims[r - t.dims.length + k])) {
        throw nodeError(ctx.node, `input ${i} (${what}): shape [${t.dims}] does not broadcast to [${x.dims.slice(ax)}]`);
      }
      return { data: t.data as FArr, n };
    };
    const S = bcast(scale, 1, 'Scale');
    const B = bias ? bcast(bias, 2, 'B') : undefined;
    const X = x.data as FArr;
    const Y = allocData(x.type, x.size) as FArr;
    const statDims = x.dims.map((d, i) => (i < ax ? d : 1));
    const mean = allocData(x.type, outer) as FArr, inv = allocData(x.type, outer) as FArr;
    for (let o = 0; o < outer; o++) {
      const base = o * inner;
      let m = 0;
      for (let i = 0; i < inner; i++) m += X[base + i];
      m /= inner;
      let v = 0;
      for (let i = 0; i < inner; i++) v += (X[base + i] - m) ** 2;
      const is = 1 / Math.sqrt(v / inner + p.epsilon);
      mean[o] = m;
      inv[o] = is;
      for (let i = 0; i < inner; i++) {
        // Scale/B repeat with their own size over the normalised block (trailing broadcast).
        Y[base + i] = (X[base + i] - m) * is * S.data[i % S.n] + (B ? B.data[i % B.n] : 0);
      }
    }
    return [new Tensor(x.type, Y, x.dims), new Tensor(x.type, mean, statDims), new Tensor(x.type, inv, statDims)];
  },
});

/** BatchNormalization in inference mode: per channel (axis 1) with the running statistics. */
export const BatchNormalization = defineOp({
  parse: (ctx, a) => {
    a.ignore('momentum');
    if (ctx.opset < 7) a.ignore('is_test', 'consumed_inputs');
    if (ctx.opset < 9 && a.int('spatial', 1) !== 1) throw a.error('spatial', 'only spatial=1 is supported');
    if (ctx.opset >= 14 && a.int('training_mode', 0) !== 0) throw a.error('training_mode', 'training mode is not supported (inference only)');
    return { epsilon: a.float('epsilon', 1e-5) };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    if (x.dims.length < 2) throw nodeError(ctx.node, `input 0 (X): expected rank >= 2, got [${x.dims}]`);
    const C = x.dims[1];
    const vec = (i: number, what: string) => {
      const t = need(inputs, i, ctx, what);
      if (t.type !== x.type || t.dims.length !== 1 || t.dims[0] !== C) throw nodeError(ctx.node, `input ${i} (${what}): expected ${x.type} [${C}], got ${t.type} [${t.dims}]`);
      return t.data as FArr;
    };
    const [scale, bias, mean, variance] = [vec(1, 'scale'), vec(2, 'B'), vec(3, 'input_mean'), vec(4, 'input_var')];
    const inner = sizeOf(x.dims.slice(2));
    const X = x.data as FArr;
    const Y = allocData(x.type, x.size) as FArr;
    for (let n = 0; n < x.dims[0]; n++)
      for (let c = 0; c < C; c++) {
        const k = scale[c] / Math.sqrt(variance[c] + p.epsilon);
        const b = bias[c] - mean[c] * k;
        const base = (n * C + c) * inner;
        for (let i = 0; i < inner; i++) Y[base + i] = X[base + i] * k + b;
      }
    return [new Tensor(x.type, Y, x.dims)];
  },
});

/** InstanceNormalization: per (n, c) over the spatial dims, then scale and bias per channel. */
export const InstanceNormalization = defineOp({
  parse: (_c, a) => a.float('epsilon', 1e-5),
  run(inputs, eps, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    checkType(x, FLOATS, 0, ctx, 'input');
    const [N, C] = x.dims;
    const S = sizeOf(x.dims.slice(2));
    const scale = need(inputs, 1, ctx, 'scale').data as FArr, B = need(inputs, 2, ctx, 'B').data as FArr;
    if (scale.length !== C || B.length !== C) throw nodeError(ctx.node, `scale and B must have ${C} values`);
    const X = x.data as FArr;
    const Y = allocData(x.type, x.size) as FArr;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        const base = (n * C + c) * S;
        let m = 0;
        for (let i = 0; i < S; i++) m += X[base + i];
        m /= S;
        let v = 0;
        for (let i = 0; i < S; i++) v += (X[base + i] - m) ** 2;
        const k = scale[c] / Math.sqrt(v / S + eps);
        for (let i = 0; i < S; i++) Y[base + i] = (X[base + i] - m) * k + B[c];
      }
    return [new Tensor(x.type, Y, x.dims)];
  },
});

/** MeanVarianceNormalization: (x − mean) / sqrt(var) over `axes` (default [0, 2, 3]), epsilon 1e-9. */
export const MeanVarianceNormalization = defineOp({
  parse: (_c, a) => a.ints('axes') ?? [0, 2, 3],
  run(inputs, axes, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    const r = x.dims.length;
    const red = new Set(axes.map((a) => normAxis(a, r, ctx)));
    const keep = x.dims.map((_, i) => i).filter((i) => !red.has(i));
    const strides = x.dims.map((_, i) => sizeOf(x.dims.slice(i + 1)));
    const groupOf = (k: number) => keep.reduce((g, ax) => g * x.dims[ax] + (Math.floor(k / strides[ax]) % x.dims[ax]), 0);
    const G = sizeOf(keep.map((i) => x.dims[i]));
    const cnt = x.size / G;
    const sum = new Float64Array(G), sq = new Float64Array(G);
    const X = x.data as FArr;
    const gid = new Int32Array(x.size);
    for (let k = 0; k < x.size; k++) {
      const g = (gid[k] = groupOf(k));
      sum[g] += X[k];
      sq[g] += X[k] * X[k];
    }
    const Y = allocData(x.type, x.size) as FArr;
    for (let k = 0; k < x.size; k++) {
      const g = gid[k], m = sum[g] / cnt;
      Y[k] = (X[k] - m) / (Math.sqrt(Math.max(0, sq[g] / cnt - m * m)) + 1e-9);
    }
    return [new Tensor(x.type, Y, x.dims)];
  },
});

/** LRN across channels: x / (bias + alpha/size · Σ x²)^beta. */
export const LRN = defineOp({
  parse: (_c, a) => {
    const size = a.int('size');
    if (!size || size < 1) throw a.error('size', 'is required (>= 1)');
    return { size, alpha: a.float('alpha', 1e-4), beta: a.float('beta', 0.75), bias: a.float('bias', 1) };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    const [N, C] = x.dims;
    const S = sizeOf(x.dims.slice(2));
    const X = x.data as FArr;
    const Y = allocData(x.type, x.size) as FArr;
    const lo = Math.floor((p.size - 1) / 2), hi = Math.ceil((p.size - 1) / 2);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < S; i++) {
          let s = 0;
          for (let q = Math.max(0, c - lo); q <= Math.min(C - 1, c + hi); q++) s += X[(n * C + q) * S + i] ** 2;
          const at = (n * C + c) * S + i;
          Y[at] = X[at] / (p.bias + (p.alpha / p.size) * s) ** p.beta;
        }
    return [new Tensor(x.type, Y, x.dims)];
  },
});
