/**
 * Spatial ops over any number of spatial dims, plain loops: LpPool (all ranks), and the 3-D and
 * higher cases of MaxPool, AveragePool and ConvTranspose (pool.ts and conv.ts keep their fast 1-D
 * and 2-D kernels; the registry's defs here hand those ranks to them).
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, sizeOf, type DataType } from '../ir/tensor.js';
import * as conv from './conv.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { checkType, defineOp, FLOATS, need, type OpContext, type OpDef } from './op.js';
import * as pool from './pool.js';

/** The window attributes pool.ts parses (the same names, read structurally). */
interface Window {
  readonly autoPad: string;
  readonly ceil: boolean;
  readonly dilations?: readonly number[];
  readonly kernel: readonly number[];
  readonly pads?: readonly number[];
  readonly strides?: readonly number[];
  readonly countIncludePad: boolean;
  readonly storageOrder: number;
}

/** Output sizes and begin/end pads of a pooling window (auto_pad, ceil_mode), as pool.ts computes them. */
function windowShape(inSp: readonly number[], p: Window, ctx: OpContext) {
  const sp = inSp.length;
  if (p.kernel.length !== sp) throw nodeError(ctx.node, `attribute 'kernel_shape' has ${p.kernel.length} values for ${sp} spatial dims`);
  const strides = p.strides ?? inSp.map(() => 1);
  const dil = p.dilations ?? inSp.map(() => 1);
  let pads = [...(p.pads ?? new Array(2 * sp).fill(0))];
  const eff = p.kernel.map((k, i) => dil[i] * (k - 1) + 1);
  let outSp: number[];
  if (p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
    outSp = inSp.map((d, i) => Math.ceil(d / strides[i]));
    outSp.forEach((o, i) => {
      const total = Math.max(0, (o - 1) * strides[i] + eff[i] - inSp[i]);
      const small = Math.floor(total / 2);
      pads[i] = p.autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + sp] = total - pads[i];
    });
  } else if (p.autoPad === 'VALID') {
    pads = new Array(2 * sp).fill(0);
    outSp = inSp.map((d, i) => Math.floor((d - eff[i]) / strides[i]) + 1);
  } else {
    outSp = inSp.map((d, i) => {
      const span = (d + pads[i] + pads[i + sp] - eff[i]) / strides[i];
      let o = (p.ceil ? Math.ceil(span) : Math.floor(span)) + 1;
      if (p.ceil && (o - 1) * strides[i] >= d + pads[i]) o--; // the last window starts inside input or left pad
      return o;
    });
  }
  if (outSp.some((o) => o < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty for spatial input [${inSp}]`);
  return { outSp, pads, strides, dil };
}

type Mode = 'max' | 'avg' | 'lp';

/** Pooling of X [N, C, d1..dn] over any n. Max also returns flattened argmax indices. */
function poolNd(x: Tensor, p: Window, mode: Mode, lpP: number, ctx: OpContext): Tensor[] {
  const [N, C] = x.dims, inSp = x.dims.slice(2), sp = inSp.length;
  const { outSp, pads, strides, dil } = windowShape(inSp, p, ctx);
  const X = toFloat64(x);
  const inSize = sizeOf(inSp), outSize = sizeOf(outSp), kSize = sizeOf(p.kernel);
  const Y = new Float64Array(N * C * outSize);
  const I = mode === 'max' ? new BigInt64Array(N * C * outSize) : undefined;
  const o = new Array<number>(sp).fill(0), k = new Array<number>(sp).fill(0);
  for (let op = 0; op < outSize; op++) {
    let r = op;
    for (let d = sp - 1; d >= 0; d--) { o[d] = r % outSp[d]; r = Math.floor(r / outSp[d]); }
    // the window's flattened input offsets (-1: padding) and how many padded cells count
    const offs: number[] = [];
    let padCount = 0;
    for (let kp = 0; kp < kSize; kp++) {
      let rr = kp, off = 0, inside = true, inPad = true;
      for (let d = sp - 1; d >= 0; d--) { k[d] = rr % p.kernel[d]; rr = Math.floor(rr / p.kernel[d]); }
      for (let d = 0; d < sp; d++) {
        const i = o[d] * strides[d] - pads[d] + k[d] * dil[d];
        if (i < 0 || i >= inSp[d]) { inside = false; if (i < -pads[d] || i >= inSp[d] + pads[d + sp]) inPad = false; }
        off = off * inSp[d] + i;
      }
      if (inside) offs.push(off);
      else if (inPad) padCount++;
    }
    for (let nc = 0; nc < N * C; nc++) {
      const base = nc * inSize;
      let acc = mode === 'max' ? -Infinity : 0, best = -1;
      for (const off of offs) {
        const v = X[base + off];
        if (mode === 'max') { if (v > acc || best < 0) { acc = v; best = off; } }
        else if (mode === 'avg') acc += v;
        else acc += Math.abs(v) ** lpP;
      }
      const at = nc * outSize + op;
      if (mode === 'max') { Y[at] = acc; I![at] = BigInt(base + best); }
      else if (mode === 'avg') { const n = offs.length + (p.countIncludePad ? padCount : 0); Y[at] = n ? acc / n : 0; }
      else Y[at] = acc ** (1 / lpP);
    }
  }
  const dims = [N, C, ...outSp];
  const y = fromFloat64(Y, x.type, dims);
  return I ? [y, new Tensor('int64', I, dims)] : [y];
}

/** pool.ts's op for 1-D/2-D inputs, poolNd for 3-D and up. */
function poolAnyRank(base: OpDef<unknown>, mode: 'max' | 'avg'): OpDef<unknown> {
  return {
    ...base,
    run(inputs, attrs, ctx, reuse, scope) {
      const x = inputs[0];
      if (!x || x.dims.length <= 4) return base.run(inputs, attrs, ctx, reuse, scope);
      checkType(x, mode === 'max' ? [...FLOATS, 'int8', 'uint8'] : FLOATS, 0, ctx, 'X');
      const p = attrs as Window;
      if (p.storageOrder) throw nodeError(ctx.node, 'storage_order applies to 2-D MaxPool only');
      const out = poolNd(x, p, mode, 1, ctx);
      if (x.type === 'int8' || x.type === 'uint8') out[0] = new Tensor(x.type, (x.type === 'int8' ? Int8Array : Uint8Array).from(toFloat64(out[0])), out[0].dims);
      return out;
    },
  };
}
export const MaxPool = poolAnyRank(pool.MaxPool as OpDef<unknown>, 'max');
export const AveragePool = poolAnyRank(pool.AveragePool as OpDef<unknown>, 'avg');

/** LpPool (18+ attributes: ceil_mode, dilations): (Σ |x|^p)^(1/p) over each window, padding counted as 0. */
export const LpPool = defineOp({
  parse(ctx, a) {
    const kernel = a.ints('kernel_shape');
    if (!kernel || kernel.some((k) => !(k >= 1))) throw a.error('kernel_shape', 'is required, values >= 1');
    const autoPad = a.string('auto_pad', 'NOTSET');
    if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw a.error('auto_pad', `unknown value '${autoPad}'`);
    const p = a.int('p', 2);
    if (!(p > 0)) throw a.error('p', `must be positive, got ${p}`);
    const w: Window = {
      autoPad, kernel, pads: a.ints('pads'), strides: a.ints('strides'),
      ceil: ctx.opset >= 18 ? a.int('ceil_mode', 0) !== 0 : false,
      dilations: ctx.opset >= 18 ? a.ints('dilations') : undefined,
      countIncludePad: false, storageOrder: 0,
    };
    return { w, p };
  },
  run(inputs, { w, p }, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['float32', 'float64', 'float16', 'bfloat16'], 0, ctx, 'X');
    if (x.dims.length < 3) throw nodeError(ctx.node, `X must be [N, C, d1, ...], got [${x.dims}]`);
    return poolNd(x, w, 'lp', p, ctx);
  },
});

/** The attributes conv.ts parses for ConvTranspose. */
interface ConvTAttrs {
  readonly autoPad: string;
  readonly dilations?: readonly number[];
  readonly group: number;
  readonly pads?: readonly number[];
  readonly strides?: readonly number[];
  readonly outputPadding?: readonly number[];
  readonly outputShape?: readonly number[];
}

/** ConvTranspose over any spatial rank (used for 3-D and up), summing in float64. */
function convTransposeNd(x: Tensor, w: Tensor, b: Tensor | undefined, p: ConvTAttrs, ctx: OpContext): Tensor {
  const [N, C] = x.dims, inSp = x.dims.slice(2), sp = inSp.length, G = p.group;
  if (w.dims.length !== x.dims.length || w.dims[0] !== C || C % G !== 0) throw nodeError(ctx.node, `W [${w.dims}] does not match X [${x.dims}] with group=${G}`);
  const MperG = w.dims[1], M = MperG * G, CperG = C / G, kSp = w.dims.slice(2);
  if (b && (b.dims.length !== 1 || b.dims[0] !== M)) throw nodeError(ctx.node, `input 2 (B): expected shape [${M}], got [${b.dims}]`);
  const strides = p.strides ?? inSp.map(() => 1), dil = p.dilations ?? inSp.map(() => 1);
  const outPad = p.outputPadding ?? inSp.map(() => 0);
  const full = inSp.map((d, i) => strides[i] * (d - 1) + outPad[i] + (kSp[i] - 1) * dil[i] + 1);
  let pads: number[], outSp: number[];
  if (p.outputShape || p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
    const target = p.outputShape ? p.outputShape.slice(-sp) : inSp.map((d, i) => d * strides[i]);
    pads = new Array(2 * sp).fill(0);
    target.forEach((t, i) => {
      const total = full[i] - t, half = Math.floor(total / 2), upper = p.autoPad === 'SAME_UPPER';
      pads[i] = upper ? half : total - half;
      pads[i + sp] = upper ? total - half : half;
    });
    outSp = [...target];
  } else {
    pads = p.autoPad === 'VALID' ? new Array(2 * sp).fill(0) : [...(p.pads ?? new Array(2 * sp).fill(0))];
    outSp = full.map((f, i) => f - pads[i] - pads[i + sp]);
  }
  if (outSp.some((o) => o < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty`);
  const X = toFloat64(x), Wt = toFloat64(w), B = b ? toFloat64(b) : undefined;
  const inSize = sizeOf(inSp), kSize = sizeOf(kSp), outSize = sizeOf(outSp);
  const Y = new Float64Array(N * M * outSize);
  // for each input position and kernel tap, the output offset it scatters to (-1: cropped away)
  const target = new Int32Array(inSize * kSize);
  const ii = new Array<number>(sp), kk = new Array<number>(sp);
  for (let ip = 0; ip < inSize; ip++) {
    let r = ip;
    for (let d = sp - 1; d >= 0; d--) { ii[d] = r % inSp[d]; r = Math.floor(r / inSp[d]); }
    for (let kp = 0; kp < kSize; kp++) {
      let rr = kp, off = 0, ok = true;
      for (let d = sp - 1; d >= 0; d--) { kk[d] = rr % kSp[d]; rr = Math.floor(rr / kSp[d]); }
      for (let d = 0; d < sp && ok; d++) {
        const o = ii[d] * strides[d] + kk[d] * dil[d] - pads[d];
        if (o < 0 || o >= outSp[d]) ok = false;
        off = off * outSp[d] + o;
      }
      target[ip * kSize + kp] = ok ? off : -1;
    }
  }
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const g = Math.floor(c / CperG);
    for (let mg = 0; mg < MperG; mg++) {
      const m = g * MperG + mg, yBase = (n * M + m) * outSize, wBase = (c * MperG + mg) * kSize;
      for (let ip = 0; ip < inSize; ip++) {
        const xv = X[(n * C + c) * inSize + ip];
        if (xv === 0) continue;
        for (let kp = 0; kp < kSize; kp++) {
          const t = target[ip * kSize + kp];
          if (t >= 0) Y[yBase + t] += xv * Wt[wBase + kp];
        }
      }
    }
  }
  if (B) for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let i = 0; i < outSize; i++) Y[(n * M + m) * outSize + i] += B[m];
  return fromFloat64(Y, x.type, [N, M, ...outSp]);
}

/** conv.ts's ConvTranspose for 1-D/2-D inputs, convTransposeNd for 3-D and up. */
export const ConvTranspose: OpDef<unknown> = {
  ...(conv.ConvTranspose as OpDef<unknown>),
  run(inputs, attrs, ctx, reuse, scope) {
    const x = inputs[0];
    if (!x || x.dims.length <= 4) return conv.ConvTranspose.run(inputs, attrs as never, ctx, reuse, scope);
    const w = need(inputs, 1, ctx, 'W');
    checkType(x, FLOATS as readonly DataType[], 0, ctx, 'X');
    if (w.type !== x.type) throw nodeError(ctx.node, `input 1 (W): expected ${x.type}, got ${w.type}`);
    return [convTransposeNd(x, w, inputs[2], attrs as ConvTAttrs, ctx)];
  },
};
