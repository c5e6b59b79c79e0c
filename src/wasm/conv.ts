import { PANEL, packPanels, padPanel } from './gemm.js';
import { WasmArena, wasmModule } from './runtime.js';

/**
 * Geometry of a 1-D or 2-D convolution lifted to 2-D (1-D: height 1), per group:
 * X [N, C, H, W], W [M, C/G, KH, KW], Y [N, M, OH, OW].
 */
export interface ConvGeom {
  readonly N: number; readonly C: number; readonly H: number; readonly W: number;
  readonly M: number; readonly G: number; readonly KH: number; readonly KW: number;
  readonly OH: number; readonly OW: number;
  readonly sH: number; readonly sW: number; readonly dH: number; readonly dW: number;
  readonly pT: number; readonly pL: number;
}

/** An arena plus a cached float32 view of its memory (a view per call would allocate). */
class Scratch {
  readonly arena: WasmArena;
  private view: Float32Array;
  constructor(module: WebAssembly.Module) {
    this.arena = new WasmArena(module);
    this.view = this.arena.f32();
  }
  f32(): Float32Array {
    if (this.view.buffer !== this.arena.k.memory.buffer) this.view = this.arena.f32();
    return this.view;
  }
}

let sharedScratch: Scratch | null | undefined;
function shared(): Scratch | null {
  if (sharedScratch === undefined) {
    const m = wasmModule();
    sharedScratch = m ? new Scratch(m) : null;
  }
  return sharedScratch;
}

/**
 * Writes the im2col matrix of group g of batch item n: element (k, p), k = (c, kh, kw) over
 * the group's C/G channels, p = (oh, ow), goes to `base + (p >> 3)·8K + (p & 7)·s1 + k·sk`
 * (floats). Row-major [P, K] is s1 = K, sk = 1; 8-column panels of [K, P] are s1 = 1, sk = 8.
 * Taps that fall in the padding are 0; with `ppad` > P the extra columns are 0 too.
 */
function im2col(f32: Float32Array, base: number, X: Float32Array, xOff: number, g: ConvGeom, K: number, s1: number, sk: number, ppad: number): void {
  const { H, W, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
  const CperG = g.C / g.G;
  const s8 = 8 * K;
  let k = 0;
  for (let c = 0; c < CperG; c++) {
    const xc = xOff + c * H * W;
    for (let kh = 0; kh < KH; kh++)
      for (let kw = 0; kw < KW; kw++, k++) {
        const kb = base + k * sk;
        let p = 0;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sH - pT + kh * dH;
          const rowOk = ih >= 0 && ih < H;
          const xr = xc + ih * W;
          let iw = kw * dW - pL;
          for (let ow = 0; ow < OW; ow++, p++, iw += sW) {
            f32[kb + (p >> 3) * s8 + (p & 7) * s1] = rowOk && iw >= 0 && iw < W ? X[xr + iw] : 0;
          }
        }
        for (; p < ppad; p++) f32[kb + (p >> 3) * s8 + (p & 7) * s1] = 0;
      }
  }
}

/** Output positions below which a convolution runs with the weights as the packed GEMM operand. */
const TALL_BELOW = 8;

/**
 * Conv on the SIMD GEMM, im2col per group. Two orientations, chosen per call by the number of
 * output positions P = OH·OW:
 * - wide (P ≥ 8): Y_g[M/G, P] = W_g[M/G, K] · col_g[K, P], W row-major as it is stored, col
 *   written straight into 8-column panels; the result rows are already Y's layout.
 * - tall (P < 8, batch-1 streaming): Y_gᵀ[P, M/G] = col_gᵀ[P, K] · W_gᵀ, W packed into panels
 *   (a GEMV per output position: no lanes wasted on a 1- to 7-column panel of positions).
 * K = C/G·KH·KW. The bias initialises the accumulators. Constant weights live in the node's own
 * arena (copied and packed once); weights fed at run time are copied / packed per call into a
 * shared scratch arena.
 */
export class ConvKernel {
  private readonly s: Scratch;
  /** Byte offset of W [M, K] row-major in the arena (constant weights), or -1. */
  private wRows = -1;
  /** Byte offset of the packed W_gᵀ panels, group after group (constant weights), or -1. */
  private wPanels = -1;

  private constructor(s: Scratch, private readonly weights: Float32Array | null, readonly M: number, readonly K: number) {
    this.s = s;
  }

  /** For constant weights W [M, K] (K = C/G·KH·KW); null without the SIMD kernels. */
  static forConstant(W: Float32Array, M: number, K: number): ConvKernel | null {
    const m = wasmModule();
    if (!m || M === 0 || K === 0) return null;
    return new ConvKernel(new Scratch(m), W, M, K);
  }

  /** Weights given per call: one shared scratch arena; null without the SIMD kernels. */
  static perCall(): ConvKernel | null {
    const s = shared();
    return s ? new ConvKernel(s, null, 0, 0) : null;
  }

  /** Y [N, M, OH, OW] = conv(X, W) + B. `W` is only read for per-call kernels. */
  run(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array): void {
    const { N, C, H, M, G } = g;
    const MperG = M / G, CperG = C / G;
    const K = CperG * g.KH * g.KW;
    const P = g.OH * g.OW;
    const a = this.s.arena;
    const tall = P < TALL_BELOW;
    const npad = padPanel(MperG);
    // Constant weights are copied / packed on first use of each orientation and kept below the mark.
    const kept = this.weights ? (tall ? this.constPanels(g, K) : this.constRows()) : -1;
    const mark = a.mark();
    const wp = kept >= 0 ? kept : tall ? this.packGroups(W, g, K) : this.copyRows(W);
    const ppad = padPanel(P);
    const colp = a.alloc(tall ? P * K : ppad * K);
    const cp = a.alloc(tall ? P * npad : MperG * ppad);
    const f32 = this.s.f32();
    const c0 = cp >> 2;
    const k = a.k;
    for (let n = 0; n < N; n++)
      for (let gi = 0; gi < G; gi++) {
        const xOff = (n * C + gi * CperG) * H * g.W;
        const yOff = (n * M + gi * MperG) * P;
        if (tall) {
          im2col(f32, colp >> 2, X, xOff, g, K, K, 1, P);
          if (B) for (let p = 0; p < P; p++) for (let m = 0; m < MperG; m++) f32[c0 + p * npad + m] = B[gi * MperG + m];
          k.gemm(colp, K, wp + gi * npad * K * 4, K, npad, cp, npad, P, B ? 1 : 0);
          for (let m = 0; m < MperG; m++) for (let p = 0; p < P; p++) out[yOff + m * P + p] = f32[c0 + p * npad + m];
        } else {
          im2col(f32, colp >> 2, X, xOff, g, K, 1, PANEL, ppad);
          if (B) for (let m = 0; m < MperG; m++) f32.fill(B[gi * MperG + m], c0 + m * ppad, c0 + (m + 1) * ppad);
          k.gemm(wp + gi * MperG * K * 4, K, colp, K, ppad, cp, ppad, MperG, B ? 1 : 0);
          if (ppad === P) out.set(f32.subarray(c0, c0 + MperG * P), yOff);
          else if (P >= 32) for (let m = 0; m < MperG; m++) out.set(f32.subarray(c0 + m * ppad, c0 + m * ppad + P), yOff + m * P);
          else {
            for (let m = 0; m < MperG; m++) {
              const src = c0 + m * ppad, dst = yOff + m * P;
              for (let p = 0; p < P; p++) out[dst + p] = f32[src + p];
            }
          }
        }
      }
    a.reset(mark);
  }

  private constRows(): number {
    if (this.wRows < 0) this.wRows = this.copyRows(this.weights!);
    return this.wRows;
  }

  private constPanels(g: ConvGeom, K: number): number {
    if (this.wPanels < 0) this.wPanels = this.packGroups(this.weights!, g, K);
    return this.wPanels;
  }

  private copyRows(W: Float32Array): number {
    const ptr = this.s.arena.alloc(W.length);
    this.s.f32().set(W, ptr >> 2);
    return ptr;
  }

  /** Packs W_gᵀ [K, M/G] of every group into panels, one group after another; returns the offset. */
  private packGroups(W: Float32Array, g: ConvGeom, K: number): number {
    const MperG = g.M / g.G, npad = padPanel(MperG);
    const a = this.s.arena;
    const ptr = a.alloc(g.G * npad * K);
    for (let gi = 0; gi < g.G; gi++) {
      const w0 = gi * MperG * K;
      packPanels(this.s.f32(), ptr + gi * npad * K * 4, K, MperG, (k, n) => W[w0 + n * K + k]);
    }
    return ptr;
  }
}

/**
 * ConvTranspose on the SIMD GEMM, per group: col[H·W, M/G·KH·KW] = X_gᵀ[H·W, C/G] · W_g, W_g
 * [C/G, M/G·KH·KW] being W's own layout (packed into panels once when constant, per call when
 * fed), then col2im: each input position adds its M/G·KH·KW products into Y, whose bias was set
 * first. Geometry as ConvGeom with C the input channels, W [C, M/G, KH, KW].
 */
export class ConvTransposeKernel {
  private packed = -1;

  private constructor(private readonly s: Scratch, private readonly weights: Float32Array | null) {}

  static forConstant(W: Float32Array): ConvTransposeKernel | null {
    const m = wasmModule();
    return m && W.length > 0 ? new ConvTransposeKernel(new Scratch(m), W) : null;
  }

  static perCall(): ConvTransposeKernel | null {
    const s = shared();
    return s ? new ConvTransposeKernel(s, null) : null;
  }

  run(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array): void {
    const { N, C, H, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
    const Wd = g.W;
    const CperG = C / G, MperG = M / G;
    const K = CperG, Ncol = MperG * KH * KW, npad = padPanel(Ncol);
    const HW = H * Wd;
    const a = this.s.arena;
    if (this.weights && this.packed < 0) this.packed = this.pack(this.weights, G, K, Ncol);
    const mark = a.mark();
    const wp = this.weights ? this.packed : this.pack(W, G, K, Ncol);
    const xp = a.alloc(HW * K), cp = a.alloc(HW * npad);
    const f32 = this.s.f32();
    const x0 = xp >> 2, c0 = cp >> 2;
    const per = OH * OW;
    for (let n = 0; n < N; n++)
      for (let gi = 0; gi < G; gi++) {
        // X_gᵀ [HW, C/G]
        const xOff = (n * C + gi * CperG) * HW;
        for (let c = 0; c < K; c++) for (let p = 0; p < HW; p++) f32[x0 + p * K + c] = X[xOff + c * HW + p];
        a.k.gemm(xp, K, wp + gi * npad * K * 4, K, npad, cp, npad, HW, 0);
        const yOff = (n * M + gi * MperG) * per;
        for (let m = 0; m < MperG; m++) out.fill(B ? B[gi * MperG + m] : 0, yOff + m * per, yOff + (m + 1) * per);
        for (let ih = 0; ih < H; ih++)
          for (let iw = 0; iw < Wd; iw++) {
            const row = c0 + (ih * Wd + iw) * npad;
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * sH - pT + kh * dH;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * sW - pL + kw * dW;
                if (ow < 0 || ow >= OW) continue;
                const o = yOff + oh * OW + ow, col = row + kh * KW + kw;
                for (let m = 0; m < MperG; m++) out[o + m * per] += f32[col + m * KH * KW];
              }
            }
          }
      }
    a.reset(mark);
  }

  /** Packs W_g [C/G, M/G·KH·KW] of every group into panels, group after group. */
  private pack(W: Float32Array, G: number, K: number, Ncol: number): number {
    const npad = padPanel(Ncol);
    const ptr = this.s.arena.alloc(G * npad * K);
    for (let gi = 0; gi < G; gi++) {
      const w0 = gi * K * Ncol;
      packPanels(this.s.f32(), ptr + gi * npad * K * 4, K, Ncol, (k, n) => W[w0 + k * Ncol + n]);
    }
    return ptr;
  }
}
