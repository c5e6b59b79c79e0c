import { packPanels, padPanel } from '../../wasm/gemm.js';
import { WasmArena, wasmModule } from '../../wasm/runtime.js';
import type { GemmPool } from '../../wasm/threads.js';
import { yOffset, type RecRun } from './common.js';
import type { RecOutputs } from './kernels.js';
import { GATES, type RecurrentLayer } from './layer.js';


/** Packs B = Wᵀ [K, N] from the rows of W [N, K] into 8-column panels at `ptr`. */
function packTransposed(f32: Float32Array, ptr: number, W: ArrayLike<number>, N: number, K: number): void {
  packPanels(f32, ptr, K, N, (k, n) => W[n * K + k]);
}

/** N rows of w values: dst rows dStride apart from dOff ← src rows sStride apart from sOff (one copy when both are packed). */
function copyRows(dst: Float32Array | Float64Array, dOff: number, dStride: number, src: Float32Array | Float64Array, sOff: number, sStride: number, N: number, w: number): void {
  if (dStride === w && sStride === w) dst.set(src.subarray(sOff, sOff + N * w), dOff);
  else for (let n = 0; n < N; n++) dst.set(src.subarray(sOff + n * sStride, sOff + n * sStride + w), dOff + n * dStride);
}

interface DirPack {
  wih: number; // panels of W_ihᵀ [I, GHp]
  whh: number; // panels of W_hhᵀ [S, GHp]
  whr: number; // panels of W_hrᵀ [H, Sp] (LSTMP)
  bias: number; // [GHp] b_ih + b_hh (GRU: b_hn left out)
  bhn: number; // [H] GRU only
}

/**
 * The WebAssembly SIMD path for the layers PyTorch exports: float32, default activations, no
 * clip / peepholes / input_forget, hidden size a multiple of 4, no sequence_lens. Weights are
 * packed once; each step is one GEMM (the batch's recurrent product accumulated straight into the
 * precomputed input projection) and one vectorised gate pass. Everything else runs in kernels.ts.
 */
export class FastLayer {
  private readonly arena: WasmArena;
  private readonly packs: DirPack[];
  private readonly GHp: number;
  private readonly Sp: number;

  /** The GEMM to use: the kernels' own, or a worker pool's split one. */
  private readonly gemm: Pick<GemmPool, 'gemm'>;

  private constructor(private readonly layer: RecurrentLayer, module: WebAssembly.Module | null, pool?: GemmPool) {
    const { mode, hiddenSize: H, inputSize: I } = layer;
    const S = layer.projSize ?? H;
    const GH = GATES[mode] * H;
    this.GHp = padPanel(GH);
    this.Sp = padPanel(S);
    this.arena = pool ? pool.arena : new WasmArena(module!);
    this.gemm = pool ?? this.arena.k;
    const a = this.arena;
    const ptrs = layer.params.map(() => ({
      wih: a.alloc(this.GHp * I), whh: a.alloc(this.GHp * S), whr: layer.projSize ? a.alloc(this.Sp * H) : 0,
      bias: a.alloc(this.GHp), bhn: a.alloc(H),
    }));
    const f32 = a.f32();
    layer.params.forEach((p, d) => {
      const q = ptrs[d];
      packTransposed(f32, q.wih, p.weightIh, GH, I);
      packTransposed(f32, q.whh, p.weightHh, GH, S);
      if (p.weightHr) packTransposed(f32, q.whr, p.weightHr, S, H);
      for (let g = 0; g < GH; g++) f32[(q.bias >> 2) + g] = p.biasIh[g] + (mode === 'GRU' && g >= 2 * H ? 0 : p.biasHh[g]);
      if (mode === 'GRU') for (let k = 0; k < H; k++) f32[(q.bhn >> 2) + k] = p.biasHh[2 * H + k];
    });
    this.packs = ptrs;
  }

  /** A packed layer, or null when the layer needs the reference kernels. */
  static create(layer: RecurrentLayer, pool?: GemmPool): FastLayer | null {
    const m = wasmModule();
    if ((!m && !pool) || layer.dtype !== 'float32' || layer.clip !== undefined || layer.inputForget || layer.hiddenSize % 4 !== 0) return null;
    if (layer.params.some((p) => p.peephole)) return null;
    const want = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] }[layer.mode];
    for (const acts of layer.activations) {
      const names = acts.map((a) => a.name);
      const rnnRelu = layer.mode === 'RNN' && names.length === 1 && names[0] === 'Relu';
      if (!rnnRelu && (names.length !== want.length || names.some((n, i) => n !== want[i]))) return null;
    }
    if (layer.mode === 'GRU' && !layer.linearBeforeReset) return null;
    return new FastLayer(layer, m, pool);
  }

  run(r: RecRun, out: RecOutputs): void {
    const { mode, hiddenSize: H, inputSize: I, layout } = this.layer;
    const S = this.layer.projSize ?? H;
    const { T, N } = r;
    const D = this.packs.length;
    const { GHp, Sp } = this;
    const a = this.arena;
    const k = a.k;
    const mark = a.mark();
    const rows = T * N;
    const xPtr = a.alloc(rows * I), xw = a.alloc(rows * GHp), h = a.alloc(N * Sp), c = a.alloc(N * H);
    const hh = mode === 'GRU' ? a.alloc(N * GHp) : 0;
    const ht = this.layer.projSize ? a.alloc(N * H) : 0;
    let f32 = a.f32();
    f32.set(r.X.subarray(0, rows * I), xPtr >> 2);
    const yAt = out.yAt ?? yOffset(layout, T, D, N, S);
    const row = layout ? (t: number, n: number) => n * T + t : (t: number, n: number) => t * N + n;
    // Step t's rows of XW: contiguous for layout 0, T rows apart for layout 1.
    const stepPtr = (t: number) => xw + (layout ? t : t * N) * GHp * 4;
    const ldStep = layout ? T * GHp : GHp;
    // bytes from one batch row's gates to the next within a step
    const rowStride = (layout ? T : 1) * GHp * 4;
    const relu = mode === 'RNN' && this.layer.activations[0][0].name === 'Relu';
    // State rows in wasm memory: h [N, Sp], c [N, H]; in the caller's tensors [D, N, ·] or [N, D, ·].
    const stateAt = (d: number, n: number, w: number) => (r.stateLayout ? (n * D + d) * w : (d * N + n) * w);
    for (let d = 0; d < D; d++) {
      const q = this.packs[d];
      const reverse = this.layer.direction === 'reverse' || d === 1;
      this.gemm.gemm(xPtr, I, q.wih, I, GHp, xw, GHp, rows, 0);
      k.add_bias(xw, q.bias, rows, GHp, GHp);
      f32 = a.f32();
      if (r.h0) copyRows(f32, h >> 2, Sp, r.h0, stateAt(d, 0, S), stateAt(d, 1, S) - stateAt(d, 0, S), N, S);
      else f32.fill(0, h >> 2, (h >> 2) + N * Sp);
      if (r.c0) copyRows(f32, c >> 2, H, r.c0, stateAt(d, 0, H), stateAt(d, 1, H) - stateAt(d, 0, H), N, H);
      else f32.fill(0, c >> 2, (c >> 2) + N * H);
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const g0 = stepPtr(t);
        if (mode === 'GRU') {
          this.gemm.gemm(h, Sp, q.whh, S, GHp, hh, GHp, N, 0);
          k.gru_rows(xw + row(t, 0) * GHp * 4, rowStride, hh, GHp * 4, q.bhn, h, Sp * 4, H, N);
        } else {
          this.gemm.gemm(h, Sp, q.whh, S, GHp, g0, ldStep, N, 1);
          if (mode === 'LSTM') {
            k.lstm_rows(xw + row(t, 0) * GHp * 4, rowStride, c, H * 4, ht || h, ht ? H * 4 : Sp * 4, H, N);
            if (ht) this.gemm.gemm(ht, H, q.whr, H, Sp, h, Sp, N, 0);
          } else {
            for (let n = 0; n < N; n++) {
              const src = xw + row(t, n) * GHp * 4;
              if (relu) {
                for (let j = 0; j < H; j++) f32[(h >> 2) + n * Sp + j] = Math.max(0, f32[(src >> 2) + j]);
              } else k.tanh(src, h + n * Sp * 4, H);
            }
          }
        }
        if (out.Y) {
          const Y = out.Y;
          const y0 = yAt(t, d, 0);
          if (Sp === S && (N === 1 || yAt(t, d, 1) - y0 === S)) Y.set(f32.subarray(h >> 2, (h >> 2) + N * S), y0); // rows contiguous on both sides
          else {
            for (let n = 0; n < N; n++) {
              const o = yAt(t, d, n), src = (h >> 2) + n * Sp;
              for (let j = 0; j < S; j++) Y[o + j] = f32[src + j]; // no view objects inside the step loop
            }
          }
        }
      }
      if (out.Yh) copyRows(out.Yh, stateAt(d, 0, S), stateAt(d, 1, S) - stateAt(d, 0, S), f32, h >> 2, Sp, N, S);
      if (out.Yc) copyRows(out.Yc, stateAt(d, 0, H), stateAt(d, 1, H) - stateAt(d, 0, H), f32, c >> 2, H, N, H);
    }
    a.reset(mark);
  }
}
