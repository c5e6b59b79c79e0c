import { activationFn } from './activations.js';
import { inputProjection, loadState, rowOf, storeState, yOffset, type RecRun } from './common.js';
import { GATES, type DirectionParams, type FloatArray, type RecurrentLayer } from './layer.js';

export interface RecOutputs {
  readonly Y: FloatArray | null; //  [T, D, N, H] or [N, T, D, H]
  readonly Yh: FloatArray | null; // [D, N, H] or [N, D, H]
  readonly Yc: FloatArray | null; // LSTM only
}

/**
 * Runs every direction of a layer. Per direction: one GEMM for the input projection of all
 * steps, then the step loop (recurrent product + gates) with no allocation inside it.
 * State is kept in float64 and rounded only when written to the outputs.
 */
export function runLayer(layer: RecurrentLayer, r: RecRun, out: RecOutputs): void {
  const D = layer.params.length;
  for (let d = 0; d < D; d++) {
    const reverse = layer.direction === 'reverse' || d === 1;
    runDirection(layer, d, reverse, r, out);
  }
}

function runDirection(layer: RecurrentLayer, d: number, reverse: boolean, r: RecRun, out: RecOutputs): void {
  const { mode, hiddenSize: H, inputSize: I, layout } = layer;
  const { T, N, lens } = r;
  const D = layer.params.length;
  const G = GATES[mode];
  const GH = G * H;
  const p = layer.params[d];
  const h = new Float64Array(N * H);
  const c = new Float64Array(N * H);
  loadState(h, r.h0, d, D, N, H, layout);
  loadState(c, r.c0, d, D, N, H, layout);

  // Bias folded into the projection: b_ih + b_hh, except GRU's b_hn which sits inside r∘(…).
  const bias = new Float64Array(GH);
  for (let g = 0; g < GH; g++) bias[g] = p.biasIh[g] + (mode === 'GRU' && g >= 2 * H ? 0 : p.biasHh[g]);
  const xw = inputProjection(r.X, T * N, I, p.weightIh, bias);
  const row = rowOf(layout, T, N);
  const yAt = yOffset(layout, T, D, N, H);
  const gates = new Float64Array(GH);
  const tmp = new Float64Array(H);
  const acts = layer.activations[d].map(activationFn);
  const clip = layer.clip ?? Infinity;
  const cl = (v: number) => (v > clip ? clip : v < -clip ? -clip : v);
  const Whh = p.weightHh;

  for (let n = 0; n < N; n++) {
    const L = lens ? lens[n] : T;
    const hn = n * H;
    for (let s = 0; s < L; s++) {
      const t = reverse ? L - 1 - s : s;
      const xo = row(t, n) * GH;
      if (mode === 'GRU') {
        gruStep(layer, p, acts, cl, xw, xo, h, hn, gates, tmp, H);
      } else {
        // gates = XW[t] + h·W_hhᵀ
        for (let g = 0; g < GH; g++) {
          let acc = xw[xo + g];
          const wo = g * H;
          for (let k = 0; k < H; k++) acc += h[hn + k] * Whh[wo + k];
          gates[g] = acc;
        }
        if (mode === 'LSTM') lstmGates(layer, p, acts, cl, gates, h, c, hn, H);
        else {
          const f = acts[0];
          for (let k = 0; k < H; k++) h[hn + k] = f(cl(gates[k]));
        }
      }
      if (out.Y) {
        const yo = yAt(t, d, n);
        for (let k = 0; k < H; k++) out.Y[yo + k] = h[hn + k];
      }
    }
    // onnxruntime: an empty sequence ends with zero states, not the initial ones.
    if (L === 0) {
      h.fill(0, hn, hn + H);
      c.fill(0, hn, hn + H);
    }
  }
  storeState(out.Yh, h, d, D, N, H, layout);
  storeState(out.Yc, c, d, D, N, H, layout);
}

/** PyTorch gate order i, f, g, o; peepholes p_i, p_o, p_f (ONNX order). */
function lstmGates(
  layer: RecurrentLayer, p: DirectionParams, acts: ((x: number) => number)[], cl: (v: number) => number,
  gates: Float64Array, h: Float64Array, c: Float64Array, hn: number, H: number,
): void {
  const [f, g, hAct] = acts;
  const P = p.peephole;
  for (let k = 0; k < H; k++) {
    const cPrev = c[hn + k];
    const it = f(cl(gates[k] + (P ? P[k] * cPrev : 0)));
    const ft = layer.inputForget ? 1 - it : f(cl(gates[H + k] + (P ? P[2 * H + k] * cPrev : 0)));
    const gt = g(cl(gates[2 * H + k]));
    const ct = ft * cPrev + it * gt;
    const ot = f(cl(gates[3 * H + k] + (P ? P[H + k] * ct : 0)));
    c[hn + k] = ct;
    h[hn + k] = ot * hAct(ct);
  }
}

/** PyTorch gate order r, z, n. `xw` holds X·W_ihᵀ + b_ih (+ b_hr, b_hz). */
function gruStep(
  layer: RecurrentLayer, p: DirectionParams, acts: ((x: number) => number)[], cl: (v: number) => number,
  xw: Float64Array, xo: number, h: Float64Array, hn: number, gates: Float64Array, rh: Float64Array, H: number,
): void {
  const [f, g] = acts;
  const Whh = p.weightHh;
  const bhn = p.biasHh;
  // r and z: XW + h·W_h{r,z}ᵀ
  for (let j = 0; j < 2 * H; j++) {
    let acc = xw[xo + j];
    const wo = j * H;
    for (let k = 0; k < H; k++) acc += h[hn + k] * Whh[wo + k];
    gates[j] = f(cl(acc));
  }
  if (layer.linearBeforeReset) {
    // n = g(XW_n + r∘(h·W_hnᵀ + b_hn))
    for (let j = 0; j < H; j++) {
      let acc = bhn[2 * H + j];
      const wo = (2 * H + j) * H;
      for (let k = 0; k < H; k++) acc += h[hn + k] * Whh[wo + k];
      gates[2 * H + j] = g(cl(xw[xo + 2 * H + j] + gates[j] * acc));
    }
  } else {
    // n = g(XW_n + (r∘h)·W_hnᵀ + b_hn)
    for (let k = 0; k < H; k++) rh[k] = gates[k] * h[hn + k];
    for (let j = 0; j < H; j++) {
      let acc = xw[xo + 2 * H + j] + bhn[2 * H + j];
      const wo = (2 * H + j) * H;
      for (let k = 0; k < H; k++) acc += rh[k] * Whh[wo + k];
      gates[2 * H + j] = g(cl(acc));
    }
  }
  for (let j = 0; j < H; j++) {
    const z = gates[H + j];
    h[hn + j] = (1 - z) * gates[2 * H + j] + z * h[hn + j];
  }
}
