/**
 * LpNormalization (1, 22), GroupNormalization (18: per-group scale/bias; 21: per-channel),
 * CenterCropPad (18), AffineGrid (20), Col2Im (18). Float math in float64.
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type DataType, type TensorData } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { checkType, defineOp, intsOf, need, normAxis } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];

/** LpNormalization: x / ‖x‖_p along axis (p 1 or 2); a zero norm gives 0. */
export const LpNormalization = defineOp({
  parse(_c, a) {
    const p = a.int('p', 2);
    if (p !== 1 && p !== 2) throw a.error('p', `must be 1 or 2, got ${p}`);
    return { axis: a.int('axis', -1), p };
  },
  run(inputs, q, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    checkType(x, FLOAT_TYPES, 0, ctx, 'input');
    const ax = normAxis(q.axis, x.dims.length, ctx);
    const D = x.dims[ax], inner = sizeOf(x.dims.slice(ax + 1)), outer = sizeOf(x.dims.slice(0, ax));
    const X = toFloat64(x), Y = new Float64Array(X.length);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) { const v = X[(o * D + d) * inner + i]; s += q.p === 1 ? Math.abs(v) : v * v; }
      const norm = q.p === 1 ? s : Math.sqrt(s);
      for (let d = 0; d < D; d++) { const at = (o * D + d) * inner + i; Y[at] = norm === 0 ? 0 : X[at] / norm; }
    }
    return [fromFloat64(Y, x.type, x.dims)];
  },
});

/** GroupNormalization: per (n, group) mean/variance over the group's channels and spatial positions. */
export const GroupNormalization = defineOp({
  parse(ctx, a) {
    const groups = a.int('num_groups');
    if (groups === undefined || groups < 1) throw a.error('num_groups', 'is required and must be positive');
    if (ctx.opset >= 21) {
      const stash = a.int('stash_type', 1);
      if (stash !== 1) throw a.error('stash_type', `only 1 (float32 or wider) is supported, got ${stash}`);
    }
    return { groups, epsilon: a.float('epsilon', 1e-5), perChannel: ctx.opset >= 21 };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), scale = need(inputs, 1, ctx, 'scale'), bias = need(inputs, 2, ctx, 'bias');
    checkType(x, FLOAT_TYPES, 0, ctx, 'X');
    if (x.dims.length < 2) throw nodeError(ctx.node, `X must be [N, C, ...], got [${x.dims}]`);
    const [N, C] = x.dims, G = p.groups;
    if (C % G !== 0) throw nodeError(ctx.node, `channels ${C} are not divisible by num_groups ${G}`);
    const want = p.perChannel ? C : G;
    for (const [t, n] of [[scale, 'scale'], [bias, 'bias']] as const) {
      if (t.dims.length !== 1 || t.dims[0] !== want) throw nodeError(ctx.node, `${n} must be [${want}] (${p.perChannel ? 'per channel, opset 21' : 'per group, opset 18'}), got [${t.dims}]`);
    }
    const S = toFloat64(scale), B = toFloat64(bias), X = toFloat64(x), Y = new Float64Array(X.length);
    const sp = sizeOf(x.dims.slice(2)), cpg = C / G, len = cpg * sp;
    for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) {
      const base = (n * C + g * cpg) * sp;
      let mean = 0;
      for (let i = 0; i < len; i++) mean += X[base + i];
      mean /= len;
      let v = 0;
      for (let i = 0; i < len; i++) { const d = X[base + i] - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / len + p.epsilon);
      for (let i = 0; i < len; i++) {
        const k = p.perChannel ? g * cpg + Math.floor(i / sp) : g;
        Y[base + i] = (X[base + i] - mean) * inv * S[k] + B[k];
      }
    }
    return [fromFloat64(Y, x.type, x.dims)];
  },
});

/** CenterCropPad: crops or zero-pads each listed axis to the given size, centred (extra on the end side). */
export const CenterCropPad = defineOp({
  parse: (_c, a) => a.ints('axes'),
  run(inputs, axesAttr, ctx) {
    const x = need(inputs, 0, ctx, 'input_data'), s = need(inputs, 1, ctx, 'shape');
    checkType(s, ['int64', 'int32'], 1, ctx, 'shape');
    const r = x.dims.length;
    const axes = axesAttr ? axesAttr.map((a) => normAxis(a, r, ctx, 'axes')) : x.dims.map((_, i) => i);
    const sh = intsOf(s);
    if (sh.length !== axes.length) throw nodeError(ctx.node, `shape has ${sh.length} values for ${axes.length} axes`);
    if (sh.some((v) => v < 0)) throw nodeError(ctx.node, `shape values must be >= 0, got [${sh}]`);
    const out = [...x.dims], shift = x.dims.map(() => 0); // shift: output index = input index + shift
    axes.forEach((ax, i) => {
      const dim = x.dims[ax], want = sh[i];
      out[ax] = want;
      shift[ax] = want < dim ? -Math.floor((dim - want) / 2) : Math.floor((want - dim) / 2);
    });
    const data = allocData(x.type, sizeOf(out)) as { [i: number]: unknown };
    const X = x.data as unknown as ArrayLike<unknown>;
    const inStr = x.dims.map((_, i) => sizeOf(x.dims.slice(i + 1))), outStr = out.map((_, i) => sizeOf(out.slice(i + 1)));
    for (let k = 0; k < x.size; k++) {
      let rem = k, at = 0, ok = true;
      for (let d = 0; d < r; d++) {
        const c = Math.floor(rem / inStr[d]);
        rem -= c * inStr[d];
        const o = c + shift[d];
        if (o < 0 || o >= out[d]) { ok = false; break; }
        at += o * outStr[d];
      }
      if (ok) data[at] = X[k];
    }
    return [new Tensor(x.type, data as unknown as TensorData, out)];
  },
});

/** AffineGrid: grid[n, ..., :] = theta[n] · (x, y[, z], 1) over the normalised output coordinates. */
export const AffineGrid = defineOp({
  parse: (_c, a) => a.int('align_corners', 0) !== 0,
  run(inputs, align, ctx) {
    const theta = need(inputs, 0, ctx, 'theta'), size = need(inputs, 1, ctx, 'size');
    checkType(theta, FLOAT_TYPES, 0, ctx, 'theta');
    checkType(size, ['int64'], 1, ctx, 'size');
    const sz = intsOf(size);
    const r = sz.length - 2;
    if (r !== 2 && r !== 3) throw nodeError(ctx.node, `size must be [N, C, H, W] or [N, C, D, H, W], got [${sz}]`);
    const N = sz[0], sp = sz.slice(2);
    if (theta.dims.length !== 3 || theta.dims[0] !== N || theta.dims[1] !== r || theta.dims[2] !== r + 1) {
      throw nodeError(ctx.node, `theta must be [${N}, ${r}, ${r + 1}], got [${theta.dims}]`);
    }
    const T = toFloat64(theta);
    const coord = (i: number, d: number) => (align ? (d === 1 ? -1 : -1 + (2 * i) / (d - 1)) : -1 + (2 * i + 1) / d);
    const cnt = sizeOf(sp);
    const Y = new Float64Array(N * cnt * r);
    const v = new Float64Array(r + 1);
    for (let n = 0; n < N; n++) for (let k = 0; k < cnt; k++) {
      // homogeneous vector (x, y[, z], 1): x runs along the last spatial axis
      let rem = k;
      for (let d = r - 1; d >= 0; d--) { const i = rem % sp[d]; rem = Math.floor(rem / sp[d]); v[r - 1 - d] = coord(i, sp[d]); }
      v[r] = 1;
      for (let j = 0; j < r; j++) {
        let s = 0;
        for (let c = 0; c <= r; c++) s += T[(n * r + j) * (r + 1) + c] * v[c];
        Y[(n * cnt + k) * r + j] = s;
      }
    }
    return [fromFloat64(Y, theta.type, [N, ...sp, r])];
  },
});

/** Col2Im: sums the columns [N, C·∏block, L] back into the image [N, C, ...image_shape]. */
export const Col2Im = defineOp({
  parse: (_c, a) => ({ dilations: a.ints('dilations'), pads: a.ints('pads'), strides: a.ints('strides') }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input'), imT = need(inputs, 1, ctx, 'image_shape'), blT = need(inputs, 2, ctx, 'block_shape');
    checkType(x, FLOAT_TYPES, 0, ctx, 'input');
    const img = intsOf(imT), blk = intsOf(blT), r = img.length;
    if (blk.length !== r || x.dims.length !== 3) throw nodeError(ctx.node, `input must be [N, C·∏block, L] with image_shape and block_shape of one length, got [${x.dims}], [${img}], [${blk}]`);
    const dil = p.dilations ?? img.map(() => 1), str = p.strides ?? img.map(() => 1), pads = p.pads ?? new Array(2 * r).fill(0);
    const K = sizeOf(blk), [N, CK, L] = x.dims;
    if (CK % K !== 0) throw nodeError(ctx.node, `input channel dim ${CK} is not a multiple of the block size ${K}`);
    const C = CK / K;
    const nb = img.map((d, i) => Math.floor((d + pads[i] + pads[i + r] - dil[i] * (blk[i] - 1) - 1) / str[i]) + 1);
    if (nb.some((b) => b < 1) || sizeOf(nb) !== L) throw nodeError(ctx.node, `input has ${L} blocks but image_shape/block_shape/pads/strides give [${nb}]`);
    const X = toFloat64(x), imgSize = sizeOf(img), Y = new Float64Array(N * C * imgSize);
    const kk = new Array<number>(r), bb = new Array<number>(r);
    for (let k = 0; k < K; k++) {
      let rem = k;
      for (let d = r - 1; d >= 0; d--) { kk[d] = rem % blk[d]; rem = Math.floor(rem / blk[d]); }
      for (let l = 0; l < L; l++) {
        let rl = l, off = 0, ok = true;
        for (let d = r - 1; d >= 0; d--) { bb[d] = rl % nb[d]; rl = Math.floor(rl / nb[d]); }
        for (let d = 0; d < r; d++) {
          const i = bb[d] * str[d] - pads[d] + kk[d] * dil[d];
          if (i < 0 || i >= img[d]) { ok = false; break; }
          off = off * img[d] + i;
        }
        if (!ok) continue;
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) Y[(n * C + c) * imgSize + off] += X[(n * CK + c * K + k) * L + l];
      }
    }
    return [fromFloat64(Y, x.type, [N, C, ...img])];
  },
});
