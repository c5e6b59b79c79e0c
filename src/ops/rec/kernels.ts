import { activationFn } from './activations.js';
import { FastLayer } from './fast.js';
import type { GemmPool } from '../../wasm/threads.js';
import { inputProjection, loadState, rowOf, storeState, yOffset, type RecRun } from './common.js';
import { GATES, type DirectionParams, type FloatArray, type RecurrentLayer } from './layer.js';

export interface RecOutputs {
  readonly Y: FloatArray | null; //  [T, D, N, S] or [N, T, D, S] (S = proj_size or hidden_size)
  readonly Yh: FloatArray | null; // [D, N, S] or [N, D, S]
  readonly Yc: FloatArray | null; // LSTM only, [D, N, H] or [N, D, H]
  /** Where h_t of (t, d, n) goes in Y; default: the ONNX layout of `layer.layout`. */
  readonly yAt?: (t: number, d: number, n: number) => number;
}

/** Width of the hidden state h: the projection size for LSTMP, else hidden_size. */
export function stateSize(layer: RecurrentLayer): number {
  return layer.projSize ?? layer.hiddenSize;
}

/**
 * Runs every direction of a layer. Per direction: one GEMM for the input projection of all
 * steps, then the step loop (recurrent product + gates) with no allocation inside it. Layers the
 * SIMD path takes (see FastLayer.create) run in float32 there; the rest run on the reference.
 */
export function runLayer(layer: RecurrentLayer, r: RecRun, out: RecOutputs, pool?: GemmPool): void {
  const fast = prepareLayer(layer, pool);
  if (fast && (!r.lens || r.lens.every((L) => L === r.T))) fast.run(r, out);
  else runLayerReference(layer, r, out);
}

/**
 * The plain TypeScript kernels: the reference, and the path for everything the SIMD path skips.
 * State is kept in float64 and rounded only when written to the outputs.
 */
export function runLayerReference(layer: RecurrentLayer, r: RecRun, out: RecOutputs): void {
  const D = layer.params.length;
  for (let d = 0; d < D; d++) {
    const reverse = layer.direction === 'reverse' || d === 1;
    runDirection(layer, d, reverse, r, out);
  }
}

type Act = (x: number) => number;

const fastLayers = new WeakMap<RecurrentLayer, FastLayer | null>();

/**
 * Packs the layer for the WebAssembly SIMD path once (null: it runs on the reference kernels);
 * with a pool, into its shared memory so a worker thread takes half of every GEMM.
 */
export function prepareLayer(layer: RecurrentLayer, pool?: GemmPool): FastLayer | null {
  let f = fastLayers.get(layer);
  if (f === undefined) {
    f = FastLayer.create(layer, pool);
    fastLayers.set(layer, f);
  }
  return f;
}

function runDirection(layer: RecurrentLayer, d: number, reverse: boolean, r: RecRun, out: RecOutputs): void {
  const { mode, hiddenSize: H, inputSize: I, layout } = layer;
  const S = stateSize(layer);
  const { T, N, lens } = r;
  const D = layer.params.length;
  const GH = GATES[mode] * H;
  const p = layer.params[d];
  const h = new Float64Array(N * S); // hidden state, [N, S]
  const c = new Float64Array(N * H); // LSTM cell, [N, H]
  loadState(h, r.h0, d, D, N, S, r.stateLayout);
  loadState(c, r.c0, d, D, N, H, r.stateLayout);

  // Biases folded into the input projection: b_ih + b_hh, except GRU's b_hn which sits inside r∘(…).
  const bias = new Float64Array(GH);
  for (let g = 0; g < GH; g++) bias[g] = p.biasIh[g] + (mode === 'GRU' && g >= 2 * H ? 0 : p.biasHh[g]);
  const xw = inputProjection(r.X, T * N, I, p.weightIh, bias);
  const row = rowOf(layout, T, N);
  const yAt = out.yAt ?? yOffset(layout, T, D, N, S);
  const gates = new Float64Array(GH);
  const tmp = new Float64Array(H);
  const acts = layer.activations[d].map(activationFn);
  const clip = layer.clip ?? Infinity;
  const cl = (v: number) => (v > clip ? clip : v < -clip ? -clip : v);
  const Whh = p.weightHh; // [G·H, S]

  for (let n = 0; n < N; n++) {
    const L = lens ? lens[n] : T;
    const hn = n * S;
    const cn = n * H;
    for (let s = 0; s < L; s++) {
      const t = reverse ? L - 1 - s : s;
      const xo = row(t, n) * GH;
      if (mode === 'GRU') {
        gruStep(layer, p, acts, cl, xw, xo, h, hn, gates, tmp, H);
      } else {
        // gates = XW[t] + h·W_hhᵀ
        for (let g = 0; g < GH; g++) {
          let acc = xw[xo + g];
          const wo = g * S;
          for (let k = 0; k < S; k++) acc += h[hn + k] * Whh[wo + k];
          gates[g] = acc;
        }
        if (mode === 'LSTM') lstmGates(layer, p, acts, cl, gates, h, hn, c, cn, tmp, H, S);
        else {
          const f = acts[0];
          for (let k = 0; k < H; k++) h[hn + k] = f(cl(gates[k]));
        }
      }
      if (out.Y) {
        const yo = yAt(t, d, n);
        for (let k = 0; k < S; k++) out.Y[yo + k] = h[hn + k];
      }
    }
    // onnxruntime: an empty sequence ends with zero states, not the initial ones.
    if (L === 0) {
      h.fill(0, hn, hn + S);
      c.fill(0, cn, cn + H);
    }
  }
  storeState(out.Yh, h, d, D, N, S, r.stateLayout);
  storeState(out.Yc, c, d, D, N, H, r.stateLayout);
}

/** PyTorch gate order i, f, g, o; peepholes p_i, p_o, p_f (ONNX order); then h = W_hr·(o∘h(c)) for LSTMP. */
function lstmGates(
  layer: RecurrentLayer, p: DirectionParams, acts: Act[], cl: Act,
  gates: Float64Array, h: Float64Array, hn: number, c: Float64Array, cn: number, tmp: Float64Array, H: number, S: number,
): void {
  const [f, g, hAct] = acts;
  const P = p.peephole;
  const Whr = p.weightHr; // [S, H]
  for (let k = 0; k < H; k++) {
    const cPrev = c[cn + k];
    const it = f(cl(gates[k] + (P ? P[k] * cPrev : 0)));
    const ft = layer.inputForget ? 1 - it : f(cl(gates[H + k] + (P ? P[2 * H + k] * cPrev : 0)));
    const gt = g(cl(gates[2 * H + k]));
    const ct = ft * cPrev + it * gt;
    const ot = f(cl(gates[3 * H + k] + (P ? P[H + k] * ct : 0)));
    c[cn + k] = ct;
    if (Whr) tmp[k] = ot * hAct(ct);
    else h[hn + k] = ot * hAct(ct);
  }
  if (Whr) {
    for (let j = 0; j < S; j++) {
      let acc = 0;
      const wo = j * H;
      for (let k = 0; k < H; k++) acc += Whr[wo + k] * tmp[k];
      h[hn + j] = acc;
    }
  }
}

/** PyTorch gate order r, z, n. `xw` holds X·W_ihᵀ + b_ih (+ b_hr, b_hz). */
function gruStep(
  layer: RecurrentLayer, p: DirectionParams, acts: Act[], cl: Act,
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
