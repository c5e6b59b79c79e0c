// An independent reference for ONNX LSTM/GRU/RNN written straight from the ONNX spec, in ONNX
// layout (gates iofc / zrh, W [D, G·H, I]) and float64, used where onnxruntime cannot run a case.
// Missing activation alpha/beta take onnxruntime's defaults (see src/ops/rec/activations.ts).
import type { Tensor } from '../src/ir/tensor.js';

export interface RefAttrs {
  hidden_size: number;
  direction?: string;
  activations?: string[];
  activation_alpha?: number[];
  activation_beta?: number[];
  clip?: number;
  input_forget?: number;
  linear_before_reset?: number;
  layout?: number;
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
function act(name: string, alpha: number | undefined, beta: number | undefined): (x: number) => number {
  switch (name.toLowerCase()) {
    case 'sigmoid': return sig;
    case 'tanh': return Math.tanh;
    case 'relu': return (x) => Math.max(0, x);
    case 'affine': return (x) => (alpha ?? 0) * x + (beta ?? 0);
    case 'leakyrelu': return (x) => (x >= 0 ? x : (alpha ?? 0.01) * x);
    case 'thresholdedrelu': return (x) => (x > (alpha ?? 0) ? x : 0);
    case 'scaledtanh': return (x) => (alpha ?? 0) * Math.tanh((beta ?? 0) * x);
    case 'hardsigmoid': return (x) => Math.min(1, Math.max(0, (alpha ?? 0.2) * x + (beta ?? 0.5)));
    case 'elu': return (x) => (x >= 0 ? x : (alpha ?? 1) * (Math.exp(x) - 1));
    case 'softsign': return (x) => x / (1 + Math.abs(x));
    case 'softplus': return (x) => Math.log(1 + Math.exp(x));
    default: throw new Error(name);
  }
}
const USES_ALPHA = new Set(['affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'hardsigmoid', 'elu']);
const USES_BETA = new Set(['affine', 'scaledtanh', 'hardsigmoid']);

export function refRecurrent(
  mode: 'LSTM' | 'GRU' | 'RNN', a: RefAttrs,
  X: Tensor, W: Tensor, R: Tensor, B?: Tensor, lens?: Tensor, h0?: Tensor, c0?: Tensor, P?: Tensor,
): { Y: number[]; Yh: number[]; Yc: number[]; yDims: number[]; sDims: number[] } {
  const G = { LSTM: 4, GRU: 3, RNN: 1 }[mode];
  const D = a.direction === 'bidirectional' ? 2 : 1;
  const H = a.hidden_size;
  const lay = a.layout ?? 0;
  const [T, N, I] = lay ? [X.dims[1], X.dims[0], X.dims[2]] : [X.dims[0], X.dims[1], X.dims[2]];
  const x = (t: number, n: number, i: number) => Number(X.data[lay ? (n * T + t) * I + i : (t * N + n) * I + i]);
  const names = a.activations ?? Array(D).fill({ LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] }[mode]).flat();
  let ai = 0, bi = 0;
  const fns = names.map((nm) => {
    const l = nm.toLowerCase();
    const al = USES_ALPHA.has(l) ? a.activation_alpha?.[ai++] : undefined;
    const be = USES_BETA.has(l) ? a.activation_beta?.[bi++] : undefined;
    return act(nm, al, be);
  });
  const k = names.length / D;
  const clip = (v: number) => (a.clip === undefined ? v : Math.max(-a.clip, Math.min(a.clip, v)));
  const Y = new Array(T * D * N * H).fill(0);
  const Yh = new Array(D * N * H).fill(0);
  const Yc = new Array(D * N * H).fill(0);
  const yIdx = (t: number, d: number, n: number, j: number) => (lay ? ((n * T + t) * D + d) * H + j : ((t * D + d) * N + n) * H + j);
  const sIdx = (d: number, n: number, j: number) => (lay ? (n * D + d) * H + j : (d * N + n) * H + j);
  const w = (d: number, row: number, i: number) => Number(W.data[(d * G * H + row) * I + i]);
  const r = (d: number, row: number, j: number) => Number(R.data[(d * G * H + row) * H + j]);
  const wb = (d: number, row: number) => (B ? Number(B.data[d * 2 * G * H + row]) : 0);
  const rb = (d: number, row: number) => (B ? Number(B.data[d * 2 * G * H + G * H + row]) : 0);
  const p = (d: number, row: number) => (P ? Number(P.data[d * 3 * H + row]) : 0);
  for (let d = 0; d < D; d++) {
    const rev = a.direction === 'reverse' || d === 1;
    const [f, g, hf] = fns.slice(d * k, (d + 1) * k);
    for (let n = 0; n < N; n++) {
      const L = lens ? Number(lens.data[n]) : T;
      let h = Array.from({ length: H }, (_, j) => (h0 ? Number(h0.data[sIdx(d, n, j)]) : 0));
      let c = Array.from({ length: H }, (_, j) => (c0 ? Number(c0.data[sIdx(d, n, j)]) : 0));
      for (let s = 0; s < L; s++) {
        const t = rev ? L - 1 - s : s;
        const xw = (row: number) => { let v = wb(d, row); for (let i = 0; i < I; i++) v += x(t, n, i) * w(d, row, i); return v; };
        const hr = (row: number, hh: number[]) => { let v = rb(d, row); for (let j = 0; j < H; j++) v += hh[j] * r(d, row, j); return v; };
        const nh = new Array(H), nc = new Array(H);
        for (let j = 0; j < H; j++) {
          if (mode === 'RNN') nh[j] = f(clip(xw(j) + hr(j, h)));
          else if (mode === 'LSTM') {
            const i_ = f(clip(xw(j) + hr(j, h) + p(d, j) * c[j]));
            const f_ = a.input_forget ? 1 - i_ : f(clip(xw(2 * H + j) + hr(2 * H + j, h) + p(d, 2 * H + j) * c[j]));
            const c_ = g(clip(xw(3 * H + j) + hr(3 * H + j, h)));
            nc[j] = f_ * c[j] + i_ * c_;
            const o_ = f(clip(xw(H + j) + hr(H + j, h) + p(d, H + j) * nc[j]));
            nh[j] = o_ * hf(nc[j]);
          } else {
            const z = f(clip(xw(j) + hr(j, h)));
            const rr = f(clip(xw(H + j) + hr(H + j, h)));
            let ht: number;
            if (a.linear_before_reset) ht = g(clip(xw(2 * H + j) + rr * hr(2 * H + j, h)));
            else {
              const rh = h.map((v, q) => v * f(clip(xw(H + q) + hr(H + q, h))));
              ht = g(clip(xw(2 * H + j) + hr(2 * H + j, rh)));
            }
            nh[j] = (1 - z) * ht + z * h[j];
          }
        }
        h = nh;
        if (mode === 'LSTM') c = nc;
        for (let j = 0; j < H; j++) Y[yIdx(t, d, n, j)] = h[j];
      }
      // An empty sequence ends with zero states (onnxruntime's behaviour).
      for (let j = 0; j < H; j++) { Yh[sIdx(d, n, j)] = L ? h[j] : 0; Yc[sIdx(d, n, j)] = L ? c[j] : 0; }
    }
  }
  return { Y, Yh, Yc, yDims: lay ? [N, T, D, H] : [T, D, N, H], sDims: lay ? [N, D, H] : [D, N, H] };
}
