/**
 * Resize opsets 18 and 19: the opset-13 modes plus `axes`, `keep_aspect_ratio_policy`,
 * `antialias` (linear and cubic kernels stretched by 1/scale when downsampling) and the
 * `half_pixel_symmetric` coordinate mode. Separable along the resized axes in float64, with the
 * neighbour selection and rounding of the ONNX reference. Opsets 10–13 stay in resize.ts.
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type DataType, type TensorData } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { roundHalfEven } from './math.js';
import { checkType, defineOp, intsOf, need, normAxis } from './op.js';

const COORD = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const POLICY = ['stretch', 'not_larger', 'not_smaller'];
const TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16', 'uint8', 'int8', 'int32'];

interface Attrs {
  readonly mode: 'nearest' | 'linear' | 'cubic';
  readonly coord: string;
  readonly nearestMode: string;
  readonly cubicA: number;
  readonly excludeOutside: boolean;
  readonly extrapolation: number;
  readonly antialias: boolean;
  readonly axes?: readonly number[];
  readonly policy: string;
}

/** Interpolation weights for the fractional position `ratio` in (0, 1] at this axis scale. */
function coeffs(p: Attrs, ratio: number, scale: number): number[] {
  if (p.mode === 'nearest') {
    if (Number.isInteger(ratio)) return [0, 1];
    switch (p.nearestMode) {
      case 'round_prefer_ceil': return [ratio < 0.5 ? 1 : 0, ratio >= 0.5 ? 1 : 0];
      case 'floor': return [1, 0];
      case 'ceil': return [0, 1];
      default: return [ratio <= 0.5 ? 1 : 0, ratio > 0.5 ? 1 : 0];
    }
  }
  if (p.mode === 'linear') {
    if (!p.antialias) return [1 - ratio, ratio];
    const s = Math.min(scale, 1);
    const start = Math.floor(-1 / s) + 1, n = 2 - 2 * start;
    const w = Array.from({ length: n }, (_, i) => Math.min(1, Math.max(0, 1 - Math.abs((start + i - ratio) * s))));
    const sum = w.reduce((a, b) => a + b, 0);
    return w.map((v) => v / sum);
  }
  const A = p.cubicA;
  if (!p.antialias) {
    const t = ratio, u = 1 - t;
    return [
      ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
      ((A + 2) * t - (A + 3)) * t * t + 1,
      ((A + 2) * u - (A + 3)) * u * u + 1,
      ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A,
    ];
  }
  const s = Math.min(scale, 1);
  const k = (x: number) => {
    x = Math.abs(x);
    if (x <= 1) return (A + 2) * x * x * x - (A + 3) * x * x + 1;
    if (x < 2) return A * x * x * x - 5 * A * x * x + 8 * A * x - 4 * A;
    return 0;
  };
  const iStart = Math.floor(-2 / s) + 1, iEnd = 2 - iStart;
  const w: number[] = [];
  for (let i = iStart; i < iEnd; i++) w.push(k(s * (i - ratio)));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/** The source coordinate of output index y along one axis (NaN-free), and whether it extrapolates. */
function sourceCoord(p: Attrs, y: number, scale: number, inW: number, outInt: number, roi: [number, number] | undefined): [number, boolean] {
  const outW = scale * inW;
  switch (p.coord) {
    case 'align_corners': return [outW === 1 ? 0 : (y * (inW - 1)) / (outW - 1), false];
    case 'asymmetric': return [y / scale, false];
    case 'tf_crop_and_resize': {
      const [s, e] = roi ?? [0, 1];
      const x = (outW === 1 ? ((e - s) * (inW - 1)) / 2 : (y * (e - s) * (inW - 1)) / (outW - 1)) + s * (inW - 1);
      return [x, x < 0 || x > inW - 1];
    }
    case 'pytorch_half_pixel': return [outW === 1 ? -0.5 : (y + 0.5) / scale - 0.5, false];
    case 'half_pixel_symmetric': {
      const offset = (inW / 2) * (1 - outInt / outW);
      return [offset + (y + 0.5) / scale - 0.5, false];
    }
    default: return [(y + 0.5) / scale - 0.5, false];
  }
}

/** Resizes `cur` (dims `dims`) along `axis` to `outInt` elements. */
function resizeAxis(p: Attrs, cur: Float64Array, dims: number[], axis: number, scale: number, outInt: number, roi: [number, number] | undefined): Float64Array {
  const inW = dims[axis], outer = sizeOf(dims.slice(0, axis)), inner = sizeOf(dims.slice(axis + 1));
  const next = new Float64Array(outer * outInt * inner);
  for (let y = 0; y < outInt; y++) {
    const [x, extrap] = sourceCoord(p, y, scale, inW, outInt, roi);
    if (extrap) {
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) next[(o * outInt + y) * inner + i] = p.extrapolation;
      continue;
    }
    const xi = Math.floor(x);
    const ratio = x === xi ? 1 : x - xi;
    let w = coeffs(p, ratio, scale);
    const n = w.length, pad = Math.ceil(n / 2);
    // the n indices nearest x (ties to the smaller), as the reference picks them in edge-padded data
    const xp = x + pad, pp = Math.floor(xp), frac = xp - pp;
    const off = n % 2 === 0 ? (frac === 0 ? -(n / 2) : -(n / 2) + 1) : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    const idx = Array.from({ length: n }, (_, k) => pp + off + k - pad);
    if (p.excludeOutside) {
      w = w.map((v, k) => (idx[k] < 0 || idx[k] >= inW ? 0 : v));
      const sum = w.reduce((a, b) => a + b, 0) || 1;
      w = w.map((v) => v / sum);
    }
    const cl = idx.map((i) => Math.min(inW - 1, Math.max(0, i)));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let k = 0; k < n; k++) if (w[k] !== 0) s += w[k] * cur[(o * inW + cl[k]) * inner + i];
        next[(o * outInt + y) * inner + i] = s;
      }
    }
  }
  return next;
}

const RANGES: Partial<Record<DataType, [number, number]>> = { uint8: [0, 255], int8: [-128, 127], int32: [-2147483648, 2147483647] };

export const Resize = defineOp({
  parse(ctx, a): Attrs {
    const mode = a.string('mode', 'nearest') as Attrs['mode'];
    if (!['nearest', 'linear', 'cubic'].includes(mode)) throw a.error('mode', `unsupported '${mode}'`);
    const coord = a.string('coordinate_transformation_mode', 'half_pixel');
    if (!COORD.includes(coord) || (coord === 'half_pixel_symmetric' && ctx.opset < 19)) throw a.error('coordinate_transformation_mode', `unsupported '${coord}' at opset ${ctx.opset}`);
    const nearestMode = a.string('nearest_mode', 'round_prefer_floor');
    if (!NEAREST.includes(nearestMode)) throw a.error('nearest_mode', `unsupported '${nearestMode}'`);
    const policy = a.string('keep_aspect_ratio_policy', 'stretch');
    if (!POLICY.includes(policy)) throw a.error('keep_aspect_ratio_policy', `unsupported '${policy}'`);
    const antialias = a.int('antialias', 0);
    if (antialias !== 0 && antialias !== 1) throw a.error('antialias', `must be 0 or 1, got ${antialias}`);
    if (antialias && mode === 'nearest') throw a.error('antialias', "does not apply to mode 'nearest'");
    return {
      mode, coord, nearestMode, policy, antialias: antialias === 1, axes: a.ints('axes'),
      cubicA: a.float('cubic_coeff_a', -0.75), excludeOutside: a.int('exclude_outside', 0) !== 0, extrapolation: a.float('extrapolation_value', 0),
    };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, TYPES, 0, ctx, 'X');
    const r = x.dims.length;
    const axes = p.axes ? p.axes.map((ax) => normAxis(ax, r, ctx, 'axes')) : x.dims.map((_, i) => i);
    if (new Set(axes).size !== axes.length) throw nodeError(ctx.node, `axes [${p.axes}] repeat an axis`);
    const [roiT, scalesT, sizesT] = [inputs[1], inputs[2], inputs[3]];
    const scales = x.dims.map(() => 1), out = [...x.dims];
    if (sizesT && sizesT.size > 0) {
      if (scalesT && scalesT.size > 0) throw nodeError(ctx.node, 'only one of scales and sizes may be given');
      checkType(sizesT, ['int64'], 3, ctx, 'sizes');
      const sz = intsOf(sizesT);
      if (sz.length !== axes.length) throw nodeError(ctx.node, `sizes has ${sz.length} values for ${axes.length} axes`);
      axes.forEach((ax, i) => { out[ax] = sz[i]; scales[ax] = sz[i] / x.dims[ax]; });
      if (p.policy !== 'stretch') {
        const s = axes.map((ax) => scales[ax]).reduce((m, v) => (p.policy === 'not_larger' ? Math.min(m, v) : Math.max(m, v)));
        for (const ax of axes) { scales[ax] = s; out[ax] = Math.floor(s * x.dims[ax] + 0.5); }
      }
    } else if (scalesT && scalesT.size > 0) {
      checkType(scalesT, ['float32', 'float64'], 2, ctx, 'scales');
      const sc = Array.from(scalesT.data as Float32Array);
      if (sc.length !== axes.length) throw nodeError(ctx.node, `scales has ${sc.length} values for ${axes.length} axes`);
      if (sc.some((v) => !(v > 0))) throw nodeError(ctx.node, `scales must be positive, got [${sc}]`);
      // float32 product, truncated (as the reference's astype(int) of scale·size)
      axes.forEach((ax, i) => { scales[ax] = sc[i]; out[ax] = Math.trunc(Math.fround(sc[i]) * x.dims[ax]); });
    } else throw nodeError(ctx.node, 'one of scales or sizes is required');
    let roi: number[] | undefined;
    if (roiT && roiT.size > 0 && p.coord === 'tf_crop_and_resize') {
      const rv = Array.from(toFloat64(roiT));
      if (rv.length !== 2 * axes.length) throw nodeError(ctx.node, `roi has ${rv.length} values for ${axes.length} axes`);
      roi = [...new Array(r).fill(0), ...new Array(r).fill(1)];
      axes.forEach((ax, i) => { roi![ax] = rv[i]; roi![r + ax] = rv[axes.length + i]; });
    } else if (p.coord === 'tf_crop_and_resize') throw nodeError(ctx.node, "coordinate_transformation_mode 'tf_crop_and_resize' needs roi");
    let cur: Float64Array = x.type.startsWith('float') || x.type === 'bfloat16' ? toFloat64(x) : Float64Array.from(x.data as ArrayLike<number>);
    const dims = [...x.dims];
    for (const ax of axes) {
      const identity = Math.abs(scales[ax] - 1) < 1e-9 && out[ax] === dims[ax] && (!roi || (roi[ax] === 0 && roi[r + ax] === 1));
      if (identity) continue;
      cur = resizeAxis(p, cur, dims, ax, scales[ax], out[ax], roi ? [roi[ax], roi[r + ax]] : undefined);
      dims[ax] = out[ax];
    }
    const range = RANGES[x.type];
    if (!range) return [fromFloat64(cur, x.type, out)];
    // integer outputs saturate after rounding half to even, as the reference's saturate_cast does
    const data = allocData(x.type, cur.length) as Int32Array;
    for (let i = 0; i < cur.length; i++) data[i] = Math.min(range[1], Math.max(range[0], roundHalfEven(cur[i])));
    return [new Tensor(x.type, data as unknown as TensorData, out)];
  },
});

