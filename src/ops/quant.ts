import { nodeError } from '../ir/errors.js';
import { Conv } from './conv.js';
import { Tensor, allocData, sizeOf, type DataType } from '../ir/tensor.js';
import { checkType, defineOp, need, normAxis, type Inputs, type OpContext } from './op.js';
import { roundHalfEven } from './math.js';

const RANGE: Partial<Record<DataType, [number, number]>> = { uint8: [0, 255], int8: [-128, 127], int32: [-2147483648, 2147483647] };



/** Per-tensor or per-axis parameters: returns element i's index into scale / zero point. */
function paramIndex(x: Tensor, scale: Tensor, axis: number, ctx: OpContext): (i: number) => number {
  if (scale.size === 1) return () => 0;
  if (scale.dims.length !== 1) throw nodeError(ctx.node, `scale must be a scalar or 1-D, got [${scale.dims}]`);
  const ax = normAxis(axis, x.dims.length, ctx);
  if (x.dims[ax] !== scale.size) throw nodeError(ctx.node, `scale has ${scale.size} values for axis ${ax} of size ${x.dims[ax]}`);
  const inner = sizeOf(x.dims.slice(ax + 1)), D = x.dims[ax];
  return (i) => Math.floor(i / inner) % D;
}

function zeroPoint(inputs: Inputs, i: number, ctx: OpContext): Tensor | undefined {
  const z = inputs[i];
  if (z) checkType(z, ['uint8', 'int8', 'int32'], i, ctx, 'zero_point');
  return z;
}

export const QuantizeLinear = defineOp({
  parse: (ctx, a) => (ctx.opset >= 13 ? a.int('axis', 1) : 1),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const s = need(inputs, 1, ctx, 'y_scale');
    checkType(x, ['float32', 'float64', 'int32'], 0, ctx, 'x');
    checkType(s, ['float32', 'float64'], 1, ctx, 'y_scale'); // float16/bfloat16 hold raw bits: never read them as numbers
    const z = zeroPoint(inputs, 2, ctx);
    const type = z?.type ?? 'uint8';
    if (type === 'int32') throw nodeError(ctx.node, 'QuantizeLinear output must be uint8 or int8');
    const [lo, hi] = RANGE[type]!;
    const at = paramIndex(x, s, axis, ctx);
    const X = x.data as Float32Array, S = s.data as Float32Array, Z = z?.data as Uint8Array | undefined;
    const out = allocData(type, x.size) as Uint8Array;
    // float32 inputs divide in float32, as the reference does: x/scale may land exactly on .5 there.
    const div = x.type === 'float32' ? (a: number, b: number) => Math.fround(a / b) : (a: number, b: number) => a / b;
    for (let i = 0; i < x.size; i++) {
      const k = at(i);
      out[i] = Math.min(hi, Math.max(lo, roundHalfEven(div(X[i], S[k])) + (Z ? Z[k] : 0)));
    }
    return [new Tensor(type, out, x.dims)];
  },
});

export const DequantizeLinear = defineOp({
  parse: (ctx, a) => (ctx.opset >= 13 ? a.int('axis', 1) : 1),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'x');
    const s = need(inputs, 1, ctx, 'x_scale');
    checkType(x, ['uint8', 'int8', 'int32'], 0, ctx, 'x');
    checkType(s, ['float32'], 1, ctx, 'x_scale');
    const z = zeroPoint(inputs, 2, ctx);
    if (z && z.type !== x.type) throw nodeError(ctx.node, `x_zero_point must be ${x.type} like x, got ${z.type}`);
    const at = paramIndex(x, s, axis, ctx);
    const X = x.data as Int32Array, S = s.data as Float32Array, Z = z?.data as Int32Array | undefined;
    const out = new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const k = at(i);
      out[i] = (X[i] - (Z ? Z[k] : 0)) * S[k];
    }
    return [new Tensor('float32', out, x.dims)];
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
