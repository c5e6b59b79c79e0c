import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, dtypeFromOnnx, isBig, sameDims, sizeOf, type TensorData } from '../ir/tensor.js';
import { stridesOf } from './broadcast.js';
import { copySlots, indexNumbers, wordsOf, type Words } from './copy.js';
import { checkType, defineOp, intsOf, need, normAxis, NUMERIC, type OpContext } from './op.js';

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

/** Pad's source index along one axis for each of `size` output positions; -1 outside (constant mode). */
function padMap(D: number, before: number, size: number, mode: string): Int32Array {
  const m = new Int32Array(size);
  for (let c = 0; c < size; c++) {
    let i = c - before;
    if (i < 0 || i >= D) {
      if (mode === 'constant') i = -1;
      else if (mode === 'edge') i = i < 0 ? 0 : D - 1;
      else if (mode === 'wrap') i = ((i % D) + D) % D;
      else if (D === 1) i = 0;
      else {
        const period = 2 * (D - 1);
        i = ((i % period) + period) % period;
        if (i >= D) i = period - i;
      }
    }
    m[c] = i;
  }
  return m;
}

/**
 * Pad as rows along the last axis: output row k reads source row `rowSrc[k]` (-1: a row of the
 * constant), copies `mid` elements from `midSrc` to `midDst` as one run, and the padded ends one by
 * one (`ends`: pairs of output column, source column). Built per input shape and pads, never changed.
 */
interface PadPlan {
  readonly inDims: readonly number[];
  readonly pads: readonly number[];
  readonly padsT: Tensor | undefined;
  readonly outDims: readonly number[];
  readonly n: number;
  readonly L: number;
  readonly rowSrc: Int32Array;
  readonly midDst: number;
  readonly midSrc: number;
  readonly mid: number;
  readonly ends: Int32Array;
}

function padPlan(inDims: readonly number[], pads: readonly number[], padsT: Tensor | undefined, mode: string, ctx: OpContext): PadPlan {
  const r = inDims.length;
  if (pads.length !== 2 * r) throw nodeError(ctx.node, `pads has ${pads.length} values, expected ${2 * r} for rank ${r}`);
  const outDims = inDims.map((d, i) => d + pads[i] + pads[i + r]);
  if (outDims.some((d) => d < 0)) throw nodeError(ctx.node, `pads [${pads}] crop [${inDims}] below zero`);
  const n = sizeOf(outDims);
  if (mode !== 'constant' && sizeOf(inDims) === 0) throw nodeError(ctx.node, `mode '${mode}' needs a non-empty input`);
  const none = { inDims, pads, padsT, outDims, n, L: 1, rowSrc: new Int32Array(0), midDst: 0, midSrc: 0, mid: 0, ends: new Int32Array(0) };
  if (n === 0) return none;
  if (r === 0) return { ...none, rowSrc: new Int32Array(1), mid: 1 };
  // Per axis, the source index of each output position (-1: outside, the constant).
  const maps = outDims.map((size, d) => padMap(inDims[d], pads[d], size, mode));
  const xs = stridesOf(inDims);
  const L = outDims[r - 1], before = pads[r - 1], lmap = maps[r - 1];
  const c0 = Math.max(0, before), c1 = Math.min(L, before + inDims[r - 1]);
  const mid = Math.max(0, c1 - c0);
  const ends: number[] = [];
  for (let j = 0; j < L; j++) if ((j < c0 || j >= c0 + mid) && lmap[j] >= 0) ends.push(j, lmap[j]);
  const rows = n / L;
  const rowSrc = new Int32Array(rows);
  const counter = new Array<number>(r - 1).fill(0);
  for (let k = 0; k < rows; k++) {
    let base = 0;
    for (let d = 0; d < r - 1; d++) {
      const i = maps[d][counter[d]];
      if (i < 0) { base = -1; break; }
      base += i * xs[d];
    }
    rowSrc[k] = base;
    for (let d = r - 2; d >= 0; d--) {
      if (++counter[d] < outDims[d]) break;
      counter[d] = 0;
    }
  }
  return { inDims, pads, padsT, outDims, n, L, rowSrc, midDst: c0, midSrc: c0 - before, mid, ends: Int32Array.from(ends) };
}

function padF32(O: Float32Array, X: Float32Array, p: PadPlan): void {
  const { L, rowSrc, midDst, midSrc, mid, ends } = p;
  for (let k = 0, o = 0; k < rowSrc.length; k++, o += L) {
    const base = rowSrc[k];
    if (base < 0) continue;
    if (mid >= 32) O.set(X.subarray(base + midSrc, base + midSrc + mid), o + midDst);
    else for (let j = 0; j < mid; j++) O[o + midDst + j] = X[base + midSrc + j];
    for (let e = 0; e < ends.length; e += 2) O[o + ends[e]] = X[base + ends[e + 1]];
  }
}

function padWords(O: Words, X: Words, w: number, p: PadPlan): void {
  const { L, rowSrc, midDst, midSrc, mid, ends } = p;
  for (let k = 0, o = 0; k < rowSrc.length; k++, o += L) {
    const base = rowSrc[k];
    if (base < 0) continue;
    if (mid > 0) copySlots(O, (o + midDst) * w, X, (base + midSrc) * w, mid * w);
    for (let e = 0; e < ends.length; e += 2) {
      const src = (base + ends[e + 1]) * w, dst = (o + ends[e]) * w;
      for (let t = 0; t < w; t++) O[dst + t] = X[src + t];
    }
  }
}

/** Pad's attributes, and the plan of the last input shape and pads it ran on (replaced, never changed). */
interface PadAttrs {
  readonly mode: string;
  readonly pads: readonly number[] | undefined;
  readonly value: number;
  last: PadPlan | null;
}

function samePads(a: readonly number[], b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Pad: constant, reflect, edge and wrap modes; negative pads crop. */
export const Pad = defineOp<PadAttrs>({
  parse: (ctx, a) => {
    const mode = a.string('mode', 'constant');
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode) || (mode === 'wrap' && ctx.opset < 19)) throw a.error('mode', `unsupported mode '${mode}'`);
    return ctx.opset < 11
      ? { mode, pads: a.ints(ctx.opset < 2 ? 'paddings' : 'pads'), value: a.float('value', 0), last: null }
      : { mode, pads: undefined, value: 0, last: null };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const r = x.dims.length;
    let value: number | bigint = p.value;
    let plan = p.last;
    if (ctx.opset < 11) {
      if (!p.pads) throw nodeError(ctx.node, "attribute 'pads' is required");
      if (plan === null || !sameDims(plan.inDims, x.dims)) plan = p.last = padPlan(x.dims, p.pads, undefined, p.mode, ctx);
    } else {
      const pt = need(inputs, 1, ctx, 'pads');
      checkType(pt, ['int64'], 1, ctx, 'pads');
      const cv = inputs[2];
      if (cv && cv.size > 0) value = cv.data[0] as number | bigint;
      const axesT = inputs[3];
      // A plan is reused for the same input shape and pads: the same pads tensor when it never
      // changes (a constant), else equal pads values (no axes input).
      const hit = plan !== null && sameDims(plan.inDims, x.dims) &&
        (axesT === undefined && ctx.frozen !== undefined && plan.padsT === pt && ctx.frozen(1) ? true : axesT === undefined && samePads(plan.pads, indexNumbers(pt.data)));
      if (!hit) {
        const raw = intsOf(pt);
        let pads: number[];
        if (axesT) {
          const axes = intsOf(axesT).map((ax) => normAxis(ax, r, ctx));
          pads = new Array(2 * r).fill(0);
          axes.forEach((ax, i) => { pads[ax] = raw[i]; pads[ax + r] = raw[i + axes.length]; });
        } else pads = raw;
        plan = padPlan(x.dims, pads, pt, p.mode, ctx);
        if (!axesT) p.last = plan;
      }
    }
    plan = plan as PadPlan;
    const n = plan.n;
    const out = allocData(x.type, n);
    if (isBig(x.type) && typeof value === 'number') value = BigInt(value);
    // Fresh arrays are zero-filled: only another constant (or -0) needs a fill.
    if (p.mode === 'constant' && n > 0 && !(Object.is(value, 0) || value === 0n)) (out as unknown as { fill(v: unknown): void }).fill(value);
    if (n > 0) {
      if (x.data instanceof Float32Array) padF32(out as Float32Array, x.data, plan);
      else {
        const X = wordsOf(x.data);
        padWords(wordsOf(out).a, X.a, X.w, plan);
      }
    }
    return [new Tensor(x.type, out, plan.outDims)];
  },
});

/** Hardmax: 1 at the first maximum along the axis (2-D coercion before opset 13), 0 elsewhere. */
export const Hardmax = defineOp({
  parse: (ctx, a) => a.int('axis', ctx.opset < 13 ? 1 : -1),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    checkType(x, ['float32', 'float64'], 0, ctx, 'input');
    const ax = normAxis(axis, x.dims.length, ctx);
    const outer = sizeOf(x.dims.slice(0, ax));
    const D = ctx.opset < 13 ? sizeOf(x.dims.slice(ax)) : x.dims[ax];
    const inner = ctx.opset < 13 ? 1 : sizeOf(x.dims.slice(ax + 1));
    const X = x.data as Float32Array;
    const out = allocData(x.type, x.size) as Float32Array;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const base = o * D * inner + i;
        let best = 0;
        for (let d = 1; d < D; d++) if (X[base + d * inner] > X[base + best * inner]) best = d;
        if (D > 0) out[base + best * inner] = 1;
      }
    return [new Tensor(x.type, out, x.dims)];
  },
});

/** GatherND with batch_dims. */
export const GatherND = defineOp({
  parse: (ctx, a) => (ctx.opset >= 12 ? a.int('batch_dims', 0) : 0),
  run(inputs, b, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const it = need(inputs, 1, ctx, 'indices');
    checkType(it, ['int64'], 1, ctx, 'indices');
    const q = it.dims.length, r = x.dims.length;
    const last = it.dims[q - 1];
    if (q < 1 || b + last > r) throw nodeError(ctx.node, `indices shape [${it.dims}] does not fit data shape [${x.dims}] with batch_dims=${b}`);
    const batch = sizeOf(x.dims.slice(0, b));
    const lookups = sizeOf(it.dims.slice(b, q - 1));
    const slice = sizeOf(x.dims.slice(b + last));
    const xs = stridesOf(x.dims);
    const ids = intsOf(it);
    const X = x.data as AnyArr;
    const out = allocData(x.type, batch * lookups * slice) as AnyArr;
    const perBatch = sizeOf(x.dims.slice(b));
    for (let bi = 0; bi < batch; bi++)
      for (let l = 0; l < lookups; l++) {
        let off = bi * perBatch;
        for (let j = 0; j < last; j++) {
          const D = x.dims[b + j];
          let v = ids[(bi * lookups + l) * last + j];
          if (v < -D || v >= D) throw nodeError(ctx.node, `index ${v} is out of range for axis ${b + j} of size ${D}`);
          if (v < 0) v += D;
          off += v * xs[b + j];
        }
        for (let k = 0; k < slice; k++) out[(bi * lookups + l) * slice + k] = X[off + k];
      }
    return [new Tensor(x.type, out as TensorData, [...it.dims.slice(0, q - 1), ...x.dims.slice(b + last)])];
  },
});

/** ScatterElements (reduction none/add/mul, opset 16+ min/max from 18). */
export const ScatterElements = defineOp({
  parse: (ctx, a) => {
    const reduction = ctx.opset >= 16 ? a.string('reduction', 'none') : 'none';
    if (!['none', 'add', 'mul', 'min', 'max'].includes(reduction)) throw a.error('reduction', `unsupported '${reduction}'`);
    return { axis: a.int('axis', 0), reduction };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const it = need(inputs, 1, ctx, 'indices');
    const u = need(inputs, 2, ctx, 'updates');
    checkType(it, ['int64', 'int32'], 1, ctx, 'indices');
    if (u.type !== x.type || u.dims.length !== it.dims.length || u.dims.some((d, i) => d !== it.dims[i])) {
      throw nodeError(ctx.node, `updates ${u.type} [${u.dims}] must match indices [${it.dims}] and data type ${x.type}`);
    }
    const r = x.dims.length;
    const ax = normAxis(p.axis, r, ctx);
    const xs = stridesOf(x.dims), is = stridesOf(it.dims);
    const ids = intsOf(it);
    const out = (x.data as AnyArr & { slice(): AnyArr }).slice() as AnyArr;
    const U = u.data as AnyArr;
    for (let k = 0; k < it.size; k++) {
      let rem = k, off = 0;
      for (let d = 0; d < r; d++) {
        const c = Math.floor(rem / is[d]);
        rem -= c * is[d];
        let j = d === ax ? ids[k] : c;
        const D = x.dims[d];
        if (j < -D || j >= D) throw nodeError(ctx.node, `index ${j} is out of range for axis ${d} of size ${D}`);
        if (j < 0) j += D;
        off += j * xs[d];
      }
      const v = U[k] as number, cur = out[off] as number;
      out[off] = p.reduction === 'add' ? cur + v : p.reduction === 'mul' ? cur * v : p.reduction === 'min' ? (v < cur ? v : cur) : p.reduction === 'max' ? (v > cur ? v : cur) : v;
    }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});

/** OneHot: depth from a scalar input, values [off, on]; negative indices count from the end. */
export const OneHot = defineOp({
  parse: (_c, a) => a.int('axis', -1),
  run(inputs, axis, ctx) {
    const it = need(inputs, 0, ctx, 'indices');
    const dt = need(inputs, 1, ctx, 'depth');
    const vt = need(inputs, 2, ctx, 'values');
    if (dt.size !== 1) throw nodeError(ctx.node, `depth must be a scalar, got shape [${dt.dims}]`);
    if (vt.size !== 2) throw nodeError(ctx.node, `values must hold [off, on], got shape [${vt.dims}]`);
    const depth = Math.trunc(Number(dt.data[0]));
    if (!(depth > 0)) throw nodeError(ctx.node, `depth must be positive, got ${depth}`);
    const r = it.dims.length + 1;
    const ax = normAxis(axis, r, ctx);
    const ids = Array.from(it.data as ArrayLike<number | bigint>, Number);
    const outer = sizeOf(it.dims.slice(0, ax)), inner = sizeOf(it.dims.slice(ax));
    const out = allocData(vt.type, outer * depth * inner) as AnyArr;
    const [off, on] = [vt.data[0], vt.data[1]];
    for (let k = 0; k < out.length; k++) out[k] = off;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let d = Math.trunc(ids[o * inner + i]);
        if (d < 0) d += depth;
        if (d >= 0 && d < depth) out[(o * depth + d) * inner + i] = on;
      }
    return [new Tensor(vt.type, out as TensorData, [...it.dims.slice(0, ax), depth, ...it.dims.slice(ax)])];
  },
});

/** EyeLike: ones on diagonal k of a 2-D shape like the input. */
export const EyeLike = defineOp({
  parse: (_c, a) => ({ k: a.int('k', 0), dtype: a.int('dtype') }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    if (x.dims.length !== 2) throw nodeError(ctx.node, `input must be 2-D, got [${x.dims}]`);
    const type = p.dtype === undefined ? x.type : dtypeFromOnnx(p.dtype);
    if (!type || type === 'string') throw nodeError(ctx.node, `attribute 'dtype': unsupported ${p.dtype}`);
    const [R, C] = x.dims;
    const out = allocData(type, R * C) as AnyArr;
    const one = isBig(type) ? 1n : 1;
    for (let i = 0; i < R; i++) if (i + p.k >= 0 && i + p.k < C) out[i * C + i + p.k] = one;
    return [new Tensor(type, out as TensorData, x.dims)];
  },
});

/** Compress: keeps the slices along `axis` (or of the flattened input) where condition is true. */
export const Compress = defineOp({
  parse: (_c, a) => a.int('axis'),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const c = need(inputs, 1, ctx, 'condition');
    checkType(c, ['bool'], 1, ctx, 'condition');
    const flat = axis === undefined;
    const dims = flat ? [x.size] : [...x.dims];
    const ax = flat ? 0 : normAxis(axis, dims.length, ctx);
    const C = c.data as Uint8Array;
    const keep: number[] = [];
    for (let i = 0; i < Math.min(C.length, dims[ax]); i++) if (C[i]) keep.push(i);
    const outer = sizeOf(dims.slice(0, ax)), inner = sizeOf(dims.slice(ax + 1));
    const X = x.data as AnyArr;
    const out = allocData(x.type, outer * keep.length * inner) as AnyArr;
    let o = 0;
    for (let a = 0; a < outer; a++) for (const i of keep) for (let k = 0; k < inner; k++) out[o++] = X[(a * dims[ax] + i) * inner + k];
    dims[ax] = keep.length;
    return [new Tensor(x.type, out as TensorData, dims)];
  },
});

/**
 * Flat element offsets of ScatterND's index rows, checked; kept per data shape for indices that
 * never change (constants, and indices computed from shapes alone, as in GTCRN's cache updates).
 */
interface Offsets {
  key: string;
  offs: Float64Array;
  /** The rows as runs of consecutive offsets: [data offset, first row, row count] triples. */
  runs?: Float64Array;
}
const SCATTER_OFFSETS = new WeakMap<Tensor, Offsets>();

/** Consecutive rows (offsets advancing by one slice each) merged into runs; null when that saves little. */
function scatterRuns(offs: Float64Array, slice: number): Float64Array | null {
  const runs: number[] = [];
  for (let c = 0; c < offs.length;) {
    let e = c + 1;
    while (e < offs.length && offs[e] === offs[e - 1] + slice) e++;
    runs.push(offs[c], c, e - c);
    c = e;
  }
  return runs.length / 3 <= offs.length / 4 ? Float64Array.from(runs) : null;
}

function scatterOffsets(it: Tensor, dims: readonly number[], last: number, count: number, ctx: OpContext): Offsets {
  const constant = ctx.frozen ? ctx.frozen(1) : ctx.constant?.(1) === it;
  const key = constant ? dims.join(',') : '';
  if (constant) {
    const hit = SCATTER_OFFSETS.get(it);
    if (hit && hit.key === key) return hit;
  }
  const xs = stridesOf(dims);
  const ids = indexNumbers(it.data);
  const offs = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    let off = 0;
    for (let j = 0; j < last; j++) {
      let v = ids[c * last + j];
      const D = dims[j];
      if (v < -D || v >= D) throw nodeError(ctx.node, `index ${v} is out of range for axis ${j} of size ${D}`);
      if (v < 0) v += D;
      off += v * xs[j];
    }
    offs[c] = off;
  }
  const entry: Offsets = { key, offs };
  if (constant) {
    const slice = sizeOf(dims.slice(last));
    entry.runs = scatterRuns(offs, slice) ?? undefined;
    SCATTER_OFFSETS.set(it, entry);
  }
  return entry;
}

/** ScatterND (reduction none/add/mul from opset 16). */
export const ScatterND = defineOp({
  parse: (ctx, a) => {
    const reduction = ctx.opset >= 16 ? a.string('reduction', 'none') : 'none';
    if (!['none', 'add', 'mul', 'min', 'max'].includes(reduction)) throw a.error('reduction', `unsupported '${reduction}'`);
    return reduction;
  },
  run(inputs, reduction, ctx, reuse) {
    const x = need(inputs, 0, ctx, 'data');
    const it = need(inputs, 1, ctx, 'indices');
    const u = need(inputs, 2, ctx, 'updates');
    checkType(it, ['int64'], 1, ctx, 'indices');
    const q = it.dims.length, last = it.dims[q - 1];
    if (last > x.dims.length) throw nodeError(ctx.node, `indices last dim ${last} exceeds data rank ${x.dims.length}`);
    const slice = sizeOf(x.dims.slice(last));
    const count = sizeOf(it.dims.slice(0, q - 1));
    if (u.size !== count * slice) throw nodeError(ctx.node, `updates [${u.dims}] do not match indices [${it.dims}] and data [${x.dims}]`);
    const { offs, runs } = scatterOffsets(it, x.dims, last, count, ctx);
    // A dying data input is updated in place.
    const out = (reuse?.(0) && ArrayBuffer.isView(x.data) ? x.data : (x.data as AnyArr & { slice(): AnyArr }).slice()) as AnyArr;
    const U = u.data as AnyArr;
    if (reduction === 'none') {
      const O = wordsOf(out as TensorData), Uw = wordsOf(u.data).a, w = O.w, run = slice * w;
      // Duplicate indices: the last write wins, in both forms (runs keep the rows' order).
      if (runs) for (let k = 0; k < runs.length; k += 3) copySlots(O.a, runs[k] * w, Uw, runs[k + 1] * run, runs[k + 2] * run);
      else if (run === 1) for (let c = 0; c < count; c++) O.a[offs[c]] = Uw[c];
      else for (let c = 0; c < count; c++) copySlots(O.a, offs[c] * w, Uw, c * run, run);
    } else {
      for (let c = 0; c < count; c++) {
        const off = offs[c];
        for (let k = 0; k < slice; k++) {
          const cur = out[off + k] as number, v = U[c * slice + k] as number;
          out[off + k] = reduction === 'add' ? cur + v : reduction === 'mul' ? cur * v : reduction === 'min' ? Math.min(cur, v) : reduction === 'max' ? Math.max(cur, v) : v;
        }
      }
    }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});

/** DepthToSpace (DCR or CRD) and SpaceToDepth with a block size. */
export const DepthToSpace = defineOp({
  parse: (_c, a) => {
    const b = a.int('blocksize');
    if (!b || b < 1) throw a.error('blocksize', 'is required (>= 1)');
    const mode = a.string('mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw a.error('mode', `expected DCR or CRD, got '${mode}'`);
    return { b, crd: mode === 'CRD' };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    if (x.dims.length !== 4) throw nodeError(ctx.node, `input must be 4-D, got [${x.dims}]`);
    const [N, C, H, W] = x.dims, b = p.b;
    if (C % (b * b)) throw nodeError(ctx.node, `channels ${C} are not divisible by blocksize² ${b * b}`);
    const Co = C / (b * b);
    const X = x.data as AnyArr;
    const out = allocData(x.type, x.size) as AnyArr;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < Co; c++)
        for (let h = 0; h < H * b; h++)
          for (let w = 0; w < W * b; w++) {
            const bh = h % b, bw = w % b;
            const ci = p.crd ? c * b * b + bh * b + bw : (bh * b + bw) * Co + c;
            out[((n * Co + c) * H * b + h) * W * b + w] = X[((n * C + ci) * H + Math.floor(h / b)) * W + Math.floor(w / b)];
          }
    return [new Tensor(x.type, out as TensorData, [N, Co, H * b, W * b])];
  },
});

export const SpaceToDepth = defineOp({
  parse: (_c, a) => {
    const b = a.int('blocksize');
    if (!b || b < 1) throw a.error('blocksize', 'is required (>= 1)');
    return b;
  },
  run(inputs, b, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    if (x.dims.length !== 4) throw nodeError(ctx.node, `input must be 4-D, got [${x.dims}]`);
    const [N, C, H, W] = x.dims;
    if (H % b || W % b) throw nodeError(ctx.node, `spatial dims [${H}, ${W}] are not divisible by blocksize ${b}`);
    const Ho = H / b, Wo = W / b;
    const X = x.data as AnyArr;
    const out = allocData(x.type, x.size) as AnyArr;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) {
            const co = ((h % b) * b + (w % b)) * C + c;
            out[((n * C * b * b + co) * Ho + Math.floor(h / b)) * Wo + Math.floor(w / b)] = X[((n * C + c) * H + h) * W + w];
          }
    return [new Tensor(x.type, out as TensorData, [N, C * b * b, Ho, Wo])];
  },
});

/** NonZero: int64 [rank, count] coordinates of the non-zero elements, row-major order. */
export const NonZero = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    const X = x.data as AnyArr;
    const hits: number[] = [];
    for (let k = 0; k < x.size; k++) if (X[k] !== 0 && X[k] !== 0n && X[k] !== '') hits.push(k);
    const r = Math.max(1, x.dims.length);
    const dims = x.dims.length ? x.dims : [1];
    const s = stridesOf(dims);
    const out = new BigInt64Array(r * hits.length);
    hits.forEach((k, j) => {
      let rem = k;
      for (let d = 0; d < r; d++) {
        const c = Math.floor(rem / s[d]);
        rem -= c * s[d];
        out[d * hits.length + j] = BigInt(c);
      }
    });
    return [new Tensor('int64', out, [r, hits.length])];
  },
});

/** ReverseSequence: reverses the first sequence_lens[b] steps of each batch entry (recurrent pre/post-processing). */
export const ReverseSequence = defineOp({
  parse: (_c, a) => ({ batch: a.int('batch_axis', 1), time: a.int('time_axis', 0) }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const l = need(inputs, 1, ctx, 'sequence_lens');
    checkType(l, ['int64'], 1, ctx, 'sequence_lens');
    const r = x.dims.length;
    const ba = normAxis(p.batch, r, ctx), ta = normAxis(p.time, r, ctx);
    if (ba === ta || (ba > 1 || ta > 1)) throw nodeError(ctx.node, 'batch_axis and time_axis must be 0 and 1 in some order');
    const lens = intsOf(l);
    const B = x.dims[ba], T = x.dims[ta];
    if (lens.length !== B) throw nodeError(ctx.node, `sequence_lens has ${lens.length} values for batch ${B}`);
    const inner = sizeOf(x.dims.slice(2));
    const X = x.data as AnyArr;
    const out = allocData(x.type, x.size) as AnyArr;
    const at = (b: number, t: number) => (ba === 0 ? b * T + t : t * B + b) * inner;
    for (let b = 0; b < B; b++) {
      const L = lens[b];
      if (L < 0 || L > T) throw nodeError(ctx.node, `sequence_lens[${b}] = ${L} is out of 0..${T}`);
      for (let t = 0; t < T; t++) {
        const src = t < L ? L - 1 - t : t;
        for (let k = 0; k < inner; k++) out[at(b, t) + k] = X[at(b, src) + k];
      }
    }
    return [new Tensor(x.type, out as TensorData, x.dims)];
  },
});
