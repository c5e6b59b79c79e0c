import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, sizeOf, type TensorData } from '../ir/tensor.js';
import { fromBfloatBits, fromHalfBits, toBfloatBits, toHalfBits } from './half.js';
import { stridesOf } from './broadcast.js';
import { checkType, defineOp, need, NUMERIC, type OpContext } from './op.js';
import { roundHalfEven } from './math.js';
import { EinsumGemm } from '../wasm/einsum.js';

/**
 * Einsum by explicit index iteration: every letter is a loop; letters absent from the output
 * are summed. `...` stands for the leading broadcast dims. Implicit output: letters used once,
 * in alphabetical order, after the ellipsis dims.
 */
export const Einsum = defineOp({
  parse: (_c, a) => {
    const eq = a.string('equation');
    if (!eq) throw a.error('equation', 'is required');
    // Two float32 operands run as batched SIMD GEMMs where the letters allow (see EinsumGemm).
    return { eq: eq.replace(/\s+/g, ''), gemm: EinsumGemm.create() };
  },
  run(inputs, { eq, gemm }, ctx) {
    const xs = inputs.map((t, i) => need(inputs, i, ctx, `input ${i}`));
    xs.forEach((x, i) => checkType(x, NUMERIC, i, ctx));
    if (xs.some((x) => x.type !== xs[0].type)) throw nodeError(ctx.node, 'all inputs must have one type');
    const [lhs, rhsIn] = eq.split('->');
    const terms = lhs.split(',');
    if (terms.length !== xs.length) throw nodeError(ctx.node, `equation '${eq}' has ${terms.length} operands, the node has ${xs.length} inputs`);
    // Ellipsis dims get letters that cannot clash (uppercase after Z is unused by ONNX equations: use digits).
    let ellRank = 0;
    terms.forEach((t, i) => { if (t.includes('...')) ellRank = Math.max(ellRank, xs[i].dims.length - (t.length - 3)); });
    const ell = Array.from({ length: ellRank }, (_, k) => String(k));
    const expand = (t: string, rank?: number) => {
      if (!t.includes('...')) return t.split('');
      const named = t.length - 3;
      const n = rank === undefined ? ellRank : rank - named;
      return t.replace('...', ell.slice(ellRank - n).join('')).split('');
    };
    const letters = terms.map((t, i) => expand(t, xs[i].dims.length));
    letters.forEach((ls, i) => {
      if (ls.length !== xs[i].dims.length) throw nodeError(ctx.node, `operand ${i} '${terms[i]}' does not match rank ${xs[i].dims.length}`);
    });
    const size = new Map<string, number>();
    letters.forEach((ls, i) => ls.forEach((l, k) => {
      const d = xs[i].dims[k];
      const prev = size.get(l);
      if (prev === undefined || prev === 1) size.set(l, d);
      else if (d !== prev && d !== 1) throw nodeError(ctx.node, `index '${l}' has sizes ${prev} and ${d}`);
    }));
    let out: string[];
    if (rhsIn !== undefined) out = expand(rhsIn);
    else {
      const counts = new Map<string, number>();
      letters.flat().forEach((l) => counts.set(l, (counts.get(l) ?? 0) + 1));
      out = [...ell, ...[...counts].filter(([l, c]) => c === 1 && !ell.includes(l)).map(([l]) => l).sort()];
    }
    if (gemm && xs.length === 2 && xs[0].type === 'float32') {
      const y = new Float32Array(sizeOf(out.map((l) => size.get(l)!)));
      const ops = { a: letters[0], b: letters[1], out, size };
      const constantB = xs[1] === ctx.constant?.(1);
      if (gemm.run(xs[0].data as Float32Array, xs[0].dims, xs[1].data as Float32Array, xs[1].dims, ops, y, constantB)) {
        return [new Tensor('float32', y, out.map((l) => size.get(l)!))];
      }
    }
    const summed = [...size.keys()].filter((l) => !out.includes(l));
    const all = [...out, ...summed];
    const dims = all.map((l) => size.get(l)!);
    const outDims = out.map((l) => size.get(l)!);
    const nOut = sizeOf(outDims), nSum = sizeOf(summed.map((l) => size.get(l)!));
    // Per operand: stride of each loop letter (0 where the operand lacks it or broadcasts).
    const strideOf = xs.map((x, i) => {
      const s = stridesOf(x.dims);
      return all.map((l) => letters[i].reduce((acc, ll, k) => (ll === l && x.dims[k] !== 1 ? acc + s[k] : acc), 0));
    });
    const big = isBig(xs[0].type);
    const res = allocData(xs[0].type, nOut) as unknown as { [i: number]: number | bigint };
    const idx = new Array<number>(all.length).fill(0);
    const data = xs.map((x) => x.data as unknown as ArrayLike<number | bigint>);
    for (let o = 0; o < nOut; o++) {
      let rem = o;
      for (let k = out.length - 1; k >= 0; k--) { idx[k] = rem % dims[k]; rem = Math.floor(rem / dims[k]); }
      let acc: number | bigint = big ? 0n : 0;
      for (let sIdx = 0; sIdx < nSum; sIdx++) {
        let r2 = sIdx;
        for (let k = all.length - 1; k >= out.length; k--) { idx[k] = r2 % dims[k]; r2 = Math.floor(r2 / dims[k]); }
        let prod: number | bigint = big ? 1n : 1;
        for (let i = 0; i < xs.length; i++) {
          let off = 0;
          for (let k = 0; k < all.length; k++) off += idx[k] * strideOf[i][k];
          prod = (prod as number & bigint) * (data[i][off] as number & bigint);
        }
        acc = (acc as number & bigint) + (prod as number & bigint);
      }
      res[o] = acc;
    }
    return [new Tensor(xs[0].type, res as unknown as TensorData, outDims)];
  },
});

/** MatMulInteger / QLinearMatMul helpers: integer products with zero points, numpy.matmul shapes. */
function intMatmul(a: Tensor, b: Tensor, za: number[], zb: number[], ctx: OpContext): { acc: Float64Array; dims: number[]; N: number } {
  if (a.dims.length < 1 || b.dims.length < 2) throw nodeError(ctx.node, `A [${a.dims}] and B [${b.dims}] must be at least 1-D and 2-D`);
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : [...a.dims];
  const [K, N] = b.dims.slice(-2);
  const M = ad[ad.length - 2];
  if (ad[ad.length - 1] !== K) throw nodeError(ctx.node, `inner dimensions differ: A [${a.dims}], B [${b.dims}]`);
  const aBatch = ad.slice(0, -2), bBatch = b.dims.slice(0, -2);
  // B is shared (2-D) or batched exactly like A.
  if (bBatch.length && (bBatch.length !== aBatch.length || bBatch.some((d, i) => d !== aBatch[i]))) {
    throw nodeError(ctx.node, `batch dims of A [${a.dims}] and B [${b.dims}] must match`);
  }
  const P = sizeOf(aBatch);
  const A = a.data as unknown as ArrayLike<number>, B = b.data as unknown as ArrayLike<number>;
  const acc = new Float64Array(P * M * N);
  for (let p = 0; p < P; p++) {
    const aOff = p * M * K, bOff = bBatch.length ? p * K * N : 0;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        const zam = za.length > 1 ? za[m % za.length] : za[0];
        const zbn = zb.length > 1 ? zb[n] : zb[0];
        for (let k = 0; k < K; k++) s += (A[aOff + m * K + k] - zam) * (B[bOff + k * N + n] - zbn);
        acc[(p * M + m) * N + n] = s;
      }
  }
  const dims = a.dims.length === 1 ? [N] : [...a.dims.slice(0, -1), N];
  return { acc, dims, N };
}

const zp = (t: Tensor | undefined) => (t ? Array.from(t.data as ArrayLike<number>) : [0]);

export const MatMulInteger = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const a = need(inputs, 0, ctx, 'A'), b = need(inputs, 1, ctx, 'B');
    checkType(a, ['uint8', 'int8'], 0, ctx, 'A');
    checkType(b, ['uint8', 'int8'], 1, ctx, 'B');
    const { acc, dims } = intMatmul(a, b, zp(inputs[2]), zp(inputs[3]), ctx);
    return [new Tensor('int32', Int32Array.from(acc), dims)];
  },
});

export const QLinearMatMul = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const [a, sa, za, b, sb, zb, sy, zy] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(inputs, i, ctx, ['a', 'a_scale', 'a_zero_point', 'b', 'b_scale', 'b_zero_point', 'y_scale', 'y_zero_point'][i]));
    checkType(a, ['uint8', 'int8'], 0, ctx, 'a');
    checkType(b, ['uint8', 'int8'], 3, ctx, 'b');
    if (sa.size !== 1 || sy.size !== 1 || zy.size !== 1) throw nodeError(ctx.node, 'a_scale, y_scale and y_zero_point must be scalars');
    // QLinearMatMul-21 allows float16/bfloat16 scales (raw bits in the tensor): decode them, and
    // form a_scale·b_scale/y_scale in that precision, as the reference does.
    const ts = sa.type;
    for (const [i, t] of [[1, sa], [4, sb], [6, sy]] as const) {
      checkType(t, ctx.opset >= 21 ? ['float32', 'float16', 'bfloat16'] : ['float32'], i, ctx, 'scale');
      if (t.type !== ts) throw nodeError(ctx.node, `input ${i}: scales must share one type, got ${t.type} and ${ts}`);
    }
    const { acc, dims, N } = intMatmul(a, b, zp(za), zp(zb), ctx);
    for (const [i, t, what] of [[4, sb, 'b_scale'], [5, zb, 'b_zero_point']] as const) {
      if (t.size !== 1 && !(t.size === N && t.dims[t.dims.length - 1] === N)) throw nodeError(ctx.node, `input ${i} (${what}) must be a scalar or hold one value per column of b (${N}), got shape [${t.dims}]`);
    }
    const num = (t: Tensor) => Array.from(t.data as Uint16Array | Float32Array, ts === 'float16' ? fromHalfBits : ts === 'bfloat16' ? fromBfloatBits : Number);
    const round = ts === 'float16' ? (v: number) => fromHalfBits(toHalfBits(v)) : ts === 'bfloat16' ? (v: number) => fromBfloatBits(toBfloatBits(v)) : undefined;
    const SA = num(sa)[0], SB = num(sb), SY = num(sy)[0];
    const [lo, hi] = zy.type === 'uint8' ? [0, 255] : [-128, 127];
    const out = allocData(zy.type, acc.length) as Uint8Array;
    // One scale per column (or one in all), formed once: float32 scales as onnxruntime forms them,
    // float32(float32(a_scale · b_scale) / y_scale), applied as float32(float32(acc) · scale).
    const scales = new Float64Array(SB.length);
    for (let j = 0; j < SB.length; j++) scales[j] = round ? round(round(SA * SB[j]) / SY) : Math.fround(Math.fround(SA * SB[j]) / SY);
    const zyv = Number(zy.data[0]), perCol = SB.length > 1;
    for (let i = 0, j = 0; i < acc.length; i++) {
      const scale = scales[perCol ? j : 0];
      const v = roundHalfEven(round ? acc[i] * scale : Math.fround(Math.fround(acc[i]) * scale)) + zyv;
      out[i] = v < lo ? lo : v > hi ? hi : v;
      if (++j === N) j = 0;
    }
    return [new Tensor(zy.type, out, dims)];
  },
});
