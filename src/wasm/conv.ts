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

/** Output columns (batch items × positions) below which a convolution runs with the weights as the packed GEMM operand. */
const TALL_BELOW = 8;

/** Activation applied to the output before it leaves WebAssembly memory (see fuseConvActivations). */
export type ConvAct = 'none' | 'relu';

/** Bytes of packed B a column block holds: the block stays in L1 while all of A streams past it. */
const BLOCK_BYTES = 24 * 1024;

/** Group gi's output [N, M/G, P] at f32[from…] into Y [N, M, P]: one copy when there is one group. */
function copyOut(f32: Float32Array, from: number, out: Float32Array, N: number, M: number, MperG: number, P: number, gi: number): void {
  if (MperG === M) out.set(f32.subarray(from, from + N * M * P));
  else for (let n = 0; n < N; n++) out.set(f32.subarray(from + n * MperG * P, from + (n + 1) * MperG * P), (n * M + gi * MperG) * P);
}

/**
 * Conv on the SIMD GEMM, the whole batch in one product per group. Two orientations, chosen per
 * call by the output columns N·P (batch items × output positions P = OH·OW) against the output
 * channels per group M/G:
 * - wide: Y_g[M/G, N·P] = W_g[M/G, K] · col_g[K, N·P], W row-major as it is stored, col packed
 *   into panels in column blocks that stay in L1 (im2col in WebAssembly; a pointwise conv of one
 *   batch item packs X's own rows).
 * - tall (N·P < 8, or N·P at most half of M/G): Y_gᵀ[N·P, M/G] = col_gᵀ[N·P, K] · W_gᵀ, W
 *   packed into panels once. At batch 1 with P < 8 this is a GEMV per output position: no lanes
 *   wasted on a 1- to 7-column panel. The rule comes from timing both on the real models'
 *   geometries (DEVELOPERS.md, "Conv orientation"); both give bit-identical sums (each output is
 *   the bias plus its K products added in order), so the choice never changes a result.
 * K = C/G·KH·KW. The bias initialises the accumulators; a fused activation is applied in
 * WebAssembly memory before the copy out. Constant weights live in the node's own arena (copied
 * and packed once); weights fed at run time are copied / packed per call into a shared scratch
 * arena.
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

  /**
   * Y [N, M, OH, OW] = act(conv(X, W) + B). `W` is only read for per-call kernels. `orientation`
   * forces one product (tests and benchmarks); by default it is chosen as described above.
   */
  run(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array, act: ConvAct = 'none', orientation?: 'tall' | 'wide'): void {
    const NP = g.N * g.OH * g.OW, MperG = g.M / g.G;
    const tall = orientation ? orientation === 'tall' : NP < TALL_BELOW || 2 * NP <= MperG;
    if (tall) this.runTall(X, W, B, g, out, act);
    else this.runWide(X, W, B, g, out, act);
  }

  /**
   * Depthwise Conv (one input channel per group, G = C): tap by tap in WebAssembly (dwconv), in
   * float32, bias first. W [M, 1, KH, KW] is used as stored.
   */
  runDepthwise(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array, act: ConvAct = 'none'): void {
    const { N, C, M } = g;
    const P = g.OH * g.OW;
    const a = this.s.arena;
    const kept = this.weights ? this.constRows() : -1;
    const mark = a.mark();
    const wp = kept >= 0 ? kept : this.copyRows(W);
    const xp = a.alloc(X.length), yp = a.alloc(N * M * P), bp = B ? a.alloc(M) : 0;
    const f32 = this.s.f32();
    f32.set(X, xp >> 2);
    if (B) f32.set(B.subarray(0, M), bp >> 2);
    a.k.dwconv(xp, yp, wp, bp, N, C, M, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.sH, g.sW, g.dH, g.dW, g.pT, g.pL);
    if (act === 'relu') a.k.relu(yp, N * M * P);
    out.set(f32.subarray(yp >> 2, (yp >> 2) + N * M * P));
    a.reset(mark);
  }

  private runWide(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array, act: ConvAct): void {
    const { N, C, H, M, G, KH, KW } = g;
    const MperG = M / G, CperG = C / G;
    const K = CperG * KH * KW;
    const P = g.OH * g.OW, NP = N * P;
    const npad = padPanel(NP);
    const a = this.s.arena;
    const kept = this.weights ? this.constRows() : -1;
    const mark = a.mark();
    const wp = kept >= 0 ? kept : this.copyRows(W);
    const xp = a.alloc(X.length + PANEL);
    // A pointwise conv of one batch item multiplies X's own rows: packed as they are, no im2col.
    const direct = N === 1 && KH === 1 && KW === 1 && g.sH === 1 && g.sW === 1 && g.pT === 0 && g.pL === 0 && g.OH === H && g.OW === g.W;
    const per = Math.min(npad, Math.max(1, Math.floor(BLOCK_BYTES / (K * 32))) * PANEL);
    const bp = a.alloc(K * per);
    // im2col's row-major [K, per] block, packed into panels after it (unused by a direct conv)
    const tp = direct ? 0 : a.alloc(K * per);
    const cp = a.alloc(MperG * npad);
    const op = N === 1 && npad === P ? 0 : a.alloc(N * MperG * P);
    const f32 = this.s.f32();
    const c0 = cp >> 2;
    f32.set(X, xp >> 2);
    const k = a.k;
    const chw = H * g.W;
    // Columns in blocks whose packed B stays in L1: im2col writes a block (row by row, runs of
    // adjacent taps copied in one piece, then packed into panels), gemm reads it while
    // it is still there and streams all of A (the weights) past it. Every C element is the same
    // sum whatever the blocking.
    for (let gi = 0; gi < G; gi++) {
      const xg = xp + gi * CperG * chw * 4;
      if (B) for (let m = 0; m < MperG; m++) f32.fill(B[gi * MperG + m], c0 + m * npad, c0 + (m + 1) * npad);
      for (let j0 = 0; j0 < npad; j0 += per) {
        const cols = Math.min(per, npad - j0);
        if (direct) k.pack_rows(xg + j0 * 4, P, K, cols, bp);
        else {
          k.im2col(xg, C * chw * 4, tp, 4, per * 4, 32, N, CperG, H, g.W, KH, KW, g.OH, g.OW, g.sH, g.sW, g.dH, g.dW, g.pT, g.pL, j0, j0 + cols);
          k.pack_rows(tp, per, K, cols, bp);
        }
        k.gemm(wp + gi * MperG * K * 4, K, bp, K, cols, cp + j0 * 4, npad, MperG, B ? 1 : 0);
      }
      if (act === 'relu') k.relu(cp, MperG * npad);
      if (N === 1 && npad === P) out.set(f32.subarray(c0, c0 + MperG * P), gi * MperG * P);
      else {
        // column n·P + p of row m goes to [n, m, p]: each batch item's [M/G, P] block made contiguous in wasm memory, then copied out
        for (let n = 0; n < N; n++) k.copy_rows(cp + n * P * 4, npad, op + n * MperG * P * 4, P, MperG, P);
        copyOut(f32, op >> 2, out, N, M, MperG, P, gi);
      }
    }
    a.reset(mark);
  }

  private runTall(X: Float32Array, W: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array, act: ConvAct): void {
    const { N, C, H, M, G } = g;
    const MperG = M / G, CperG = C / G;
    const K = CperG * g.KH * g.KW;
    const P = g.OH * g.OW, NP = N * P;
    const a = this.s.arena;
    const npad = padPanel(MperG);
    const kept = this.weights ? this.constPanels(g, K) : -1;
    const mark = a.mark();
    const wp = kept >= 0 ? kept : this.packGroups(W, g, K);
    const xp = a.alloc(X.length);
    const colp = a.alloc(NP * K);
    const cp = a.alloc(NP * npad);
    // Y_gᵀ transposed back, batch item by batch item: [N, M/G, P]
    const tp = a.alloc(NP * MperG);
    const bp = B ? a.alloc(M) : 0;
    const f32 = this.s.f32();
    f32.set(X, xp >> 2);
    if (B) f32.set(B.subarray(0, M), bp >> 2);
    const t0 = tp >> 2;
    const k = a.k;
    const chw = H * g.W;
    for (let gi = 0; gi < G; gi++) {
      // colᵀ [N·P, K] row-major: one row per output position of every batch item
      k.im2col(xp + gi * CperG * chw * 4, C * chw * 4, colp, 4 * K, 4, 32 * K, N, CperG, H, g.W, g.KH, g.KW, g.OH, g.OW, g.sH, g.sW, g.dH, g.dW, g.pT, g.pL, 0, NP);
      // every row of the accumulators starts from the group's biases (lanes past M/G are not read)
      if (B) k.fill_rows(cp, npad, bp + gi * MperG * 4, NP, MperG);
      k.gemm(colp, K, wp + gi * npad * K * 4, K, npad, cp, npad, NP, B ? 1 : 0);
      if (act === 'relu') k.relu(cp, NP * npad);
      for (let n = 0; n < N; n++) k.transpose(cp + n * P * npad * 4, npad, tp + n * MperG * P * 4, P, P, MperG);
      copyOut(f32, t0, out, N, M, MperG, P, gi);
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
