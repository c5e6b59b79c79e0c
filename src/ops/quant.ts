import { nodeError } from '../ir/errors.js';
import { Conv } from './conv.js';
import { Tensor, allocData, dtypeFromOnnx, onnxDtypeName, sizeOf, type DataType, type TensorData } from '../ir/tensor.js';
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
 * Element i's index into scale / zero point: per tensor (one value), per axis (1-D scale along
 * `axis`) or blocked (scale of x's rank, `axis` divided into blocks of `blockSize`).
 */
function paramIndex(x: Tensor, scale: Tensor, axis: number, blockSize: number, ctx: OpContext): (i: number) => number {
  if (blockSize === 0) {
    if (scale.size === 1 && scale.dims.length <= 1) return () => 0;
    if (scale.dims.length !== 1) throw nodeError(ctx.node, `scale must be a scalar or 1-D without block_size, got [${scale.dims}]`);
  }
  const ax = normAxis(axis, x.dims.length, ctx);
  const D = x.dims[ax], inner = sizeOf(x.dims.slice(ax + 1));
  if (blockSize === 0) {
    if (D !== scale.size) throw nodeError(ctx.node, `scale has ${scale.size} values for axis ${ax} of size ${D}`);
    return (i) => Math.floor(i / inner) % D;
  }
  if (blockSize < 0) throw nodeError(ctx.node, `block_size must be positive, got ${blockSize}`);
  const S = Math.ceil(D / blockSize);
  const ok = scale.dims.length === x.dims.length && scale.dims.every((d, k) => (k === ax ? d === S : d === x.dims[k]));
  if (!ok) throw nodeError(ctx.node, `blocked quantization along axis ${ax} with block_size ${blockSize} needs a scale of shape [${x.dims.map((d, k) => (k === ax ? S : d))}], got [${scale.dims}]`);
  return (i) => {
    const outer = Math.floor(i / (D * inner)), a = Math.floor(i / inner) % D, r = i % inner;
    return (outer * S + Math.floor(a / blockSize)) * inner + r;
  };
}

/** Zero point: same shape as the scale (a one-element zero point may go with a scalar scale). */
function zeroPoint(inputs: Inputs, i: number, scale: Tensor, ctx: OpContext): Tensor | undefined {
  const z = inputs[i];
  if (z && !(z.size === scale.size && (z.size === 1 || z.dims.length === scale.dims.length))) {
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
/** Integer types whose data holds each element's value in one typed-array slot. */
const DIRECT_INTS = new Set<DataType>(['int8', 'uint8', 'int16', 'uint16', 'int32']);

interface QuantAttrs {
  readonly axis: number;
  readonly saturate: boolean;
  readonly blockSize: number;
  readonly outputDtype?: DataType;
  readonly precision?: DataType;
}

function dtypeAttr(a: AttrReader, name: string, allowed: readonly DataType[]): DataType | undefined {
  const code = a.int(name, 0);
  if (code === 0) return undefined;
  const t = dtypeFromOnnx(code);
  if (!t || !allowed.includes(t)) throw a.error(name, `expected one of ${allowed.join(', ')}, got ${onnxDtypeName(code)}`);
  return t;
}

export const QuantizeLinear = defineOp({
  parse(ctx, a): QuantAttrs {
    const axis = ctx.opset >= 13 ? a.int('axis', 1) : 1;
    const saturate = ctx.opset >= 19 ? a.int('saturate', 1) !== 0 : true;
    const blockSize = ctx.opset >= 21 ? a.int('block_size', 0) : 0;
    const outputDtype = ctx.opset >= 21 ? dtypeAttr(a, 'output_dtype', QUANT_TYPES) : undefined;
    const precision = ctx.opset >= 23 ? dtypeAttr(a, 'precision', ['float32', 'float16', 'bfloat16', 'float64']) : undefined;
    return { axis, saturate, blockSize, outputDtype, precision };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const s = need(inputs, 1, ctx, 'y_scale');
    checkType(x, ['float32', 'float16', 'bfloat16', 'int32', 'float64'], 0, ctx, 'x');
    checkType(s, ['float32', 'float16', 'bfloat16', 'int32', 'float8e8m0', 'float64'], 1, ctx, 'y_scale');
    const z = zeroPoint(inputs, 2, s, ctx);
    if (z) checkType(z, QUANT_TYPES, 2, ctx, 'y_zero_point');
    if (z && p.outputDtype && z.type !== p.outputDtype) throw nodeError(ctx.node, `output_dtype ${p.outputDtype} does not match y_zero_point's type ${z.type}`);
    const type = z?.type ?? p.outputDtype ?? 'uint8';
    const range = RANGE[type];
    // Per-tensor float32 scale on float32 x to an integer type (the common case, often on a few
    // elements inside a loop body): the same arithmetic as below, without the per-element closures.
    if (range && !p.precision && x.type === 'float32' && s.type === 'float32' && s.size === 1 && s.dims.length <= 1 && (!z || z.size === 1)) {
      const [lo, hi] = range;
      const X = x.data as Float32Array, sc = (s.data as Float32Array)[0], zp = z ? Number(z.data[0]) : 0;
      const out = allocData(type, x.size) as Uint8Array;
      for (let i = 0; i < X.length; i++) {
        const q = Math.fround(X[i] / sc);
        out[i] = Number.isNaN(q) ? lo : Math.min(hi, Math.max(lo, roundHalfEven(q) + zp));
      }
      return [new Tensor(type, out, x.dims)];
    }
    const at = paramIndex(x, s, p.axis, p.blockSize, ctx);
    const getX = reader(x) as (i: number) => number, getS = reader(s) as (i: number) => number;
    const getZ = z ? (reader(z) as (i: number) => number) : () => 0;
    // x / y_scale is computed in the type numpy's promotion gives (or `precision`), then rounded.
    const qt: DataType = p.precision
      ?? (x.type === 'int32' || x.type === 'float64' || s.type === 'int32' || s.type === 'float64' ? 'float64'
        : x.type === s.type ? x.type : 'float32');
    const rq = rounder(qt);
    const rin = p.precision ? rq : (v: number) => v;
    const out = allocData(type, x.size) as Uint8Array;
    if (range) {
      const [lo, hi] = range;
      for (let i = 0; i < x.size; i++) {
        const k = at(i);
        const q = rq(rin(getX(i)) / rin(getS(k)));
        // NaN becomes the lowest value, as the reference's float -> int32 conversion does.
        out[i] = Number.isNaN(q) ? lo : Math.min(hi, Math.max(lo, roundHalfEven(q) + getZ(k)));
      }
    } else {
      const enc = narrowEncoder(type, p.saturate);
      for (let i = 0; i < x.size; i++) {
        const k = at(i);
        out[i] = enc(rq(rin(getX(i)) / rin(getS(k))) + getZ(k));
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
    return { axis, saturate: true, blockSize, outputDtype };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const s = need(inputs, 1, ctx, 'x_scale');
    checkType(x, [...QUANT_TYPES, 'int32'], 0, ctx, 'x');
    checkType(s, [...FLOAT_OUT, 'float8e8m0'], 1, ctx, 'x_scale');
    const z = zeroPoint(inputs, 2, s, ctx);
    if (z && z.type !== x.type) throw nodeError(ctx.node, `x_zero_point must be ${x.type} like x, got ${z.type}`);
    const type = p.outputDtype ?? s.type;
    if (type === 'float8e8m0') throw nodeError(ctx.node, 'x_scale of type float8e8m0 needs the output_dtype attribute');
    // Per-tensor float32 scale from an integer x held one element a slot (the common case, often on
    // a few elements inside a loop body): the same arithmetic as below, without the closures.
    if (type === 'float32' && s.type === 'float32' && s.size === 1 && s.dims.length <= 1 && (!z || z.size === 1) && DIRECT_INTS.has(x.type)) {
      const X = x.data as Int32Array, sc = (s.data as Float32Array)[0], zp = z ? Number(z.data[0]) : 0;
      const out = allocData('float32', X.length) as Float32Array;
      for (let i = 0; i < X.length; i++) out[i] = Math.fround(X[i] - zp) * sc;
      return [new Tensor('float32', out, x.dims)];
    }
    const at = paramIndex(x, s, p.axis, p.blockSize, ctx);
    const getX = reader(x) as (i: number) => number, getS = reader(s) as (i: number) => number;
    const getZ = z ? (reader(z) as (i: number) => number) : () => 0;
    // (x − zero_point) · scale in float32, as the reference computes, then rounded to the output type.
    const { data, set } = floatOut(type, x.size);
    for (let i = 0; i < x.size; i++) {
      const k = at(i);
      set(i, Math.fround(Math.fround(getX(i) - getZ(k)) * getS(k)));
    }
    return [new Tensor(type, data, x.dims)];
  },
});

/** DynamicQuantizeLinear: uint8 with scale and zero point from the data's range (including 0). */
export const DynamicQuantizeLinear = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    checkType(x, ['float32'], 0, ctx, 'x');
    const X = x.data as Float32Array;
    let mn = 0, mx = 0;
    for (let i = 0; i < X.length; i++) { if (X[i] < mn) mn = X[i]; if (X[i] > mx) mx = X[i]; }
    const scale = Math.fround((mx - mn) / 255);
    const zp = scale === 0 ? 0 : Math.min(255, Math.max(0, roundHalfEven(Math.fround(0 - mn / scale))));
    const out = new Uint8Array(X.length);
    for (let i = 0; i < X.length; i++) out[i] = scale === 0 ? zp : Math.min(255, Math.max(0, roundHalfEven(Math.fround(X[i] / scale)) + zp));
    return [new Tensor('uint8', out, x.dims), new Tensor('float32', [scale], []), new Tensor('uint8', [zp], [])];
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
  parse: (ctx, a) => {
    const conv = Conv.parse(ctx, a);
    // Constant w and w_zero_point (the usual case): w − w_zero_point centred once.
    const w = ctx.constant?.(3), zw = ctx.constant?.(5);
    const wc = w && zw && (w.type === 'uint8' || w.type === 'int8') ? { w, zw, centred: centered(w, zw, true) } : undefined;
    return { conv, wc };
  },
  run(inputs: Inputs, p, ctx) {
    const [x, sx, zx, w, sw, zw, sy, zy] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(inputs, i, ctx, `input ${i}`));
    const bias = inputs[8];
    checkType(x, ['uint8', 'int8'], 0, ctx, 'x');
    const wc = p.wc && p.wc.w === w && p.wc.zw === zw ? p.wc.centred : centered(w, zw, true);
    const y = Conv.run([centered(x, zx, false), wc, bias ? new Tensor('float64', Float64Array.from(bias.data as Int32Array), bias.dims) : undefined], p.conv, ctx)[0]!;
    const M = y.dims[1], per = sizeOf(y.dims.slice(2));
    const SW = sw.data as Float32Array;
    const [lo, hi] = zy.type === 'uint8' ? [0, 255] : [-128, 127];
    const Y = y.data as Float64Array;
    const out = allocData(zy.type, Y.length) as Uint8Array;
    const sxv = Number(sx.data[0]), syv = Number(sy.data[0]), zyv = Number(zy.data[0]);
    const scales = new Float64Array(M);
    for (let m = 0; m < M; m++) scales[m] = (sxv * SW[SW.length > 1 ? m : 0]) / syv;
    for (let i = 0; i < Y.length; i++) {
      const scale = scales[Math.floor(i / per) % M];
      out[i] = Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(Y[i] * scale)) + zyv));
    }
    return [new Tensor(zy.type, out, y.dims)];
  },
});
