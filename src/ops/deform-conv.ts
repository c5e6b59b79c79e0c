/**
 * DeformConv (19, 22), 2-D: each kernel tap samples X bilinearly (zeros outside) at its regular
 * position plus a learned offset, optionally scaled by a mask; groups and offset groups.
 * X [N, C, H, W], W [M, C/group, kH, kW], offset [N, og·kH·kW·2, oH, oW] (dy, dx per tap),
 * B [M], mask [N, og·kH·kW, oH, oW].
 */
import { nodeError } from '../ir/errors.js';
import type { DataType } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { checkType, defineOp, need } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];

export const DeformConv = defineOp({
  parse(_c, a) {
    const group = a.int('group', 1), og = a.int('offset_group', 1);
    if (group < 1) throw a.error('group', `must be >= 1, got ${group}`);
    if (og < 1) throw a.error('offset_group', `must be >= 1, got ${og}`);
    return { group, og, dilations: a.ints('dilations'), kernelShape: a.ints('kernel_shape'), pads: a.ints('pads'), strides: a.ints('strides') };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), w = need(inputs, 1, ctx, 'W'), off = need(inputs, 2, ctx, 'offset');
    const b = inputs[3], mask = inputs[4];
    checkType(x, FLOAT_TYPES, 0, ctx, 'X');
    for (const [t, i, n] of [[w, 1, 'W'], [off, 2, 'offset'], [b, 3, 'B'], [mask, 4, 'mask']] as const) if (t) checkType(t, [x.type], i, ctx, n);
    if (x.dims.length !== 4) throw nodeError(ctx.node, `only 2-D DeformConv is supported, X has rank ${x.dims.length}`);
    const [N, C, H, W] = x.dims, [M, Cg, kH, kW] = w.dims, G = p.group, OG = p.og;
    if (w.dims.length !== 4 || Cg * G !== C || M % G !== 0) throw nodeError(ctx.node, `W [${w.dims}] does not match X [${x.dims}] with group=${G}`);
    if (p.kernelShape && (p.kernelShape[0] !== kH || p.kernelShape[1] !== kW)) throw nodeError(ctx.node, `kernel_shape [${p.kernelShape}] differs from W's [${kH}, ${kW}]`);
    if (C % OG !== 0) throw nodeError(ctx.node, `channels ${C} are not divisible by offset_group ${OG}`);
    const [sH, sW] = p.strides ?? [1, 1], [dH, dW] = p.dilations ?? [1, 1], [pT, pL, pB, pR] = p.pads ?? [0, 0, 0, 0];
    const oH = Math.floor((H + pT + pB - ((kH - 1) * dH + 1)) / sH) + 1, oW = Math.floor((W + pL + pR - ((kW - 1) * dW + 1)) / sW) + 1;
    const K = kH * kW;
    if (off.dims.length !== 4 || off.dims[0] !== N || off.dims[1] !== OG * K * 2 || off.dims[2] !== oH || off.dims[3] !== oW) {
      throw nodeError(ctx.node, `offset must be [${N}, ${OG * K * 2}, ${oH}, ${oW}], got [${off.dims}]`);
    }
    if (mask && (mask.dims.length !== 4 || mask.dims[0] !== N || mask.dims[1] !== OG * K || mask.dims[2] !== oH || mask.dims[3] !== oW)) {
      throw nodeError(ctx.node, `mask must be [${N}, ${OG * K}, ${oH}, ${oW}], got [${mask.dims}]`);
    }
    if (b && (b.dims.length !== 1 || b.dims[0] !== M)) throw nodeError(ctx.node, `B must be [${M}], got [${b.dims}]`);
    const X = toFloat64(x), Wt = toFloat64(w), O = toFloat64(off), Mk = mask ? toFloat64(mask) : undefined, Bi = b ? toFloat64(b) : undefined;
    const Y = new Float64Array(N * M * oH * oW);
    const MperG = M / G, CperOG = C / OG, plane = oH * oW;
    const sample = (base: number, y: number, xx: number): number => {
      const y0 = Math.floor(y), x0 = Math.floor(xx), ty = y - y0, tx = xx - x0;
      const at = (yy: number, xv: number) => (yy >= 0 && yy < H && xv >= 0 && xv < W ? X[base + yy * W + xv] : 0);
      return at(y0, x0) * (1 - ty) * (1 - tx) + at(y0, x0 + 1) * (1 - ty) * tx + at(y0 + 1, x0) * ty * (1 - tx) + at(y0 + 1, x0 + 1) * ty * tx;
    };
    const col = new Float64Array(K);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg), og = Math.floor(c / CperOG), base = (n * C + c) * H * W;
      for (let i = 0; i < oH; i++) for (let j = 0; j < oW; j++) {
        for (let k = 0; k < K; k++) {
          const kh = Math.floor(k / kW), kw = k % kW;
          const oo = ((n * OG + og) * K + k) * 2;
          const y = i * sH - pT + kh * dH + O[oo * plane + i * oW + j];
          const xx = j * sW - pL + kw * dW + O[(oo + 1) * plane + i * oW + j];
          const m = Mk ? Mk[((n * OG + og) * K + k) * plane + i * oW + j] : 1;
          col[k] = m * sample(base, y, xx);
        }
        for (let mg = 0; mg < MperG; mg++) {
          const mo = g * MperG + mg, wb = (mo * Cg + (c % Cg)) * K;
          let s = 0;
          for (let k = 0; k < K; k++) s += Wt[wb + k] * col[k];
          Y[((n * M + mo) * oH + i) * oW + j] += s;
        }
      }
    }
    if (Bi) for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let q = 0; q < plane; q++) Y[(n * M + m) * plane + q] += Bi[m];
    return [fromFloat64(Y, x.type, [N, M, oH, oW])];
  },
});
