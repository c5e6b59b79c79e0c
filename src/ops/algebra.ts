import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import { checkType, defineOp, need, normAxis } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

/** Det of square matrices [..., M, M] by LU decomposition with partial pivoting (float64 inside). */
export const Det = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['float32', 'float64'], 0, ctx, 'X');
    const r = x.dims.length;
    const M = x.dims[r - 1];
    if (r < 2 || x.dims[r - 2] !== M) throw nodeError(ctx.node, `X must be [..., M, M], got [${x.dims}]`);
    const batch = sizeOf(x.dims.slice(0, -2));
    const X = x.data as Float32Array;
    const out = allocData(x.type, batch) as Float32Array;
    const a = new Float64Array(M * M);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < M * M; i++) a[i] = X[b * M * M + i];
      let det = 1;
      for (let c = 0; c < M; c++) {
        let p = c;
        for (let i = c + 1; i < M; i++) if (Math.abs(a[i * M + c]) > Math.abs(a[p * M + c])) p = i;
        if (a[p * M + c] === 0) { det = 0; break; }
        if (p !== c) {
          for (let k = 0; k < M; k++) [a[c * M + k], a[p * M + k]] = [a[p * M + k], a[c * M + k]];
          det = -det;
        }
        det *= a[c * M + c];
        for (let i = c + 1; i < M; i++) {
          const f = a[i * M + c] / a[c * M + c];
          for (let k = c; k < M; k++) a[i * M + k] -= f * a[c * M + k];
        }
      }
      out[b] = det;
    }
    return [new Tensor(x.type, out, x.dims.slice(0, -2))];
  },
});

/** Unique values (flattened) or slices along `axis`: Y, first indices, inverse indices, counts (int64). */
export const Unique = defineOp({
  parse: (_c, a) => ({ axis: a.int('axis'), sorted: a.int('sorted', 1) !== 0 }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    const flat = p.axis === undefined;
    const dims = flat ? [x.size] : [...x.dims];
    const ax = flat ? 0 : normAxis(p.axis!, dims.length, ctx);
    const D = dims[ax], outer = sizeOf(dims.slice(0, ax)), inner = sizeOf(dims.slice(ax + 1));
    const X = x.data as AnyArr;
    const sliceOf = (i: number) => {
      const v: unknown[] = [];
      for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) v.push(X[(o * D + i) * inner + k]);
      return v;
    };
    const key = (v: unknown[]) => v.map(String).join('\u0000');
    const firsts: number[] = [], counts: number[] = [], inverse: number[] = [];
    const seen = new Map<string, number>();
    const slices: unknown[][] = [];
    for (let i = 0; i < D; i++) {
      const s = sliceOf(i), k = key(s);
      let u = seen.get(k);
      if (u === undefined) { u = firsts.length; seen.set(k, u); firsts.push(i); counts.push(0); slices.push(s); }
      counts[u]++;
      inverse.push(u);
    }
    let order = firsts.map((_, u) => u);
    if (p.sorted) {
      const cmp = (a: unknown[], b: unknown[]) => {
        for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return (a[k] as number) < (b[k] as number) ? -1 : 1;
        return 0;
      };
      order = order.sort((a, b) => cmp(slices[a], slices[b]));
    }
    const rank = new Array<number>(order.length);
    order.forEach((u, j) => { rank[u] = j; });
    const U = order.length;
    const out = allocData(x.type, outer * U * inner) as AnyArr;
    order.forEach((u, j) => {
      for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) out[(o * U + j) * inner + k] = slices[u][o * inner + k];
    });
    const outDims = [...dims];
    outDims[ax] = U;
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
    return [new Tensor(x.type, out as TensorData, outDims), i64(order.map((u) => firsts[u])), i64(inverse.map((u) => rank[u])), i64(order.map((u) => counts[u]))];
  },
});
