/**
 * GridSample opset 20/22: modes 'linear' / 'nearest' / 'cubic' over any number of spatial dims
 * (X [N, C, d1..dr], grid [N, D1..Dr, r], grid's last axis in reverse order: (x, y, z) for
 * (W, H, D)); padding 'zeros' / 'border' / 'reflection'. Separable interpolation in float64,
 * following the ONNX reference (PyTorch's grid_sample), except that cubic mode pads each tap rather
 * than the coordinate, as PyTorch and onnxruntime do (the reference clamps or reflects the
 * coordinate; no node test covers cubic with border or reflection). Opset 16 stays in resize.ts.
 */
import { nodeError } from '../ir/errors.js';
import { sizeOf, type DataType } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { roundHalfEven } from './math.js';
import { checkType, defineOp, need } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];

/** Keys' cubic convolution weights (a = −0.75) for the 4 taps around a fraction t in [0, 1). */
function cubicWeights(t: number, w: Float64Array): void {
  const A = -0.75;
  const x1 = t + 1, x2 = 1 - t, x3 = 2 - t;
  w[0] = ((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A;
  w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
  w[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
  w[3] = ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A;
}

export const GridSample = defineOp({
  parse(_c, a) {
    const mode = a.string('mode', 'linear');
    const padding = a.string('padding_mode', 'zeros');
    if (!['linear', 'nearest', 'cubic'].includes(mode)) throw a.error('mode', `expected linear, nearest or cubic, got '${mode}'`);
    if (!['zeros', 'border', 'reflection'].includes(padding)) throw a.error('padding_mode', `expected zeros, border or reflection, got '${padding}'`);
    const align = a.int('align_corners', 0);
    if (align !== 0 && align !== 1) throw a.error('align_corners', `must be 0 or 1, got ${align}`);
    return { mode, padding, align: align === 1 };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), grid = need(inputs, 1, ctx, 'grid');
    checkType(x, FLOAT_TYPES, 0, ctx, 'X');
    checkType(grid, FLOAT_TYPES, 1, ctx, 'grid');
    const r = x.dims.length - 2;
    if (r < 1 || grid.dims.length !== r + 2 || grid.dims[0] !== x.dims[0] || grid.dims[r + 1] !== r) {
      throw nodeError(ctx.node, `X [${x.dims}] and grid [${grid.dims}] must be [N, C, d1..d${r}] and [N, D1..D${r}, ${r}]`);
    }
    if (p.mode === 'cubic' && r !== 2) throw nodeError(ctx.node, `mode 'cubic' needs 2-D spatial input, got ${r}-D`);
    const [N, C] = x.dims, dims = x.dims.slice(2), outSp = grid.dims.slice(1, r + 1);
    const X = toFloat64(x), G = toFloat64(grid);
    const inSize = sizeOf(dims), outSize = sizeOf(outSp);
    const strides = dims.map((_, i) => sizeOf(dims.slice(i + 1)));
    const lo = dims.map(() => (p.align ? 0 : -0.5)), hi = dims.map((d) => (p.align ? d - 1 : d - 0.5));
    const reflect = (v: number, a: number, b: number) => {
      const span = b - a;
      if (span <= 0) return a;
      if (v < a) { const d = a - v, n = Math.floor(d / span), rr = d - n * span; return n % 2 === 0 ? a + rr : b - rr; }
      if (v > b) { const d = v - b, n = Math.floor(d / span), rr = d - n * span; return n % 2 === 0 ? b - rr : a + rr; }
      return v;
    };
    // index along dim i after padding; -1 marks a zero (padding 'zeros' outside)
    const fixIndex = (i: number, k: number): number => {
      const d = dims[k];
      if (p.padding === 'zeros') return i >= 0 && i < d ? i : -1;
      if (p.padding === 'border') return Math.min(d - 1, Math.max(0, i));
      return Math.min(d - 1, Math.max(0, Math.trunc(reflect(i, lo[k], hi[k]))));
    };
    const taps = p.mode === 'cubic' ? 4 : p.mode === 'linear' ? 2 : 1;
    const idx: number[][] = dims.map(() => new Array<number>(taps));
    const wts: Float64Array[] = dims.map(() => new Float64Array(taps));
    const Y = new Float64Array(N * C * outSize);
    const totalTaps = taps ** r;
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < outSize; o++) {
        const g0 = (n * outSize + o) * r;
        for (let k = 0; k < r; k++) {
          const d = dims[k];
          const gv = G[g0 + (r - 1 - k)]; // grid lists coordinates innermost dim first
          let v = p.align ? ((gv + 1) / 2) * (d - 1) : ((gv + 1) * d - 1) / 2;
          if (p.mode === 'nearest') v = roundHalfEven(v);
          // cubic pads each tap instead (below), as PyTorch and onnxruntime do
          if (p.mode !== 'cubic' && (v < lo[k] || v > hi[k])) {
            if (p.padding === 'border') v = Math.min(d - 1, Math.max(0, v));
            else if (p.padding === 'reflection') v = reflect(v, lo[k], hi[k]);
          }
          if (p.mode === 'nearest') { idx[k][0] = fixIndex(Math.trunc(v), k); wts[k][0] = 1; }
          else {
            const f = Math.floor(v), t = v - f;
            if (p.mode === 'linear') {
              idx[k][0] = fixIndex(f, k); idx[k][1] = fixIndex(f + 1, k);
              wts[k][0] = 1 - t; wts[k][1] = t;
            } else {
              for (let j = 0; j < 4; j++) idx[k][j] = fixIndex(f - 1 + j, k);
              cubicWeights(t, wts[k]);
            }
          }
        }
        for (let c = 0; c < C; c++) {
          const base = (n * C + c) * inSize;
          let acc = 0;
          for (let tp = 0; tp < totalTaps; tp++) {
            let rem = tp, off = 0, w = 1;
            for (let k = r - 1; k >= 0; k--) {
              const j = rem % taps;
              rem = Math.floor(rem / taps);
              const i = idx[k][j];
              if (i < 0) { w = 0; break; }
              off += i * strides[k];
              w *= wts[k][j];
            }
            if (w !== 0) acc += w * X[base + off];
          }
          Y[(n * C + c) * outSize + o] = acc;
        }
      }
    }
    return [fromFloat64(Y, x.type, [N, C, ...outSp])];
  },
});
