import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import { Conv } from './conv.js';
import { roundHalfEven } from './math.js';
import { checkType, defineOp, need, normAxis, type Inputs } from './op.js';

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

/** Integer tensors minus zero points (per tensor, or per output channel for W) as float64. */
function centered(t: Tensor, zp: Tensor | undefined, perChannel: boolean): Tensor {
  const T = t.data as unknown as ArrayLike<number>;
  const Z = zp ? (zp.data as unknown as ArrayLike<number>) : [0];
  const per = perChannel && Z.length > 1 ? t.size / t.dims[0] : 0;
  return new Tensor('float64', Float64Array.from(T, (v, i) => v - Z[per ? Math.floor(i / per) : 0]), t.dims);
}


/** ConvInteger: Conv over (x − x_zero_point) and (w − w_zero_point) with int32 output. */
export const ConvInteger = defineOp({
  parse: (ctx, a) => Conv.parse(ctx, a),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x'), w = need(inputs, 1, ctx, 'w');
    checkType(x, ['uint8', 'int8'], 0, ctx, 'x');
    checkType(w, ['uint8', 'int8'], 1, ctx, 'w');
    const y = Conv.run([centered(x, inputs[2], false), centered(w, inputs[3], true)], p, ctx)[0]!;
    return [new Tensor('int32', Int32Array.from(y.data as Float64Array), y.dims)];
  },
});

/** QLinearConv: quantised Conv, int32 bias, requantised to y_scale / y_zero_point. */
export const QLinearConv = defineOp({
  parse: (ctx, a) => Conv.parse(ctx, a),
  run(inputs: Inputs, p, ctx) {
    const [x, sx, zx, w, sw, zw, sy, zy] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(inputs, i, ctx, `input ${i}`));
    const bias = inputs[8];
    checkType(x, ['uint8', 'int8'], 0, ctx, 'x');
    const y = Conv.run([centered(x, zx, false), centered(w, zw, true), bias ? new Tensor('float64', Float64Array.from(bias.data as Int32Array), bias.dims) : undefined], p, ctx)[0]!;
    const M = y.dims[1], per = sizeOf(y.dims.slice(2));
    const SW = sw.data as Float32Array;
    const [lo, hi] = zy.type === 'uint8' ? [0, 255] : [-128, 127];
    const Y = y.data as Float64Array;
    const out = allocData(zy.type, Y.length) as Uint8Array;
    for (let i = 0; i < Y.length; i++) {
      const m = Math.floor(i / per) % M;
      const scale = (Number(sx.data[0]) * SW[SW.length > 1 ? m : 0]) / Number(sy.data[0]);
      out[i] = Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(Y[i] * scale)) + Number(zy.data[0])));
    }
    return [new Tensor(zy.type, out, y.dims)];
  },
});

/** NonMaxSuppression: greedy per batch and class, by score, dropping boxes whose IoU exceeds the threshold. */
export const NonMaxSuppression = defineOp({
  parse: (_c, a) => a.int('center_point_box', 0) !== 0,
  run(inputs, center, ctx) {
    const boxes = need(inputs, 0, ctx, 'boxes'), scores = need(inputs, 1, ctx, 'scores');
    checkType(boxes, ['float32'], 0, ctx, 'boxes');
    const [B, S] = boxes.dims;
    const C = scores.dims[1];
    if (boxes.dims.length !== 3 || boxes.dims[2] !== 4 || scores.dims.length !== 3 || scores.dims[0] !== B || scores.dims[2] !== S) {
      throw nodeError(ctx.node, `boxes [${boxes.dims}] and scores [${scores.dims}] must be [B, S, 4] and [B, C, S]`);
    }
    const maxOut = inputs[2] && inputs[2].size ? Number(inputs[2].data[0]) : 0;
    const iouT = inputs[3] && inputs[3].size ? Number(inputs[3].data[0]) : 0;
    const scoreT = inputs[4] && inputs[4].size ? Number(inputs[4].data[0]) : -Infinity;
    const BX = boxes.data as Float32Array, SC = scores.data as Float32Array;
    const corners = (b: number, i: number): [number, number, number, number] => {
      const o = (b * S + i) * 4;
      if (center) {
        const [xc, yc, w, h] = [BX[o], BX[o + 1], BX[o + 2], BX[o + 3]];
        return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2];
      }
      const [y1, x1, y2, x2] = [BX[o], BX[o + 1], BX[o + 2], BX[o + 3]];
      return [Math.min(y1, y2), Math.min(x1, x2), Math.max(y1, y2), Math.max(x1, x2)];
    };
    const iou = (a: number[], b: number[]) => {
      const ih = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
      const iw = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
      const inter = ih * iw;
      const ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
      return ua > 0 ? inter / ua : 0;
    };
    const picked: number[] = [];
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++) {
        const cand = Array.from({ length: S }, (_, i) => i).filter((i) => SC[(b * C + c) * S + i] > scoreT);
        cand.sort((i, j) => SC[(b * C + c) * S + j] - SC[(b * C + c) * S + i] || i - j);
        const kept: number[][] = [];
        for (const i of cand) {
          if (kept.length >= maxOut) break;
          const box = corners(b, i);
          if (kept.every((k) => iou(k, box) <= iouT)) {
            kept.push(box);
            picked.push(b, c, i);
          }
        }
      }
    return [new Tensor('int64', BigInt64Array.from(picked, BigInt), [picked.length / 3, 3])];
  },
});


/** StringNormalizer: drops stopwords (case-(in)sensitively), then changes case; [C] or [1, C] input. */
export const StringNormalizer = defineOp({
  parse: (_c, a) => {
    const action = a.string('case_change_action', 'NONE');
    if (!['NONE', 'LOWER', 'UPPER'].includes(action)) throw a.error('case_change_action', `expected NONE, LOWER or UPPER, got '${action}'`);
    a.string('locale', '');
    return { action, sensitive: a.int('is_case_sensitive', 0) !== 0, stop: a.strings('stopwords') ?? [] };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['string'], 0, ctx, 'X');
    if (!(x.dims.length === 1 || (x.dims.length === 2 && x.dims[0] === 1))) throw nodeError(ctx.node, `X must be [C] or [1, C], got [${x.dims}]`);
    const stop = new Set(p.sensitive ? p.stop : p.stop.map((w) => w.toLowerCase()));
    let kept = (x.data as string[]).filter((w) => !stop.has(p.sensitive ? w : w.toLowerCase()));
    if (p.action === 'LOWER') kept = kept.map((w) => w.toLowerCase());
    if (p.action === 'UPPER') kept = kept.map((w) => w.toUpperCase());
    if (kept.length === 0) kept = ['']; // the spec keeps one empty string rather than an empty tensor
    return [new Tensor('string', kept, x.dims.length === 2 ? [1, kept.length] : [kept.length])];
  },
});

/** MaxUnpool: scatters X to the positions given by MaxPool's Indices in a zero tensor. */
export const MaxUnpool = defineOp({
  parse: (_c, a) => {
    const kernel = a.ints('kernel_shape');
    if (!kernel) throw a.error('kernel_shape', 'is required');
    return { kernel, pads: a.ints('pads'), strides: a.ints('strides') };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), idx = need(inputs, 1, ctx, 'I');
    checkType(idx, ['int64'], 1, ctx, 'I');
    const sp = x.dims.length - 2;
    const pads = p.pads ?? new Array(2 * sp).fill(0);
    const strides = p.strides ?? new Array(sp).fill(1);
    // Indices address the default unpooled shape; a given output_shape keeps each value's coordinates.
    const dflt = [x.dims[0], x.dims[1], ...x.dims.slice(2).map((d, i) => (d - 1) * strides[i] + p.kernel[i] - pads[i] - pads[i + sp])];
    const shapeT = inputs[2];
    const outDims = shapeT ? Array.from(shapeT.data as BigInt64Array, Number) : dflt;
    if (outDims.length !== dflt.length || outDims.some((d, i) => d < dflt[i])) throw nodeError(ctx.node, `output_shape [${outDims}] is smaller than [${dflt}]`);
    const out = allocData(x.type, sizeOf(outDims)) as AnyArr;
    const X = x.data as AnyArr, I = idx.data as BigInt64Array;
    const ds = dflt.map((_, i) => sizeOf(dflt.slice(i + 1))), os = outDims.map((_, i) => sizeOf(outDims.slice(i + 1)));
    for (let k = 0; k < x.size; k++) {
      let rem = Number(I[k]);
      if (rem < 0 || rem >= sizeOf(dflt)) throw nodeError(ctx.node, `index ${rem} is outside the unpooled shape [${dflt}]`);
      let at = 0;
      for (let d = 0; d < dflt.length; d++) {
        const c = Math.floor(rem / ds[d]);
        rem -= c * ds[d];
        at += c * os[d];
      }
      out[at] = X[k];
    }
    return [new Tensor(x.type, out as TensorData, outDims)];
  },
});

/** RoiAlign (opset 10/16): bilinear samples averaged (or maxed) per output bin of each region. */
export const RoiAlign = defineOp({
  parse: (ctx, a) => {
    const mode = a.string('mode', 'avg');
    if (mode !== 'avg' && mode !== 'max') throw a.error('mode', `expected avg or max, got '${mode}'`);
    const coord = ctx.opset >= 16 ? a.string('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel';
    if (coord !== 'half_pixel' && coord !== 'output_half_pixel') throw a.error('coordinate_transformation_mode', `unsupported '${coord}'`);
    return {
      mode, halfPixel: coord === 'half_pixel', outH: a.int('output_height', 1), outW: a.int('output_width', 1),
      ratio: a.int('sampling_ratio', 0), scale: a.float('spatial_scale', 1),
    };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), rois = need(inputs, 1, ctx, 'rois'), bi = need(inputs, 2, ctx, 'batch_indices');
    checkType(x, ['float32', 'float64'], 0, ctx, 'X');
    const [, C, H, W] = x.dims;
    const R = rois.dims[0];
    if (x.dims.length !== 4 || rois.dims.length !== 2 || rois.dims[1] !== 4 || bi.size !== R) throw nodeError(ctx.node, `X [${x.dims}], rois [${rois.dims}], batch_indices [${bi.dims}] do not fit`);
    const X = x.data as Float32Array, RO = rois.data as Float32Array;
    const B = Array.from(bi.data as ArrayLike<number | bigint>, Number);
    const { outH, outW } = p;
    const out = allocData(x.type, R * C * outH * outW) as Float32Array;
    const off = p.halfPixel ? 0.5 : 0;
    for (let r = 0; r < R; r++) {
      const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => RO[r * 4 + k] * p.scale - off);
      let rw = x2 - x1, rh = y2 - y1;
      if (!p.halfPixel) { rw = Math.max(rw, 1); rh = Math.max(rh, 1); }
      const bh = rh / outH, bw = rw / outW;
      const gh = p.ratio > 0 ? p.ratio : Math.ceil(rh / outH), gw = p.ratio > 0 ? p.ratio : Math.ceil(rw / outW);
      const count = Math.max(gh * gw, 1);
      for (let c = 0; c < C; c++) {
        const base = (B[r] * C + c) * H * W;
        for (let ph = 0; ph < outH; ph++)
          for (let pw = 0; pw < outW; pw++) {
            let acc = p.mode === 'max' ? -Infinity : 0;
            for (let iy = 0; iy < gh; iy++) {
              const yy = y1 + ph * bh + ((iy + 0.5) * bh) / gh;
              for (let ix = 0; ix < gw; ix++) {
                const xx = x1 + pw * bw + ((ix + 0.5) * bw) / gw;
                // bilinear with onnxruntime's edge rules
                if (yy < -1 || yy > H || xx < -1 || xx > W) { if (p.mode === 'max') acc = Math.max(acc, 0); continue; }
                let y = Math.max(yy, 0), xv = Math.max(xx, 0);
                let yl = Math.floor(y), xl = Math.floor(xv), yh: number, xh: number;
                if (yl >= H - 1) { yh = yl = H - 1; y = yl; } else yh = yl + 1;
                if (xl >= W - 1) { xh = xl = W - 1; xv = xl; } else xh = xl + 1;
                const ly = y - yl, lx = xv - xl, hy = 1 - ly, hx = 1 - lx;
                const v = [hy * hx * X[base + yl * W + xl], hy * lx * X[base + yl * W + xh], ly * hx * X[base + yh * W + xl], ly * lx * X[base + yh * W + xh]];
                if (p.mode === 'max') acc = Math.max(acc, ...v);
                else acc += v[0] + v[1] + v[2] + v[3];
              }
            }
            out[((r * C + c) * outH + ph) * outW + pw] = p.mode === 'max' ? acc : acc / count;
          }
      }
    }
    return [new Tensor(x.type, out, [R, C, outH, outW])];
  },
});

/** TfIdfVectorizer: counts the pool's n-grams (with skips) per row; TF, IDF or TFIDF weighting. */
export const TfIdfVectorizer = defineOp({
  parse: (_c, a) => {
    const mode = a.string('mode');
    if (mode !== 'TF' && mode !== 'IDF' && mode !== 'TFIDF') throw a.error('mode', `expected TF, IDF or TFIDF, got '${mode}'`);
    const minN = a.int('min_gram_length'), maxN = a.int('max_gram_length'), maxSkip = a.int('max_skip_count');
    const counts = a.ints('ngram_counts'), indexes = a.ints('ngram_indexes');
    const poolI = a.ints('pool_int64s'), poolS = a.strings('pool_strings');
    if (minN === undefined || maxN === undefined || maxSkip === undefined || !counts || !indexes || (!poolI && !poolS)) {
      throw a.error('mode', 'min_gram_length, max_gram_length, max_skip_count, ngram_counts, ngram_indexes and a pool are required');
    }
    const pool: (number | string)[] = [...(poolI ?? poolS ?? [])];
    // n-gram key -> output index; pool entries of (i+1)-grams start at counts[i]
    const index = new Map<string, number>();
    let j = 0;
    for (let i = 0; i < counts.length; i++) {
      const n = i + 1, start = counts[i], end = i + 1 < counts.length ? counts[i + 1] : pool.length;
      for (let s = start; s + n <= end; s += n) index.set(`${n}|${pool.slice(s, s + n).join('\u0000')}`, indexes[j++]);
    }
    return { mode, minN, maxN, maxSkip, index, size: Math.max(-1, ...indexes) + 1, weights: a.floats('weights') };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['int32', 'int64', 'string'], 0, ctx, 'X');
    const rows = x.dims.length === 2 ? x.dims[0] : 1;
    const C = x.dims.length === 2 ? x.dims[1] : x.dims[0];
    const X = Array.from(x.data as ArrayLike<number | bigint | string>, (v) => String(v));
    const out = new Float32Array(rows * p.size);
    for (let r = 0; r < rows; r++) {
      const tok = X.slice(r * C, (r + 1) * C);
      for (let n = Math.max(1, p.minN); n <= p.maxN; n++)
        for (let skip = 0; skip <= (n === 1 ? 0 : p.maxSkip); skip++)
          for (let s = 0; s + (n - 1) * (skip + 1) < C; s++) {
            const gram = Array.from({ length: n }, (_, k) => tok[s + k * (skip + 1)]);
            const at = p.index.get(`${n}|${gram.join('\u0000')}`);
            if (at !== undefined) out[r * p.size + at]++;
          }
    }
    for (let i = 0; i < out.length; i++) {
      const w = p.weights ? p.weights[i % p.size] : 1;
      if (p.mode === 'IDF') out[i] = out[i] > 0 ? w : 0;
      else if (p.mode === 'TFIDF') out[i] *= w;
    }
    return [new Tensor('float32', out, x.dims.length === 2 ? [rows, p.size] : [p.size])];
  },
});
