import { WasmArena, wasmModule } from './runtime.js';
import type { GemmPool } from './threads.js';

/** GEMM panels are 8 columns wide; padded columns are zero. */
export const PANEL = 8;
export const padPanel = (n: number) => Math.ceil(n / PANEL) * PANEL;

/** Packs B[K, N] into 8-column panels at `ptr` (panel p: B[k, 8p..8p+7] for every k); `get(k, n)` reads B. */
export function packPanels(f32: Float32Array, ptr: number, K: number, N: number, get: (k: number, n: number) => number): void {
  const base = ptr >> 2;
  const panels = padPanel(N) / PANEL;
  for (let p = 0; p < panels; p++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < PANEL; j++) {
        const n = p * PANEL + j;
        f32[base + (p * K + k) * PANEL + j] = n < N ? get(k, n) : 0;
      }
}

/**
 * A constant right-hand matrix B [K, N] packed once into WebAssembly memory, for MatMul / Gemm
 * against it: C[M, N] = A[M, K]·B with the SIMD GEMM.
 */
export class PackedMatrix {
  private readonly arena: WasmArena;
  private readonly bp: number;
  private readonly npad: number;

  private readonly g: Pick<GemmPool, 'gemm'>;

  private constructor(module: WebAssembly.Module | null, readonly K: number, readonly N: number, get: (k: number, n: number) => number, pool?: GemmPool) {
    this.arena = pool ? pool.arena : new WasmArena(module!);
    this.g = pool ?? this.arena.k;
    this.npad = padPanel(N);
    this.bp = this.arena.alloc(this.npad * K);
    packPanels(this.arena.f32(), this.bp, K, N, get);
  }

  /**
   * B given as [K, N] (transposed=false) or as Bᵀ [N, K]; null when the SIMD kernels are
   * unavailable. With a pool, B lives in its shared memory and products use both threads.
   */
  static create(data: ArrayLike<number>, K: number, N: number, transposed: boolean, pool?: GemmPool): PackedMatrix | null {
    const m = wasmModule();
    if ((!m && !pool) || K === 0 || N === 0) return null;
    return new PackedMatrix(m, K, N, transposed ? (k, n) => data[n * K + k] : (k, n) => data[k * N + n], pool);
  }

  /**
   * out[M, N] = A[M, K]·B (A row-major, float32), plus `bias` [N] on every row when given: the
   * bias is added in WebAssembly memory before the copy out, the same sum (A·B)[m, n] + bias[n]
   * a separate Add would make.
   */
  multiply(A: Float32Array, M: number, out: Float32Array, bias?: Float32Array): void {
    const { K, N, npad } = this;
    const a = this.arena;
    const mark = a.mark();
    // Rows in chunks so scratch memory stays bounded.
    const chunk = Math.max(4, Math.min(M, Math.floor((1 << 22) / (K + npad))));
    const ap = a.alloc(chunk * K), cp = a.alloc(chunk * npad);
    const bp = bias ? a.alloc(npad) : 0;
    if (bias) a.f32().set(bias.subarray(0, N), bp >> 2);
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const rows = Math.min(chunk, M - m0);
      let f32 = a.f32();
      f32.set(A.subarray(m0 * K, (m0 + rows) * K), ap >> 2);
      this.g.gemm(ap, K, this.bp, K, npad, cp, npad, rows, 0);
      if (bias) a.k.add_bias(cp, bp, rows, npad, npad);
      f32 = a.f32();
      const c0 = cp >> 2;
      if (npad === N) out.set(f32.subarray(c0, c0 + rows * N), m0 * N);
      else for (let r = 0; r < rows; r++) out.set(f32.subarray(c0 + r * npad, c0 + r * npad + N), (m0 + r) * N);
    }
    a.reset(mark);
  }
}
