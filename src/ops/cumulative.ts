/** CumProd (26): running product along an axis, inclusive or exclusive, forward or reversed. */
import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, sizeOf, type TensorData } from '../ir/tensor.js';
import { checkType, defineOp, need, normAxis, NUMERIC } from './op.js';

type AnyArr = { [i: number]: number | bigint };

export const CumProd = defineOp({
  parse: (_c, a) => ({ exclusive: a.int('exclusive', 0) !== 0, reverse: a.int('reverse', 0) !== 0 }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const a = need(inputs, 1, ctx, 'axis');
    checkType(x, NUMERIC, 0, ctx, 'x');
    checkType(a, ['int64', 'int32'], 1, ctx, 'axis');
    if (a.dims.length !== 0 && a.size !== 1) throw nodeError(ctx.node, `input 1 (axis) must be a scalar, got shape [${a.dims}]`);
    const ax = normAxis(Number(a.data[0]), x.dims.length, ctx);
    const D = x.dims[ax], inner = sizeOf(x.dims.slice(ax + 1)), outer = sizeOf(x.dims.slice(0, ax));
    const big = isBig(x.type);
    const X = x.data as unknown as AnyArr;
    const out = allocData(x.type, x.size) as unknown as AnyArr;
    // float32 products round at every step, as the reference's float32 cumprod does
    const isFloat = x.type === 'float32' || x.type === 'float64';
    const mul = x.type === 'float32' ? (u: number, v: number) => Math.fround(u * v) : isFloat ? (u: number, v: number) => u * v : Math.imul;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc: number | bigint = big ? 1n : 1;
        for (let s = 0; s < D; s++) {
          const at = (o * D + (p.reverse ? D - 1 - s : s)) * inner + i;
          const v = X[at];
          if (p.exclusive) out[at] = acc;
          // integers wrap like C at every step (int32 via imul, 64-bit via asIntN)
          acc = big ? BigInt.asIntN(64, (acc as bigint) * (v as bigint)) : mul(acc as number, v as number);
          if (!p.exclusive) out[at] = acc;
        }
      }
    }
    return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
  },
});
