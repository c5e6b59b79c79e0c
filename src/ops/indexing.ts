import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, sizeOf, type TensorData } from '../ir/tensor.js';
import { stridesOf } from './broadcast.js';
import { checkType, defineOp, intsOf, need, normAxis, NUMERIC } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

/** GatherElements: out[i…] = data[i… with index[i…] on `axis`]; indices may be negative. */
export const GatherElements = defineOp({
  parse: (_c, a) => a.int('axis', 0),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const idx = need(inputs, 1, ctx, 'indices');
    checkType(idx, ['int64', 'int32'], 1, ctx, 'indices');
    const r = x.dims.length;
    const ax = normAxis(axis, r, ctx);
    if (idx.dims.length !== r) throw nodeError(ctx.node, `indices rank ${idx.dims.length} differs from data rank ${r}`);
    const xs = stridesOf(x.dims), is = stridesOf(idx.dims);
    const D = x.dims[ax];
    const ids = intsOf(idx);
    const X = x.data as AnyArr;
    const out = allocData(x.type, idx.size) as AnyArr;
    for (let k = 0; k < idx.size; k++) {
      let rem = k, off = 0;
      for (let d = 0; d < r; d++) {
        const c = Math.floor(rem / is[d]);
        rem -= c * is[d];
        if (d === ax) {
          let j = ids[k];
          if (j < -D || j >= D) throw nodeError(ctx.node, `index ${j} is out of range for axis ${ax} of size ${D}`);
          if (j < 0) j += D;
          off += j * xs[d];
        } else {
          if (c >= x.dims[d]) throw nodeError(ctx.node, `indices shape [${idx.dims}] exceeds data shape [${x.dims}] on axis ${d}`);
          off += c * xs[d];
        }
      }
      out[k] = X[off];
    }
    return [new Tensor(x.type, out as TensorData, idx.dims)];
  },
});

/** CumSum along a scalar axis input; `exclusive` and `reverse` attributes. */
export const CumSum = defineOp({
  parse: (_c, a) => ({ exclusive: a.int('exclusive', 0) !== 0, reverse: a.int('reverse', 0) !== 0 }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const a = need(inputs, 1, ctx, 'axis');
    checkType(x, NUMERIC, 0, ctx, 'x');
    checkType(a, ['int64', 'int32'], 1, ctx, 'axis');
    if (a.size !== 1) throw nodeError(ctx.node, `input 1 (axis) must be a scalar, got shape [${a.dims}]`);
    const ax = normAxis(Number(a.data[0]), x.dims.length, ctx);
    const D = x.dims[ax], inner = sizeOf(x.dims.slice(ax + 1)), outer = sizeOf(x.dims.slice(0, ax));
    const big = isBig(x.type);
    const X = x.data as AnyArr;
    const out = allocData(x.type, x.size) as AnyArr;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let acc: number | bigint = big ? 0n : 0;
        for (let s = 0; s < D; s++) {
          const d = p.reverse ? D - 1 - s : s;
          const at = (o * D + d) * inner + i;
          const v = X[at] as number & bigint;
          if (p.exclusive) { out[at] = acc; acc = (acc as number & bigint) + v; }
          else { acc = (acc as number & bigint) + v; out[at] = acc; }
        }
      }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});

/** Trilu: keeps the upper (or lower) triangle of the last two dims, shifted by k. */
export const Trilu = defineOp({
  parse: (_c, a) => a.int('upper', 1) !== 0,
  run(inputs, upper, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    if (x.dims.length < 2) throw nodeError(ctx.node, `input must have rank >= 2, got [${x.dims}]`);
    const kt = inputs[1];
    if (kt) checkType(kt, ['int64'], 1, ctx, 'k');
    const k = kt ? Number(kt.data[0]) : 0;
    const [R, C] = x.dims.slice(-2);
    const X = x.data as AnyArr;
    const out = allocData(x.type, x.size) as AnyArr;
    const zero = isBig(x.type) ? 0n : x.type === 'string' ? '' : 0;
    for (let b = 0; b < x.size / (R * C || 1); b++)
      for (let i = 0; i < R; i++)
        for (let j = 0; j < C; j++) {
          const at = (b * R + i) * C + j;
          const keep = upper ? j - i >= k : j - i <= k;
          out[at] = keep ? X[at] : zero;
        }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});
