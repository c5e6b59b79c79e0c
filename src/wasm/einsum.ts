import { padPanel } from './gemm.js';
import { WasmArena, wasmModule } from './runtime.js';

/** Offsets of every multi-index over `sizes` (row-major order) under `strides`. */
function offsets(sizes: readonly number[], strides: readonly number[]): Int32Array {
  const n = sizes.reduce((a, b) => a * b, 1);
  const out = new Int32Array(n);
  let count = 1;
  // Build from the last letter backwards: out[i·size + j] = out[i] + j·stride, growing the table.
  const tmp = new Int32Array(n);
  out[0] = 0;
  for (let d = sizes.length - 1; d >= 0; d--) {
    const s = sizes[d], st = strides[d];
    // existing `count` entries describe letters d+1..; new index = j·count + i (j the slower letter)
    for (let j = 0; j < s; j++) for (let i = 0; i < count; i++) tmp[j * count + i] = out[i] + j * st;
    count *= s;
    out.set(tmp.subarray(0, count));
  }
  return out;
}

/** Strides of each letter of `want` in a tensor whose axes carry `letters` (0 when absent). */
function letterStrides(letters: readonly string[], dims: readonly number[], want: readonly string[]): number[] {
  const st = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= dims[i];
  }
  return want.map((l) => {
    const i = letters.indexOf(l);
    return i < 0 ? 0 : st[i];
  });
}

interface Plan {
  readonly M: number; readonly N: number; readonly K: number; readonly P: number;
  readonly aB: Int32Array; readonly aM: Int32Array; readonly aK: Int32Array;
  readonly bB: Int32Array; readonly bK: Int32Array; readonly bN: Int32Array;
  readonly yB: Int32Array; readonly yM: Int32Array; readonly yN: Int32Array;
  /** Byte offset of B packed for every batch item, when B is a constant (filled on first use). */
  packedB: number;
}

/** Batch, row, column and summed letters with their offset tables, or null when not a plain batched product. */
function makePlan(aDims: readonly number[], bDims: readonly number[], o: EinsumOperands): Plan | null {
  const { a, b, out: y, size } = o;
  if (new Set(a).size !== a.length || new Set(b).size !== b.length || new Set(y).size !== y.length) return null;
  if (a.some((l, i) => aDims[i] !== size.get(l)) || b.some((l, i) => bDims[i] !== size.get(l))) return null;
  if (a.some((l) => !y.includes(l) && !b.includes(l)) || b.some((l) => !y.includes(l) && !a.includes(l))) return null;
  if (y.some((l) => !a.includes(l) && !b.includes(l))) return null;
  const batch = y.filter((l) => a.includes(l) && b.includes(l));
  const rows = y.filter((l) => a.includes(l) && !b.includes(l));
  const cols = y.filter((l) => b.includes(l) && !a.includes(l));
  const sum = a.filter((l) => b.includes(l) && !y.includes(l));
  const sz = (ls: readonly string[]) => ls.map((l) => size.get(l)!);
  const prod = (ls: readonly string[]) => sz(ls).reduce((p, q) => p * q, 1);
  const M = prod(rows), N = prod(cols), K = prod(sum), P = prod(batch);
  if (M === 0 || N === 0 || K === 0 || P === 0) return null;
  const yDims = sz(y);
  const t = (ls: readonly string[], dims: readonly number[], want: readonly string[]) => offsets(sz(want), letterStrides(ls, dims, want));
  return {
    M, N, K, P,
    aB: t(a, aDims, batch), aM: t(a, aDims, rows), aK: t(a, aDims, sum),
    bB: t(b, bDims, batch), bK: t(b, bDims, sum), bN: t(b, bDims, cols),
    yB: t(y, yDims, batch), yM: t(y, yDims, rows), yN: t(y, yDims, cols), packedB: -1,
  };
}

export interface EinsumOperands {
  /** Letters of each axis of A, B and the output (ellipsis already expanded). */
  readonly a: readonly string[];
  readonly b: readonly string[];
  readonly out: readonly string[];
  readonly size: ReadonlyMap<string, number>;
}

/**
 * Two-operand float32 Einsum as batched GEMMs: letters in A, B and the output are batch, in A
 * and the output (not B) rows, in B and the output (not A) columns, in A and B only summed. Each
 * batch item gathers A into rows [M, K] and packs B [K, N] into panels in WebAssembly memory, runs
 * the SIMD GEMM and scatters C into the output layout. Returns false (caller uses the reference)
 * for anything else: a letter repeated inside an operand, a letter summed within one operand only,
 * broadcast size-1 axes.
 */
export class EinsumGemm {
  private arena: WasmArena | null = null;
  private view: Float32Array | null = null;

  private f32(): Float32Array {
    if (!this.view || this.view.buffer !== this.arena!.k.memory.buffer) this.view = this.arena!.f32();
    return this.view;
  }

  static create(): EinsumGemm | null {
    return wasmModule() ? new EinsumGemm() : null;
  }

  /** Plans by operand shapes (the equation is the node's): the letter analysis runs once per shape. */
  private readonly plans = new Map<string, Plan | null>();

  /** out = einsum(A, B); `constantB`: B never changes for this node, so it is packed once per shape. */
  run(A: Float32Array, aDims: readonly number[], B: Float32Array, bDims: readonly number[], o: EinsumOperands, out: Float32Array, constantB = false): boolean {
    const key = `${aDims}|${bDims}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = makePlan(aDims, bDims, o);
      if (this.plans.size > 64) this.plans.clear();
      this.plans.set(key, plan);
    }
    if (!plan) return false;
    const { M, N, K, P, aB, aM, aK, bB, bK, bN, yB, yM, yN } = plan;
    if (!this.arena) this.arena = new WasmArena(wasmModule()!);
    const npad = padPanel(N);
    const ar = this.arena;
    const kept = constantB && plan.packedB < 0;
    if (kept) plan.packedB = ar.alloc(P * npad * K);
    const mark = ar.mark();
    const ap = ar.alloc(M * K), cp = ar.alloc(M * npad);
    const bp0 = constantB ? plan.packedB : ar.alloc(npad * K);
    const f32 = this.f32();
    const a0 = ap >> 2, c0 = cp >> 2;
    for (let p = 0; p < P; p++) {
      const ab = aB[p];
      for (let m = 0; m < M; m++) {
        const am = ab + aM[m], r = a0 + m * K;
        for (let k = 0; k < K; k++) f32[r + k] = A[am + aK[k]];
      }
      const bb = bB[p];
      const bp = constantB ? bp0 + p * npad * K * 4 : bp0;
      // B [K, N] into 8-column panels (packPanels' layout, inlined: a closure per element is slow)
      if (!constantB || kept) {
        for (let n0 = 0, q = bp >> 2; n0 < npad; n0 += 8)
          for (let k = 0; k < K; k++) {
            const bk = bb + bK[k];
            for (let j = 0; j < 8; j++, q++) f32[q] = n0 + j < N ? B[bk + bN[n0 + j]] : 0;
          }
      }
      ar.k.gemm(ap, K, bp, K, npad, cp, npad, M, 0);
      const yb = yB[p];
      for (let m = 0; m < M; m++) {
        const ym = yb + yM[m], r = c0 + m * npad;
        for (let n = 0; n < N; n++) out[ym + yN[n]] = f32[r + n];
      }
    }
    ar.reset(mark);
    return true;
  }
}
