import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, dtypeFromOnnx, sizeOf, type DataType } from '../ir/tensor.js';
import { checkType, defineOp, need, type AttrReader, type OpContext } from './op.js';

type FArr = Float32Array | Float64Array;

function scalarOf(t: Tensor | undefined, what: string, ctx: OpContext): number {
  if (!t || t.size !== 1) throw nodeError(ctx.node, `${what} must be a one-element tensor`);
  return Number(t.data[0] as number | bigint);
}

function outType(a: AttrReader, dflt = 1): DataType {
  const code = a.int('output_datatype', dflt);
  const t = dtypeFromOnnx(code);
  if (!t || t === 'string' || t === 'bool') throw a.error('output_datatype', `unsupported ${code}`);
  return t;
}

/** Hann / Hamming / Blackman windows (opset 17): periodic (N) or symmetric (N − 1) denominators. */
function windowOp(f: (n: number, N: number) => number) {
  return defineOp({
    parse: (_c, a) => ({ type: outType(a), periodic: a.int('periodic', 1) !== 0 }),
    run(inputs, p, ctx) {
      const size = scalarOf(inputs[0], 'size', ctx);
      if (!Number.isInteger(size) || size < 0) throw nodeError(ctx.node, `size must be a non-negative integer, got ${size}`);
      const N = p.periodic ? size : size - 1;
      const out = allocData(p.type, size) as FArr;
      for (let n = 0; n < size; n++) out[n] = N === 0 ? 1 : f(n, N);
      return [new Tensor(p.type, out, [size])];
    },
  });
}
export const HannWindow = windowOp((n, N) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N));
export const HammingWindow = windowOp((n, N) => 25 / 46 - (21 / 46) * Math.cos((2 * Math.PI * n) / N));
export const BlackmanWindow = windowOp((n, N) => 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / N) + 0.08 * Math.cos((4 * Math.PI * n) / N));

/**
 * One DFT of `len` complex points read with `get(k)` -> [re, im] (naive O(n²): exact, and the
 * lengths in models are small), written as `onesided` or full bins through `put`.
 */
function dft1(len: number, bins: number, inverse: boolean, get: (k: number) => [number, number], put: (b: number, re: number, im: number) => void): void {
  const sign = inverse ? 1 : -1;
  for (let b = 0; b < bins; b++) {
    let re = 0, im = 0;
    for (let k = 0; k < len; k++) {
      const [xr, xi] = get(k);
      const ang = (sign * 2 * Math.PI * b * k) / len;
      const c = Math.cos(ang), s = Math.sin(ang);
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    put(b, inverse ? re / len : re, inverse ? im / len : im);
  }
}

/**
 * DFT (opsets 17, 20): real ([…, 1]) or complex ([…, 2]) input along one signal axis, dft_length,
 * inverse, onesided. The axis is an attribute in DFT-17 (default 1) and an optional scalar input in
 * DFT-20 (default -2); either way a negative axis counts from the back of the full rank r, so the
 * valid axes are [-r, -2] and [0, r-2].
 */
export const DFT = defineOp({
  parse: (ctx, a) => ({ axis: ctx.opset < 20 ? a.int('axis', 1) : undefined, inverse: a.int('inverse', 0) !== 0, onesided: a.int('onesided', 0) !== 0 }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    checkType(x, ['float32', 'float64'], 0, ctx, 'input');
    const r = x.dims.length;
    const C = x.dims[r - 1];
    if (C !== 1 && C !== 2) throw nodeError(ctx.node, `the last axis must be 1 (real) or 2 (complex), got ${C}`);
    const axis = p.axis ?? (inputs[2] ? scalarOf(inputs[2], 'axis', ctx) : -2);
    const ax = axis < 0 ? axis + r : axis;
    if (!Number.isInteger(axis) || ax < 0 || ax > r - 2) throw nodeError(ctx.node, `axis ${axis} is out of range for rank ${r} (valid: [${-r}, -2] and [0, ${r - 2}])`);
    const S = x.dims[ax];
    const len = inputs[1] ? scalarOf(inputs[1], 'dft_length', ctx) : S;
    if (p.onesided && p.inverse) throw nodeError(ctx.node, 'onesided inverse DFT is not supported');
    const bins = p.onesided ? Math.floor(len / 2) + 1 : len;
    const outer = sizeOf(x.dims.slice(0, ax)), inner = sizeOf(x.dims.slice(ax + 1, r - 1));
    const X = x.data as FArr;
    const out = allocData(x.type, outer * bins * inner * 2) as FArr;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const get = (k: number): [number, number] => {
          if (k >= S) return [0, 0];
          const at = ((o * S + k) * inner + i) * C;
          return [X[at], C === 2 ? X[at + 1] : 0];
        };
        dft1(len, bins, p.inverse, get, (b, re, im) => {
          const at = ((o * bins + b) * inner + i) * 2;
          out[at] = re;
          out[at + 1] = im;
        });
      }
    const dims = [...x.dims];
    dims[ax] = bins;
    dims[r - 1] = 2;
    return [new Tensor(x.type, out, dims)];
  },
});

/** STFT (opset 17): frames of the signal (windowed), one DFT each; output [batch, frames, bins, 2]. */
export const STFT = defineOp({
  parse: (_c, a) => a.int('onesided', 1) !== 0,
  run(inputs, onesided, ctx) {
    const x = need(inputs, 0, ctx, 'signal');
    checkType(x, ['float32', 'float64'], 0, ctx, 'signal');
    if (x.dims.length !== 3 || (x.dims[2] !== 1 && x.dims[2] !== 2)) throw nodeError(ctx.node, `signal must be [batch, length, 1 or 2], got [${x.dims}]`);
    const [B, L, C] = x.dims;
    const step = scalarOf(inputs[1], 'frame_step', ctx);
    const window = inputs[2];
    const frameLength = inputs[3] ? scalarOf(inputs[3], 'frame_length', ctx) : window ? window.size : undefined;
    if (!frameLength || frameLength < 1 || step < 1) throw nodeError(ctx.node, 'frame_length (or a window) and a positive frame_step are required');
    if (window && window.size !== frameLength) throw nodeError(ctx.node, `window has ${window.size} values for frame_length ${frameLength}`);
    const Wd = window?.data as FArr | undefined;
    const frames = Math.floor((L - frameLength) / step) + 1;
    if (frames < 1) throw nodeError(ctx.node, `signal of length ${L} is shorter than one frame (${frameLength})`);
    const bins = onesided ? Math.floor(frameLength / 2) + 1 : frameLength;
    const X = x.data as FArr;
    const out = allocData(x.type, B * frames * bins * 2) as FArr;
    for (let b = 0; b < B; b++)
      for (let f = 0; f < frames; f++) {
        const get = (k: number): [number, number] => {
          const at = (b * L + f * step + k) * C;
          const w = Wd ? Wd[k] : 1;
          return [X[at] * w, C === 2 ? X[at + 1] * w : 0];
        };
        dft1(frameLength, bins, false, get, (k, re, im) => {
          const at = ((b * frames + f) * bins + k) * 2;
          out[at] = re;
          out[at + 1] = im;
        });
      }
    return [new Tensor(x.type, out, [B, frames, bins, 2])];
  },
});

/** MelWeightMatrix (opset 17): triangular mel filters over the onesided DFT bins, [dft_length/2 + 1, num_mel_bins]. */
export const MelWeightMatrix = defineOp({
  parse: (_c, a) => outType(a),
  run(inputs, type, ctx) {
    const [nMel, dftLen, rate, lo, hi] = ['num_mel_bins', 'dft_length', 'sample_rate', 'lower_edge_hertz', 'upper_edge_hertz'].map((w, i) => scalarOf(inputs[i], w, ctx));
    if (!(nMel > 0 && dftLen > 0 && rate > 0 && hi > lo && lo >= 0)) throw nodeError(ctx.node, 'expected num_mel_bins, dft_length, sample_rate > 0 and 0 <= lower < upper edge');
    const nSpec = Math.floor(dftLen / 2) + 1;
    const mel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
    const loM = mel(lo), hiM = mel(hi);
    // The spec's reference (and onnxruntime) divide the mel range by num_mel_bins + 2.
    const step = (hiM - loM) / (nMel + 2);
    const edges = Array.from({ length: nMel + 2 }, (_, i) => {
      const hz = 700 * (10 ** ((i * step + loM) / 2595) - 1);
      return Math.floor(((dftLen + 1) * hz) / rate);
    });
    const out = allocData(type, nSpec * nMel) as FArr;
    for (let m = 0; m < nMel; m++) {
      const [l, c, h] = [edges[m], edges[m + 1], edges[m + 2]];
      if (c - l === 0) { if (c < nSpec) out[c * nMel + m] = 1; }
      else for (let j = l; j <= c; j++) if (j < nSpec) out[j * nMel + m] = (j - l) / (c - l);
      if (h - c > 0) for (let j = c; j < h; j++) if (j < nSpec) out[j * nMel + m] = (h - j) / (h - c);
    }
    return [new Tensor(type, out, [nSpec, nMel])];
  },
});
