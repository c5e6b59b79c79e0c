import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf } from '../ir/tensor.js';
import { stridesOf } from './broadcast.js';
import { checkType, defineOp, intsOf, need } from './op.js';
import { roundHalfEven } from './math.js';

interface ResizeAttrs {
  mode: 'nearest' | 'linear' | 'cubic';
  coord: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
}

const COORD = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** Interpolation taps of one output index along one axis: input indices, weights, and whether it fell outside (crop). */
interface Taps { idx: number[]; w: number[]; outside: boolean }

function axisTaps(p: ResizeAttrs, inSize: number, outSize: number, scale: number, roi: [number, number] | undefined): Taps[] {
  const taps: Taps[] = [];
  for (let o = 0; o < outSize; o++) {
    let x: number;
    switch (p.coord) {
      case 'half_pixel': x = (o + 0.5) / scale - 0.5; break;
      case 'pytorch_half_pixel': x = outSize > 1 ? (o + 0.5) / scale - 0.5 : 0; break;
      // The resized length is in·scale, unfloored when scales were given (as the reference computes it).
      case 'align_corners': x = inSize * scale === 1 ? 0 : (o * (inSize - 1)) / (inSize * scale - 1); break;
      case 'asymmetric': x = o / scale; break;
      case 'tf_half_pixel_for_nn': x = (o + 0.5) / scale; break;
      default: { // tf_crop_and_resize
        const [s, e] = roi ?? [0, 1];
        x = outSize > 1 ? s * (inSize - 1) + (o * (e - s) * (inSize - 1)) / (outSize - 1) : 0.5 * (s + e) * (inSize - 1);
      }
    }
    const outside = p.coord === 'tf_crop_and_resize' && (x < 0 || x > inSize - 1);
    const clampI = (i: number) => Math.min(inSize - 1, Math.max(0, i));
    if (p.mode === 'nearest') {
      let i: number;
      const f = Math.floor(x);
      switch (p.nearestMode) {
        case 'round_prefer_ceil': i = x - f >= 0.5 ? f + 1 : f; break;
        case 'floor': i = f; break;
        case 'ceil': i = Math.ceil(x); break;
        default: i = x - f > 0.5 ? f + 1 : f; // round_prefer_floor
      }
      taps.push({ idx: [clampI(i)], w: [1], outside });
    } else if (p.mode === 'linear') {
      const xc = Math.min(inSize - 1, Math.max(0, x));
      const i0 = Math.floor(xc), t = xc - i0;
      taps.push({ idx: [i0, clampI(i0 + 1)], w: [1 - t, t], outside });
    } else {
      const A = p.cubicA, i0 = Math.floor(x), t = x - i0;
      const ws = [
        ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
        ((A + 2) * t - (A + 3)) * t * t + 1,
        ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1,
        ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A,
      ];
      const idx = [i0 - 1, i0, i0 + 1, i0 + 2];
      if (p.excludeOutside) {
        const inside = idx.map((i) => i >= 0 && i < inSize);
        const sum = ws.reduce((s, w, k) => s + (inside[k] ? w : 0), 0);
        taps.push({ idx: idx.map(clampI), w: ws.map((w, k) => (inside[k] ? w / sum : 0)), outside });
      } else taps.push({ idx: idx.map(clampI), w: ws, outside });
    }
  }
  return taps;
}

/** Resize (opsets 10, 11, 13): nearest, linear and cubic, every coordinate transformation mode. */
export const Resize = defineOp<ResizeAttrs>({
  parse(ctx, a) {
    const mode = a.string('mode', 'nearest') as ResizeAttrs['mode'];
    if (!['nearest', 'linear', 'cubic'].includes(mode) || (ctx.opset < 11 && mode === 'cubic')) throw a.error('mode', `unsupported '${mode}'`);
    if (ctx.opset < 11) return { mode, coord: 'asymmetric', nearestMode: 'floor', cubicA: -0.75, excludeOutside: false, extrapolation: 0 };
    const coord = a.string('coordinate_transformation_mode', 'half_pixel');
    if (!COORD.includes(coord)) throw a.error('coordinate_transformation_mode', `unsupported '${coord}'`);
    const nearestMode = a.string('nearest_mode', 'round_prefer_floor');
    if (!NEAREST.includes(nearestMode)) throw a.error('nearest_mode', `unsupported '${nearestMode}'`);
    return { mode, coord, nearestMode, cubicA: a.float('cubic_coeff_a', -0.75), excludeOutside: a.int('exclude_outside', 0) !== 0, extrapolation: a.float('extrapolation_value', 0) };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['float32', 'float64', 'uint8', 'int8', 'int32'], 0, ctx, 'X');
    const r = x.dims.length;
    const [scalesT, sizesT, roiT] = ctx.opset < 11 ? [need(inputs, 1, ctx, 'scales'), undefined, undefined] : [inputs[2], inputs[3], inputs[1]];
    let scales: number[];
    let outDims: number[];
    if (sizesT && sizesT.size > 0) {
      outDims = intsOf(sizesT);
      if (outDims.length !== r) throw nodeError(ctx.node, `sizes has ${outDims.length} values for rank ${r}`);
      scales = outDims.map((o, i) => o / x.dims[i]);
    } else if (scalesT && scalesT.size > 0) {
      scales = Array.from(scalesT.data as Float32Array);
      if (scales.length !== r) throw nodeError(ctx.node, `scales has ${scales.length} values for rank ${r}`);
      outDims = x.dims.map((d, i) => Math.floor(d * scales[i]));
    } else throw nodeError(ctx.node, 'one of scales or sizes is required');
    const roi = roiT && roiT.size === 2 * r ? Array.from(roiT.data as Float32Array) : undefined;
    // Separable: interpolate one axis at a time; crop-and-resize extrapolation is applied at the end.
    let cur = Float64Array.from(x.data as ArrayLike<number>);
    let curDims = [...x.dims];
    const outsideAxes: boolean[][] = [];
    for (let ax = 0; ax < r; ax++) {
      const taps = axisTaps(p, x.dims[ax], outDims[ax], scales[ax], roi ? [roi[ax], roi[ax + r]] : undefined);
      outsideAxes.push(taps.map((t) => t.outside));
      if (outDims[ax] === x.dims[ax] && scales[ax] === 1 && p.coord !== 'tf_crop_and_resize' && p.mode !== 'cubic') continue;
      const outer = sizeOf(curDims.slice(0, ax)), inner = sizeOf(curDims.slice(ax + 1)), D = curDims[ax];
      const next = new Float64Array(outer * outDims[ax] * inner);
      for (let o = 0; o < outer; o++)
        for (let j = 0; j < outDims[ax]; j++) {
          const t = taps[j];
          for (let i = 0; i < inner; i++) {
            let s = 0;
            for (let k = 0; k < t.idx.length; k++) s += t.w[k] * cur[(o * D + t.idx[k]) * inner + i];
            next[(o * outDims[ax] + j) * inner + i] = s;
          }
        }
      cur = next;
      curDims = [...curDims];
      curDims[ax] = outDims[ax];
    }
    const n = sizeOf(outDims);
    const out = allocData(x.type, n) as Float32Array;
    const integer = x.type !== 'float32' && x.type !== 'float64';
    const os = stridesOf(outDims);
    for (let k = 0; k < n; k++) {
      let v = cur[k];
      if (p.coord === 'tf_crop_and_resize') {
        let rem = k;
        for (let ax = 0; ax < r; ax++) {
          const c = Math.floor(rem / os[ax]);
          rem -= c * os[ax];
          if (outsideAxes[ax][c]) { v = p.extrapolation; break; }
        }
      }
      out[k] = integer ? Math.round(v) : v;
    }
    return [new Tensor(x.type, out, outDims)];
  },
});

/** Upsample (opsets 7–9): Resize with asymmetric coordinates; scales as an attribute (7, 8) or input (9). */
export const Upsample = defineOp({
  parse: (ctx, a) => {
    const mode = a.string('mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') throw a.error('mode', `unsupported '${mode}'`);
    return { mode: (mode === 'bilinear' ? 'linear' : mode) as 'nearest' | 'linear', scales: ctx.opset < 9 ? a.floats('scales') : undefined };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    const scales = p.scales ? new Tensor('float32', [...p.scales], [p.scales.length]) : need(inputs, 1, ctx, 'scales');
    const attrs: ResizeAttrs = { mode: p.mode, coord: 'asymmetric', nearestMode: 'floor', cubicA: -0.75, excludeOutside: false, extrapolation: 0 };
    return Resize.run([x, scales], attrs, { ...ctx, opset: 10 });
  },
});

/** GridSample (opset 16): bilinear / nearest / bicubic sampling of X at normalised grid points; zeros / border / reflection padding. */
export const GridSample = defineOp({
  parse: (_c, a) => {
    const mode = a.string('mode', 'bilinear');
    const padding = a.string('padding_mode', 'zeros');
    if (!['bilinear', 'nearest', 'bicubic'].includes(mode)) throw a.error('mode', `unsupported '${mode}'`);
    if (!['zeros', 'border', 'reflection'].includes(padding)) throw a.error('padding_mode', `unsupported '${padding}'`);
    return { mode, padding, align: a.int('align_corners', 0) !== 0 };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), grid = need(inputs, 1, ctx, 'grid');
    checkType(x, ['float32', 'float64'], 0, ctx, 'X');
    if (x.dims.length !== 4 || grid.dims.length !== 4 || grid.dims[3] !== 2 || grid.dims[0] !== x.dims[0]) {
      throw nodeError(ctx.node, `X [${x.dims}] and grid [${grid.dims}] must be [N, C, H, W] and [N, Ho, Wo, 2]`);
    }
    const [N, C, H, W] = x.dims, [, Ho, Wo] = grid.dims;
    const X = x.data as Float32Array, G = grid.data as Float32Array;
    const out = allocData(x.type, N * C * Ho * Wo) as Float32Array;
    const unnorm = (g: number, size: number) => (p.align ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2);
    const reflect = (v: number, size: number) => {
      const [lo, hi] = p.align ? [0, size - 1] : [-0.5, size - 0.5];
      const span = hi - lo;
      if (span <= 0) return 0;
      let d = Math.abs(v - lo);
      const flips = Math.floor(d / span);
      d -= flips * span;
      return flips % 2 === 0 ? lo + d : hi - d;
    };
    const fixCoord = (v: number, size: number) => {
      if (p.padding === 'border') return Math.min(size - 1, Math.max(0, v));
      if (p.padding === 'reflection') return Math.min(size - 1, Math.max(0, reflect(v, size)));
      return v;
    };
    const pixel = (n: number, c: number, yy: number, xx: number) => {
      if (p.padding !== 'zeros') {
        yy = Math.min(H - 1, Math.max(0, yy));
        xx = Math.min(W - 1, Math.max(0, xx));
      } else if (yy < 0 || yy >= H || xx < 0 || xx >= W) return 0;
      return X[((n * C + c) * H + yy) * W + xx];
    };
    const cubic = (t: number): number[] => {
      const A = -0.75;
      const w0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
      const w1 = ((A + 2) * t - (A + 3)) * t * t + 1;
      const w2 = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
      return [w0, w1, w2, 1 - w0 - w1 - w2];
    };
    for (let n = 0; n < N; n++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          const g = ((n * Ho + i) * Wo + j) * 2;
          let gx = unnorm(G[g], W), gy = unnorm(G[g + 1], H);
          if (p.mode !== 'bicubic') { gx = fixCoord(gx, W); gy = fixCoord(gy, H); }
          else if (p.padding === 'reflection') { gx = reflect(gx, W); gy = reflect(gy, H); }
          for (let c = 0; c < C; c++) {
            let v: number;
            if (p.mode === 'nearest') v = pixel(n, c, roundHalfEven(gy), roundHalfEven(gx));
            else if (p.mode === 'bilinear') {
              const x0 = Math.floor(gx), y0 = Math.floor(gy), tx = gx - x0, ty = gy - y0;
              v = pixel(n, c, y0, x0) * (1 - tx) * (1 - ty) + pixel(n, c, y0, x0 + 1) * tx * (1 - ty)
                + pixel(n, c, y0 + 1, x0) * (1 - tx) * ty + pixel(n, c, y0 + 1, x0 + 1) * tx * ty;
            } else {
              const x0 = Math.floor(gx), y0 = Math.floor(gy);
              const wx = cubic(gx - x0), wy = cubic(gy - y0);
              v = 0;
              for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) v += wy[a] * wx[b] * pixel(n, c, y0 - 1 + a, x0 - 1 + b);
            }
            out[((n * C + c) * Ho + i) * Wo + j] = v;
          }
        }
    return [new Tensor(x.type, out, [N, C, Ho, Wo])];
  },
});

