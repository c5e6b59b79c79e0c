import { nodeError } from '../ir/errors.js';
import { Conv, type ConvAttrs } from './conv.js';
import type { ConvGeom } from '../wasm/conv.js';
import { Tensor, allocData, dtypeFromOnnx, onnxDtypeName, sameDims, sizeOf, type DataType, type TensorData } from '../ir/tensor.js';
import { reader } from './cast.js';
import { fromBfloatBits, fromHalfBits, toHalfBits } from './half.js';
import { narrowEncoder } from './narrow.js';
import { bfloatBitsRne } from './float-io.js';
import { checkType, defineOp, need, normAxis, type AttrReader, type Inputs, type OpContext } from './op.js';
import { roundHalfEven } from './math.js';

/** Saturation ranges of the integer quantized types. */
const RANGE: Partial<Record<DataType, [number, number]>> = {
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767],
  uint4: [0, 15], int4: [-8, 7], uint2: [0, 3], int2: [-2, 1],
};
const QUANT_TYPES: readonly DataType[] = [...(Object.keys(RANGE) as DataType[]), 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1'];

/**
 * How scale and zero point spread over x, seen as outer × D × inner around `axis`: per tensor
 * (one value: outer = D = 1), per axis (row (o, a) uses value a) or blocked (row (o, a) uses the
 * `inner` values from (o·S + ⌊a / block⌋)·inner on, one per element). Loops run by rows, so no
 * element pays for an index computation.
 */
interface ParamLayout {
  readonly outer: number;
  readonly D: number;
  readonly inner: number;
  /** 0: per tensor or per axis; else the block size along the axis. */
  readonly block: number;
  /** Blocks along the axis (blocked layout). */
  readonly S: number;
}

function paramLayout(x: Tensor, scale: Tensor, axis: number, blockSize: number, ctx: OpContext): ParamLayout {
  if (blockSize === 0) {
    if (scale.size === 1 && scale.dims.length <= 1) return { outer: 1, D: 1, inner: x.size, block: 0, S: 1 };
    if (scale.dims.length !== 1) throw nodeError(ctx.node, `scale must be a scalar or 1-D without block_size, got [${scale.dims}]`);
  }
  const ax = normAxis(axis, x.dims.length, ctx);
  const D = x.dims[ax], inner = sizeOf(x.dims.slice(ax + 1)), outer = sizeOf(x.dims.slice(0, ax));
  if (blockSize === 0) {
    if (D !== scale.size) throw nodeError(ctx.node, `scale has ${scale.size} values for axis ${ax} of size ${D}`);
    return { outer, D, inner, block: 0, S: 1 };
  }
  if (blockSize < 0) throw nodeError(ctx.node, `block_size must be positive, got ${blockSize}`);
  const S = Math.ceil(D / blockSize);
  const ok = scale.dims.length === x.dims.length && scale.dims.every((d, k) => (k === ax ? d === S : d === x.dims[k]));
  if (!ok) throw nodeError(ctx.node, `blocked quantization along axis ${ax} with block_size ${blockSize} needs a scale of shape [${x.dims.map((d, k) => (k === ax ? S : d))}], got [${scale.dims}]`);
  return { outer, D, inner, block: blockSize, S };
}

/** Parameter index of row (o, a)'s first element; consecutive elements of a blocked row step by one. */
function rowParam(L: ParamLayout, o: number, a: number): number {
  return L.block === 0 ? (L.D === 1 ? 0 : a) : (o * L.S + Math.floor(a / L.block)) * L.inner;
}

/** Zero point: same shape as the scale (a one-element zero point may go with a scalar scale). */
function zeroPoint(inputs: Inputs, i: number, scale: Tensor, ctx: OpContext): Tensor | undefined {
  const z = inputs[i];
  if (z && !(z.size === scale.size && (z.size === 1 || sameDims(z.dims, scale.dims)))) {
    throw nodeError(ctx.node, `zero point of shape [${z.dims}] does not match the scale's [${scale.dims}]`);
  }
  return z;
}

/** Rounds a number to a float type's precision (the type an operation's numpy reference computes in). */
function rounder(t: DataType): (v: number) => number {
  switch (t) {
    case 'float64': return (v) => v;
    case 'float32': return Math.fround;
    case 'float16': return (v) => fromHalfBits(toHalfBits(v));
    case 'bfloat16': return (v) => fromBfloatBits(bfloatBitsRne(v));
    default: throw new Error(`rounder: ${t}`);
  }
}

/** Writes numbers to a float tensor of type t (float32/float64/float16/bfloat16). */
function floatOut(t: DataType, n: number): { data: TensorData; set: (i: number, v: number) => void } {
  const data = allocData(t, n) as Float32Array | Float64Array | Uint16Array;
  if (t === 'float16') return { data, set: (i, v) => { data[i] = toHalfBits(v); } };
  if (t === 'bfloat16') return { data, set: (i, v) => { data[i] = bfloatBitsRne(v); } };
  return { data, set: (i, v) => { data[i] = v; } };
}

const FLOAT_OUT: readonly DataType[] = ['float32', 'float16', 'bfloat16'];

interface QuantAttrs {
  readonly axis: number;
  readonly saturate: boolean;
  readonly blockSize: number;
  readonly outputDtype?: DataType;
  readonly precision?: DataType;
  /** Constant per-tensor float32 scale and zero point, checked once (see perTensorConstants). */
  readonly pt?: PerTensor;
}

/** A constant per-tensor float32 scale and zero point (the usual case), read out once. */
interface PerTensor {
  readonly s: Tensor;
  readonly z: Tensor | undefined;
  readonly scale: number;
  readonly zp: number;
  /** The integer type of the quantized side. */
  readonly type: DataType;
  readonly lo: number;
  readonly hi: number;
}

/**
 * Scale (input 1) and zero point (input 2) when both are constants the typed per-tensor loops can
 * use with no check at run time: a float32 scalar scale and a one-element zero point of an integer
 * type (`type` when the zero point is absent). Anything else is left to the checks at run time.
 */
function perTensorConstants(ctx: OpContext, type: DataType | undefined): PerTensor | undefined {
  const s = ctx.constant?.(1);
  const hasZ = !!ctx.node.inputs[2];
  const z = hasZ ? ctx.constant?.(2) : undefined;
  if (!s || (hasZ && !z) || s.type !== 'float32' || s.size !== 1 || s.dims.length > 1) return undefined;
  if (z && (z.size !== 1 || z.dims.length > 1 || (type !== undefined && z.type !== type))) return undefined;
  const t = z?.type ?? type;
  const range = t === undefined ? undefined : RANGE[t];
  if (t === undefined || range === undefined) return undefined;
  return { s, z, scale: (s.data as Float32Array)[0], zp: z ? Number(z.data[0]) : 0, type: t, lo: range[0], hi: range[1] };
}

function dtypeAttr(a: AttrReader, name: string, allowed: readonly DataType[]): DataType | undefined {
  const code = a.int(name, 0);
  if (code === 0) return undefined;
  const t = dtypeFromOnnx(code);
  if (!t || !allowed.includes(t)) throw a.error(name, `expected one of ${allowed.join(', ')}, got ${onnxDtypeName(code)}`);
  return t;
}

const Q_X_TYPES: readonly DataType[] = ['float32', 'float16', 'bfloat16', 'int32', 'float64'];
const Q_SCALE_TYPES: readonly DataType[] = ['float32', 'float16', 'bfloat16', 'int32', 'float8e8m0', 'float64'];
const DQ_X_TYPES: readonly DataType[] = [...QUANT_TYPES, 'int32'];
const DQ_SCALE_TYPES: readonly DataType[] = [...FLOAT_OUT, 'float8e8m0'];

/** A tensor's values as numbers (scales and zero points: a few values, decoded once per call). */
function numbers(t: Tensor): Float64Array {
  const get = reader(t) as (i: number) => number;
  const out = new Float64Array(t.size);
  for (let i = 0; i < out.length; i++) out[i] = get(i);
  return out;
}

/**
 * float32 x / float32 scale to an integer type: q = x / scale rounded to float32, round half to
 * even, plus the zero point, saturated to [lo, hi]; NaN gives lo, as the reference's float -> int
 * conversion does (onnxruntime and the ONNX reference agree on the rest).
 */
function quantizeF32(X: Float32Array, S: Float32Array, Z: ArrayLike<number> | undefined, L: ParamLayout, lo: number, hi: number, out: { [i: number]: number }): void {
  const step = L.block === 0 ? 0 : 1;
  let i = 0;
  for (let o = 0; o < L.outer; o++) {
    for (let a = 0; a < L.D; a++) {
      const end = i + L.inner;
      for (let k = rowParam(L, o, a); i < end; i++, k += step) {
        const q = Math.fround(X[i] / S[k]);
        const v = roundHalfEven(q) + (Z === undefined ? 0 : Z[k]);
        out[i] = q !== q ? lo : v < lo ? lo : v > hi ? hi : v;
      }
    }
  }
}

/** (x − zero_point) · scale in float32 from integers held one element a slot. */
function dequantizeF32(X: ArrayLike<number>, S: Float32Array, Z: ArrayLike<number> | undefined, L: ParamLayout, out: Float32Array): void {
  const step = L.block === 0 ? 0 : 1;
  let i = 0;
  for (let o = 0; o < L.outer; o++) {
    for (let a = 0; a < L.D; a++) {
      const end = i + L.inner;
      for (let k = rowParam(L, o, a); i < end; i++, k += step) out[i] = Math.fround(X[i] - (Z === undefined ? 0 : Z[k])) * S[k];
    }
  }
}

export const QuantizeLinear = defineOp({
  parse(ctx, a): QuantAttrs {
    const axis = ctx.opset >= 13 ? a.int('axis', 1) : 1;
    const saturate = ctx.opset >= 19 ? a.int('saturate', 1) !== 0 : true;
    const blockSize = ctx.opset >= 21 ? a.int('block_size', 0) : 0;
    const outputDtype = ctx.opset >= 21 ? dtypeAttr(a, 'output_dtype', QUANT_TYPES) : undefined;
    const precision = ctx.opset >= 23 ? dtypeAttr(a, 'precision', ['float32', 'float16', 'bfloat16', 'float64']) : undefined;
    const pt = precision || blockSize !== 0 ? undefined : perTensorConstants(ctx, outputDtype ?? (ctx.node.inputs[2] ? undefined : 'uint8'));
    return { axis, saturate, blockSize, outputDtype, precision, pt };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const pt = p.pt;
    // Constant per-tensor scale and zero point, checked when the session was made.
    if (pt !== undefined && x.type === 'float32' && inputs[1] === pt.s && inputs[2] === pt.z) {
      const X = x.data as Float32Array, n = X.length, sc = pt.scale, zp = pt.zp, lo = pt.lo, hi = pt.hi;
      const out = allocData(pt.type, n) as Uint8Array;
      for (let i = 0; i < n; i++) {
        const q = Math.fround(X[i] / sc);
        const v = roundHalfEven(q) + zp;
        out[i] = q !== q ? lo : v < lo ? lo : v > hi ? hi : v;
      }
      return [new Tensor(pt.type, out, x.dims)];
    }
    const s = need(inputs, 1, ctx, 'y_scale');
    checkType(x, Q_X_TYPES, 0, ctx, 'x');
    checkType(s, Q_SCALE_TYPES, 1, ctx, 'y_scale');
    const z = zeroPoint(inputs, 2, s, ctx);
    if (z) checkType(z, QUANT_TYPES, 2, ctx, 'y_zero_point');
    if (z && p.outputDtype && z.type !== p.outputDtype) throw nodeError(ctx.node, `output_dtype ${p.outputDtype} does not match y_zero_point's type ${z.type}`);
    const type = z?.type ?? p.outputDtype ?? 'uint8';
    const range = RANGE[type];
    const L = paramLayout(x, s, p.axis, p.blockSize, ctx);
    const out = allocData(type, x.size) as Uint8Array;
    // float32 x and scale to an integer type (the usual case, often a few elements inside a loop
    // body): typed loops by rows.
    if (range && !p.precision && x.type === 'float32' && s.type === 'float32') {
      quantizeF32(x.data as Float32Array, s.data as Float32Array, z?.data as ArrayLike<number> | undefined, L, range[0], range[1], out);
      return [new Tensor(type, out, x.dims)];
    }
    const getX = reader(x) as (i: number) => number;
    const S = numbers(s), Z = z ? numbers(z) : undefined;
    // x / y_scale is computed in the type numpy's promotion gives (or `precision`), then rounded.
    const qt: DataType = p.precision
      ?? (x.type === 'int32' || x.type === 'float64' || s.type === 'int32' || s.type === 'float64' ? 'float64'
        : x.type === s.type ? x.type : 'float32');
    const rq = rounder(qt);
    if (p.precision) for (let k = 0; k < S.length; k++) S[k] = rq(S[k]);
    const rin = p.precision ? rq : (v: number) => v;
    const enc = range ? undefined : narrowEncoder(type, p.saturate);
    const [lo, hi] = range ?? [0, 0];
    const step = L.block === 0 ? 0 : 1;
    let i = 0;
    for (let o = 0; o < L.outer; o++) {
      for (let a = 0; a < L.D; a++) {
        const end = i + L.inner;
        for (let k = rowParam(L, o, a); i < end; i++, k += step) {
          const q = rq(rin(getX(i)) / S[k]);
          const zp = Z === undefined ? 0 : Z[k];
          // NaN becomes the lowest value, as the reference's float -> int32 conversion does.
          out[i] = enc ? enc(q + zp) : Number.isNaN(q) ? lo : Math.min(hi, Math.max(lo, roundHalfEven(q) + zp));
        }
      }
    }
    return [new Tensor(type, out, x.dims)];
  },
});

export const DequantizeLinear = defineOp({
  parse(ctx, a): QuantAttrs {
    const axis = ctx.opset >= 13 ? a.int('axis', 1) : 1;
    const blockSize = ctx.opset >= 21 ? a.int('block_size', 0) : 0;
    const outputDtype = ctx.opset >= 23 ? dtypeAttr(a, 'output_dtype', FLOAT_OUT) : undefined;
    // Without a zero point, x's type is known only at run time (checked there against pt.type).
    const pt = blockSize !== 0 || (outputDtype !== undefined && outputDtype !== 'float32') ? undefined : perTensorConstants(ctx, undefined);
    return { axis, saturate: true, blockSize, outputDtype, pt };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const pt = p.pt;
    // Constant per-tensor scale and zero point, checked when the session was made.
    if (pt !== undefined && x.type === pt.type && inputs[1] === pt.s && inputs[2] === pt.z) {
      const X = x.data as Int8Array, n = X.length, sc = pt.scale, zp = pt.zp;
      const out = allocData('float32', n) as Float32Array;
      for (let i = 0; i < n; i++) out[i] = (X[i] - zp) * sc;
      return [new Tensor('float32', out, x.dims)];
    }
    const s = need(inputs, 1, ctx, 'x_scale');
    checkType(x, DQ_X_TYPES, 0, ctx, 'x');
    checkType(s, DQ_SCALE_TYPES, 1, ctx, 'x_scale');
    const z = zeroPoint(inputs, 2, s, ctx);
    if (z && z.type !== x.type) throw nodeError(ctx.node, `x_zero_point must be ${x.type} like x, got ${z.type}`);
    const type = p.outputDtype ?? s.type;
    if (type === 'float8e8m0') throw nodeError(ctx.node, 'x_scale of type float8e8m0 needs the output_dtype attribute');
    const L = paramLayout(x, s, p.axis, p.blockSize, ctx);
    // float32 scale and output from an integer x held one element a slot (the usual case, often a
    // few elements inside a loop body): typed loops by rows.
    if (type === 'float32' && s.type === 'float32' && (x.type === 'int32' || RANGE[x.type] !== undefined)) {
      const out = allocData('float32', x.size) as Float32Array;
      dequantizeF32(x.data as Int32Array, s.data as Float32Array, z?.data as ArrayLike<number> | undefined, L, out);
      return [new Tensor('float32', out, x.dims)];
    }
    const getX = reader(x) as (i: number) => number;
    const S = numbers(s), Z = z ? numbers(z) : undefined;
    // (x − zero_point) · scale in float32, as the reference computes, then rounded to the output type.
    const { data, set } = floatOut(type, x.size);
    const step = L.block === 0 ? 0 : 1;
    let i = 0;
    for (let o = 0; o < L.outer; o++) {
      for (let a = 0; a < L.D; a++) {
        const end = i + L.inner;
        for (let k = rowParam(L, o, a); i < end; i++, k += step) set(i, Math.fround(Math.fround(getX(i) - (Z === undefined ? 0 : Z[k])) * S[k]));
      }
    }
    return [new Tensor(type, data, x.dims)];
  },
});

/**
 * DynamicQuantizeLinear: uint8 with scale and zero point from the data's range (including 0), as
 * onnxruntime computes them: scale = float32(max − min) / 255, or 1 when max = min (all zeros or
 * empty: the ONNX reference would give 1/255 there and its function body 0/0; onnxruntime, the
 * oracle, gives 1), zero point = round half to even of −min / scale, saturated.
 */
export const DynamicQuantizeLinear = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    checkType(x, ['float32'], 0, ctx, 'x');
    const X = x.data as Float32Array, n = X.length;
    let mn = 0, mx = 0;
    for (let i = 0; i < n; i++) { const v = X[i]; if (v < mn) mn = v; if (v > mx) mx = v; }
    const scale = mx === mn ? 1 : Math.fround(Math.fround(mx - mn) / 255);
    // A range so narrow that the scale underflows to 0: every element quantizes to the zero point 0.
    const zp = scale === 0 ? 0 : Math.min(255, Math.max(0, roundHalfEven(Math.fround(0 - mn / scale))));
    const out = allocData('uint8', n) as Uint8Array;
    if (scale === 0) out.fill(zp);
    else {
      for (let i = 0; i < n; i++) {
        const v = roundHalfEven(Math.fround(X[i] / scale)) + zp;
        out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    return [new Tensor('uint8', out, x.dims), new Tensor('float32', Float32Array.of(scale), []), new Tensor('uint8', Uint8Array.of(zp), [])];
  },
});

/**
 * Geometry of an integer convolution as 2-D (1-D runs with height 1), the same shapes, pads and
 * checks as Conv (src/ops/conv.ts).
 */
interface IntConvGeom extends ConvGeom {
  readonly CperG: number;
  readonly outDims: readonly number[];
  /** Per tap column kw: the output columns [owLo, owHi) whose input column is inside x; per tap row kh likewise. */
  readonly owLo: Int32Array; readonly owHi: Int32Array; readonly ohLo: Int32Array; readonly ohHi: Int32Array;
  /** Per tap (kh, kw): the input offset of output (0, 0), (kh·dH − pT)·W + kw·dW − pL. */
  readonly xOff: Int32Array;
}

/** Outputs o in [0, O) with 0 <= o·s + off < I: [lo, hi) (empty when lo >= hi). */
function inRange(O: number, I: number, s: number, off: number): [number, number] {
  const lo = off >= 0 ? 0 : Math.ceil(-off / s);
  const hi = Math.min(O, Math.floor((I - 1 - off) / s) + 1);
  return [Math.min(lo, O), Math.max(hi, 0)];
}

function intConvGeom(p: ConvAttrs, xd: readonly number[], wd: readonly number[], ctx: OpContext): IntConvGeom {
  const sp = xd.length - 2;
  if (sp !== 1 && sp !== 2) throw nodeError(ctx.node, `only 1-D and 2-D convolutions are supported, x has rank ${xd.length}`);
  if (wd.length !== xd.length) throw nodeError(ctx.node, `w rank ${wd.length} differs from x rank ${xd.length}`);
  const [N, C] = xd, [M, CperG] = wd, G = p.group;
  if (C !== CperG * G || M % G !== 0) throw nodeError(ctx.node, `channels do not match: x has ${C}, w is [${wd}] with group=${G}`);
  const inSp = xd.slice(2), kSp = wd.slice(2);
  if (p.kernelShape && (p.kernelShape.length !== sp || p.kernelShape.some((k, i) => k !== kSp[i]))) {
    throw nodeError(ctx.node, `attribute 'kernel_shape' [${p.kernelShape}] disagrees with w [${wd}]`);
  }
  const strides = p.strides ?? kSp.map(() => 1), dil = p.dilations ?? kSp.map(() => 1);
  if (strides.length !== sp || dil.length !== sp || strides.some((v) => v < 1) || dil.some((v) => v < 1)) {
    throw nodeError(ctx.node, `strides [${strides}] and dilations [${dil}] need ${sp} positive values`);
  }
  let pads: number[];
  if (p.autoPad === 'NOTSET') {
    pads = p.pads ? [...p.pads] : new Array<number>(2 * sp).fill(0);
    if (pads.length !== 2 * sp) throw nodeError(ctx.node, `attribute 'pads': expected ${2 * sp} values, got ${pads.length}`);
  } else {
    pads = new Array<number>(2 * sp).fill(0);
    if (p.autoPad !== 'VALID') {
      for (let i = 0; i < sp; i++) {
        const total = Math.max(0, (Math.ceil(inSp[i] / strides[i]) - 1) * strides[i] + dil[i] * (kSp[i] - 1) + 1 - inSp[i]);
        const small = Math.floor(total / 2);
        pads[i] = p.autoPad === 'SAME_UPPER' ? small : total - small;
        pads[i + sp] = total - pads[i];
      }
    }
  }
  const outSp = inSp.map((d, i) => Math.floor((d + pads[i] + pads[i + sp] - dil[i] * (kSp[i] - 1) - 1) / strides[i]) + 1);
  if (outSp.some((d) => d < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty for x [${xd}], w [${wd}]`);
  const two = (v: readonly number[]) => (sp === 2 ? [v[0], v[1]] : [1, v[0]]);
  const [H, W] = two(inSp), [KH, KW] = two(kSp), [OH, OW] = two(outSp), [sH, sW] = two(strides), [dH, dW] = two(dil);
  const [pT, pL] = sp === 2 ? [pads[0], pads[1]] : [0, pads[0]];
  const owLo = new Int32Array(KW), owHi = new Int32Array(KW), ohLo = new Int32Array(KH), ohHi = new Int32Array(KH), xOff = new Int32Array(KH * KW);
  for (let kw = 0; kw < KW; kw++) [owLo[kw], owHi[kw]] = inRange(OW, W, sW, kw * dW - pL);
  for (let kh = 0; kh < KH; kh++) [ohLo[kh], ohHi[kh]] = inRange(OH, H, sH, kh * dH - pT);
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) xOff[kh * KW + kw] = (kh * dH - pT) * W + kw * dW - pL;
  return { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL, CperG, outDims: Object.freeze([N, M, ...outSp]), owLo, owHi, ohLo, ohHi, xOff };
}

/** The geometry for these x and w shapes, from a one-entry cache keyed by the (shared, frozen) dims arrays. */
function cachedGeom(cache: { xd?: readonly number[]; wd?: readonly number[]; g?: IntConvGeom }, p: ConvAttrs, x: Tensor, w: Tensor, ctx: OpContext): IntConvGeom {
  if (cache.g !== undefined && cache.xd === x.dims && cache.wd === w.dims) return cache.g;
  const g = intConvGeom(p, x.dims, w.dims, ctx);
  cache.xd = x.dims; cache.wd = w.dims; cache.g = g;
  return g;
}

/** Scratch buffers reused by every call (the kernels run synchronously, one at a time). */
let ACC: Float64Array = new Float64Array(256);
let WC: Int32Array = new Int32Array(256);
let SCALES: Float32Array = new Float32Array(64);
function accBuffer(n: number): Float64Array {
  if (ACC.length < n) ACC = new Float64Array(Math.max(n, 2 * ACC.length));
  return ACC;
}

/** Zero points: a scalar or a 1-element tensor (`what`), of the type of the tensor they go with. */
function scalarZero(z: Tensor | undefined, like: Tensor, i: number, what: string, ctx: OpContext): number {
  if (z === undefined) return 0;
  if (z.size !== 1 || z.dims.length > 1) throw nodeError(ctx.node, `input ${i} (${what}) must be a scalar, got shape [${z.dims}]`);
  if (z.type !== like.type) throw nodeError(ctx.node, `input ${i} (${what}) must be ${like.type} like its tensor, got ${z.type}`);
  return (z.data as Uint8Array)[0];
}

/** w − w_zero_point (scalar or one per output channel) as int32; `into` is reused when large enough. */
function centredWeights(w: Tensor, zw: Tensor | undefined, ctx: OpContext, into?: Int32Array): Int32Array {
  const M = w.dims[0], per = M > 0 ? w.size / M : 0;
  if (zw && zw.type !== w.type) throw nodeError(ctx.node, `w_zero_point must be ${w.type} like w, got ${zw.type}`);
  if (zw && !((zw.size === 1 && zw.dims.length <= 1) || (zw.dims.length === 1 && zw.size === M))) {
    throw nodeError(ctx.node, `w_zero_point must be a scalar or hold one value per output channel (${M}), got shape [${zw.dims}]`);
  }
  const W = w.data as Uint8Array, Z = zw ? (zw.data as Uint8Array) : undefined;
  const out = into && into.length >= w.size ? into : new Int32Array(w.size);
  for (let m = 0, i = 0; m < M; m++) {
    const z = Z === undefined ? 0 : Z[Z.length > 1 ? m : 0];
    for (let e = 0; e < per; e++, i++) out[i] = W[i] - z;
  }
  return out;
}

let XC: Int32Array = new Int32Array(256);

/**
 * Integer convolution: acc[n, m, oh, ow] = bias[m] + Σ (x − zx)·wc, exact (sums of products of
 * 8-bit values stay far below 2^53). x − zx is formed once into a scratch buffer; then for each
 * (channel, tap) one weight is spread over the runs of output positions whose input lies inside x
 * (ranges precomputed per tap in the geometry), so padding costs no per-element test.
 */
function convInt(X: ArrayLike<number>, zx: number, Wc: Int32Array, B: ArrayLike<number> | undefined, g: IntConvGeom, acc: Float64Array): void {
  const { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, CperG, owLo, owHi, ohLo, ohHi, xOff } = g;
  const MperG = M / G, P = OH * OW, HW = H * W, K = KH * KW;
  if (XC.length < X.length) XC = new Int32Array(Math.max(X.length, 2 * XC.length));
  const xc = XC;
  for (let i = 0; i < X.length; i++) xc[i] = X[i] - zx;
  const pointwise = K === 1 && P === HW && xOff[0] === 0 && sW === 1 && (OH === 1 || sH === 1);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const o0 = (n * M + m) * P;
      const b = B === undefined ? 0 : B[m];
      for (let q = 0; q < P; q++) acc[o0 + q] = b;
      const c0 = (n * C + Math.floor(m / MperG) * CperG) * HW;
      let wi = m * CperG * K;
      if (pointwise) {
        for (let c = 0; c < CperG; c++, wi++) {
          const wv = Wc[wi];
          if (wv === 0) continue;
          const x0 = c0 + c * HW;
          for (let q = 0; q < P; q++) acc[o0 + q] += wv * xc[x0 + q];
        }
        continue;
      }
      for (let c = 0; c < CperG; c++) {
        const x0 = c0 + c * HW;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++, wi++) {
            const wv = Wc[wi];
            if (wv === 0) continue;
            const lo = owLo[kw], hi = owHi[kw], off = x0 + xOff[kh * KW + kw];
            for (let oh = ohLo[kh]; oh < ohHi[kh]; oh++) {
              const xr = off + oh * sH * W, orow = o0 + oh * OW;
              for (let ow = lo; ow < hi; ow++) acc[orow + ow] += wv * xc[xr + ow * sW];
            }
          }
        }
      }
    }
  }
}

interface IntConvParsed {
  readonly conv: ConvAttrs;
  /** w − w_zero_point, when both are constants (prepared once). */
  readonly wc?: { readonly w: Tensor; readonly zw: Tensor | undefined; readonly centred: Int32Array };
  readonly geom: { xd?: readonly number[]; wd?: readonly number[]; g?: IntConvGeom };
}

function parseIntConv(ctx: OpContext, a: AttrReader, wAt: number, zwAt: number): IntConvParsed {
  const conv = Conv.parse(ctx, a);
  const w = ctx.constant?.(wAt), zw = ctx.constant?.(zwAt);
  let wc: IntConvParsed['wc'];
  // Constant w and w_zero_point (the usual case): centred once. Invalid ones fail when the node runs.
  if (w && (w.type === 'uint8' || w.type === 'int8') && w.dims.length >= 1 && (zw || !ctx.node.inputs[zwAt])) {
    try { wc = { w, zw, centred: centredWeights(w, zw, ctx) }; } catch { wc = undefined; }
  }
  return { conv, wc, geom: {} };
}

function weightsOf(p: IntConvParsed, w: Tensor, zw: Tensor | undefined, ctx: OpContext): Int32Array {
  if (p.wc && p.wc.w === w && p.wc.zw === zw) return p.wc.centred;
  const c = centredWeights(w, zw, ctx, WC);
  if (c !== WC) WC = c;
  return c;
}

/** ConvInteger: Conv over (x − x_zero_point) and (w − w_zero_point) with int32 output. */
export const ConvInteger = defineOp({
  parse: (ctx, a) => parseIntConv(ctx, a, 1, 3),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x'), w = need(inputs, 1, ctx, 'w');
    checkType(x, INT8S, 0, ctx, 'x');
    checkType(w, INT8S, 1, ctx, 'w');
    const zx = scalarZero(inputs[2], x, 2, 'x_zero_point', ctx);
    const g = cachedGeom(p.geom, p.conv, x, w, ctx);
    const Wc = weightsOf(p, w, inputs[3], ctx);
    const n = g.N * g.M * g.OH * g.OW;
    const acc = accBuffer(n);
    convInt(x.data as Uint8Array, zx, Wc, undefined, g, acc);
    const out = allocData('int32', n) as Int32Array;
    for (let i = 0; i < n; i++) out[i] = acc[i];
    return [new Tensor('int32', out, g.outDims)];
  },
});

const INT8S: readonly DataType[] = ['uint8', 'int8'];

/** A float32 scale: a scalar or a 1-element tensor, or (`perChannel` > 0) one value per output channel. */
function scaleOf(t: Tensor, i: number, what: string, perChannel: number, ctx: OpContext): Float32Array {
  if (t.type !== 'float32') throw nodeError(ctx.node, `input ${i} (${what}): expected float32, got ${t.type}`);
  const ok = (t.size === 1 && t.dims.length <= 1) || (perChannel > 0 && t.dims.length === 1 && t.size === perChannel);
  if (!ok) throw nodeError(ctx.node, `input ${i} (${what}) must be a scalar${perChannel ? ` or hold one value per output channel (${perChannel})` : ''}, got shape [${t.dims}]`);
  return t.data as Float32Array;
}

/**
 * QLinearConv: the integer convolution (x − x_zero_point)·(w − w_zero_point) + bias, requantised as
 * onnxruntime does: scale_m = x_scale·w_scale_m / y_scale in float32, y = saturate(round half to
 * even(float32(acc)·scale_m) + y_zero_point).
 */
export const QLinearConv = defineOp({
  parse: (ctx, a) => parseIntConv(ctx, a, 3, 5),
  run(inputs: Inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x'), sx = need(inputs, 1, ctx, 'x_scale'), zx = need(inputs, 2, ctx, 'x_zero_point');
    const w = need(inputs, 3, ctx, 'w'), sw = need(inputs, 4, ctx, 'w_scale'), zw = need(inputs, 5, ctx, 'w_zero_point');
    const sy = need(inputs, 6, ctx, 'y_scale'), zy = need(inputs, 7, ctx, 'y_zero_point');
    const bias = inputs[8];
    checkType(x, INT8S, 0, ctx, 'x');
    checkType(w, INT8S, 3, ctx, 'w');
    checkType(zy, INT8S, 7, ctx, 'y_zero_point');
    const g = cachedGeom(p.geom, p.conv, x, w, ctx);
    const M = g.M;
    const zxv = scalarZero(zx, x, 2, 'x_zero_point', ctx);
    const zyv = scalarZero(zy, zy, 7, 'y_zero_point', ctx);
    const SX = scaleOf(sx, 1, 'x_scale', 0, ctx), SW = scaleOf(sw, 4, 'w_scale', M, ctx), SY = scaleOf(sy, 6, 'y_scale', 0, ctx);
    if (bias) {
      checkType(bias, ['int32'], 8, ctx, 'B');
      if (bias.dims.length !== 1 || bias.dims[0] !== M) throw nodeError(ctx.node, `input 8 (B): expected shape [${M}], got [${bias.dims}]`);
    }
    const Wc = weightsOf(p, w, zw, ctx);
    if (SCALES.length < M) SCALES = new Float32Array(Math.max(M, 2 * SCALES.length));
    const scales = SCALES;
    for (let m = 0; m < M; m++) scales[m] = Math.fround(Math.fround(SX[0] * SW[SW.length > 1 ? m : 0]) / SY[0]);
    const P = g.OH * g.OW, n = g.N * M * P;
    const acc = accBuffer(n);
    convInt(x.data as Uint8Array, zxv, Wc, bias?.data as Int32Array | undefined, g, acc);
    const [lo, hi] = zy.type === 'uint8' ? [0, 255] : [-128, 127];
    const out = allocData(zy.type, n) as Uint8Array;
    for (let i = 0, m = 0, e = 0; i < n; i++) {
      const v = roundHalfEven(Math.fround(Math.fround(acc[i]) * scales[m])) + zyv;
      out[i] = v < lo ? lo : v > hi ? hi : v;
      if (++e === P) { e = 0; if (++m === M) m = 0; }
    }
    return [new Tensor(zy.type, out, g.outDims)];
  },
});
