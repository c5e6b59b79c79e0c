import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, sameDims, sizeOf, type TensorData } from '../ir/tensor.js';
import { broadcastShapes, stridesOf } from './broadcast.js';
import { matmul } from './gemm-kernel.js';
import { checkType, defineOp, need, type OpContext } from './op.js';
import { viaFloat32 } from './float-io.js';
import { PackedMatrix, padPanel } from '../wasm/gemm.js';
import { WasmArena, wasmModule } from '../wasm/runtime.js';

const MATMUL_TYPES = ['float32', 'float64', 'int32', 'int64', 'uint32', 'uint64'] as const;

/**
 * The shape work of one MatMul, done once per pair of input shapes: output dims, M/K/N and each
 * broadcast batch entry's offset into A and B. Immutable once built.
 */
interface MatMulPlan {
  readonly aDims: readonly number[];
  readonly bDims: readonly number[];
  readonly outDims: readonly number[];
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly count: number;
  readonly aBatch: readonly number[];
  readonly bBatch: readonly number[];
}

function matmulPlan(a: Tensor, b: Tensor, ctx: OpContext): MatMulPlan {
  if (a.type !== b.type) throw nodeError(ctx.node, `inputs must have the same type, got ${a.type} and ${b.type}`);
  if (a.dims.length === 0 || b.dims.length === 0) throw nodeError(ctx.node, 'MatMul inputs must have rank >= 1');
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : [...a.dims];
  const bd = b.dims.length === 1 ? [b.dims[0], 1] : [...b.dims];
  const M = ad[ad.length - 2];
  const K = ad[ad.length - 1];
  const N = bd[bd.length - 1];
  if (bd[bd.length - 2] !== K) {
    throw nodeError(ctx.node, `inner dimensions differ: A is [${a.dims}], B is [${b.dims}] (expected B[-2] = ${K})`);
  }
  const batch = broadcastShapes([ad.slice(0, -2), bd.slice(0, -2)], ctx);
  const dims = [...batch, M, N];
  const outDims = dims.filter((_, i) => !((a.dims.length === 1 && i === dims.length - 2) || (b.dims.length === 1 && i === dims.length - 1)));
  return {
    aDims: a.dims, bDims: b.dims, outDims, M, K, N, count: sizeOf(batch),
    aBatch: batchOffsets(ad.slice(0, -2), batch, M * K), bBatch: batchOffsets(bd.slice(0, -2), batch, K * N),
  };
}

/** The last plan of each MatMul node (keyed by its context), for its last pair of input shapes. */
const PLANS = new WeakMap<OpContext, MatMulPlan>();

function planFor(a: Tensor, b: Tensor, ctx: OpContext): MatMulPlan {
  const last = PLANS.get(ctx);
  if (last !== undefined && a.type === b.type && sameDims(last.aDims, a.dims) && sameDims(last.bDims, b.dims)) return last;
  const plan = matmulPlan(a, b, ctx);
  PLANS.set(ctx, plan);
  return plan;
}

/** numpy.matmul: 1-D operands promoted then squeezed, batch dims broadcast. */
export function matmulTensors(a: Tensor, b: Tensor, ctx: OpContext): Tensor {
  const { M, K, N, count, aBatch, bBatch, outDims } = planFor(a, b, ctx);
  const out = allocData(a.type, count * M * N);
  if (a.type === 'float32') {
    matmulBatchF32(out as Float32Array, a.data as Float32Array, b.data as Float32Array, aBatch, bBatch, count, M, K, N);
  } else if (isBig(a.type)) {
    const A = a.data as BigInt64Array, B = b.data as BigInt64Array, C = out as BigInt64Array;
    for (let p = 0; p < count; p++)
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let s = 0n;
          for (let k = 0; k < K; k++) s += A[aBatch[p] + m * K + k] * B[bBatch[p] + k * N + n];
          C[p * M * N + m * N + n] = s;
        }
  } else {
    for (let p = 0; p < count; p++) {
      matmul(out as Float32Array, p * M * N, a.data as Float32Array, aBatch[p], b.data as Float32Array, bBatch[p], M, K, N);
    }
  }
  return new Tensor(a.type, out as TensorData, outDims);
}

/**
 * Products of at least this many multiply-adds (M·K·N per batch entry, summed) go to the SIMD GEMM
 * (both operands copied into WebAssembly memory, B read row-major by gemm_rm); smaller ones stay in
 * plain float32 loops, where the copies and calls would cost more than they save.
 */
const WASM_MIN_MACS = 256;

let shared: WasmArena | null | undefined;
function arena(): WasmArena | null {
  if (shared === undefined) {
    const m = wasmModule();
    shared = m ? new WasmArena(m) : null;
  }
  return shared;
}

function matmulBatchF32(C: Float32Array, A: Float32Array, B: Float32Array, aBatch: readonly number[], bBatch: readonly number[], count: number, M: number, K: number, N: number): void {
  if (count * M * K * N >= WASM_MIN_MACS && K > 0 && N > 0 && M > 0) {
    const w = arena();
    if (w !== null) { matmulWasm(w, C, A, B, aBatch, bBatch, count, M, K, N); return; }
  }
  for (let p = 0; p < count; p++) matmulF32(C, p * M * N, A, aBatch[p], B, bBatch[p], M, K, N);
}

/** C[count, M, N] = A·B per batch entry on the SIMD GEMM: A and B copied in once, C's rows copied out. */
function matmulWasm(w: WasmArena, C: Float32Array, A: Float32Array, B: Float32Array, aBatch: readonly number[], bBatch: readonly number[], count: number, M: number, K: number, N: number): void {
  const npad = padPanel(N);
  const mark = w.mark();
  // B's last column block reads up to npad − N floats past its last row (kept inside the arena).
  const ap = w.alloc(A.length), bp = w.alloc(B.length + npad), cp = w.alloc(M * npad);
  // One view for the whole call: memory only grows in alloc, before it.
  const f32 = w.f32();
  f32.set(A, ap >> 2);
  f32.set(B, bp >> 2);
  const k = w.k;
  for (let p = 0; p < count; p++) {
    k.gemm_rm(ap + 4 * aBatch[p], K, bp + 4 * bBatch[p], N, K, npad, cp, npad, M, 0);
    const c0 = cp >> 2, o = p * M * N;
    if (npad === N) C.set(f32.subarray(c0, c0 + M * N), o);
    else for (let m = 0; m < M; m++) C.set(f32.subarray(c0 + m * npad, c0 + m * npad + N), o + m * N);
  }
  w.reset(mark);
}

/**
 * C[M,N] = A[M,K]·B[K,N] on float32 arrays, four columns of C at a time in registers; each sum
 * runs over k in order in doubles (the bits of `matmul`). One shape of arrays, so V8 keeps it monomorphic.
 */
function matmulF32(C: Float32Array, cOff: number, A: Float32Array, aOff: number, B: Float32Array, bOff: number, M: number, K: number, N: number): void {
  for (let m = 0; m < M; m++) {
    const ar = aOff + m * K, cr = cOff + m * N;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0, b = bOff + n; k < K; k++, b += N) {
        const a = A[ar + k];
        s0 += a * B[b]; s1 += a * B[b + 1]; s2 += a * B[b + 2]; s3 += a * B[b + 3];
      }
      C[cr + n] = s0; C[cr + n + 1] = s1; C[cr + n + 2] = s2; C[cr + n + 3] = s3;
    }
    for (; n < N; n++) {
      let s = 0;
      for (let k = 0, b = bOff + n; k < K; k++, b += N) s += A[ar + k] * B[b];
      C[cr + n] = s;
    }
  }
}

/** Flat offset of each broadcast batch entry into an operand with batch dims `dims`. */
function batchOffsets(dims: readonly number[], batch: readonly number[], matSize: number): number[] {
  const count = sizeOf(batch);
  const strides = stridesOf(dims);
  const offs = new Array<number>(count);
  for (let p = 0; p < count; p++) {
    let rem = p;
    let off = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      const i = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      const k = d - (batch.length - dims.length);
      if (k >= 0 && dims[k] !== 1) off += i * strides[k];
    }
    offs[p] = off * matSize;
  }
  return offs;
}

// float16/bfloat16 run in float32 (viaFloat32), wrapped here so the MatMul+Add fusion sees this identity.
export const MatMul = viaFloat32(defineOp({
  // A constant float32 2-D B (a Linear weight) is packed once for the SIMD GEMM.
  parse: (ctx) => {
    const B = ctx.constant?.(1);
    return B && B.type === 'float32' && B.dims.length === 2 ? PackedMatrix.create(B.data as Float32Array, B.dims[0], B.dims[1], false, ctx.pool) : null;
  },
  run(inputs, packed, ctx) {
    const a = need(inputs, 0, ctx, 'A');
    const b = need(inputs, 1, ctx, 'B');
    checkType(a, MATMUL_TYPES, 0, ctx, 'A');
    if (packed && a.type === 'float32' && a.dims.length >= 2 && a.dims[a.dims.length - 1] === packed.K) {
      const M = a.size / packed.K;
      const out = allocData('float32', M * packed.N) as Float32Array; // from the run's arena, not a fresh off-heap array per call
      packed.multiply(a.data as Float32Array, M, out);
      return [new Tensor('float32', out, [...a.dims.slice(0, -1), packed.N])];
    }
    return [matmulTensors(a, b, ctx)];
  },
}));

/** Y = alpha · op(A) · op(B) + beta · C, C broadcast to [M, N]. */
export const Gemm = defineOp({
  parse: (ctx, a) => ({
    // A constant float32 B (PyTorch's Linear: transB=1) is packed once for the SIMD GEMM.
    packed: (() => {
      const B = ctx.constant?.(1);
      const tB = a.int('transB', 0) !== 0;
      return B && B.type === 'float32' && B.dims.length === 2
        ? PackedMatrix.create(B.data as Float32Array, tB ? B.dims[1] : B.dims[0], tB ? B.dims[0] : B.dims[1], tB, ctx.pool)
        : null;
    })(),
    alpha: a.float('alpha', 1),
    beta: a.float('beta', 1),
    transA: a.int('transA', 0) !== 0,
    transB: a.int('transB', 0) !== 0,
    broadcast: a.int('broadcast', 1), // opset < 7 only; numpy-style broadcasting is applied either way
  }),
  run(inputs, p, ctx) {
    const a = need(inputs, 0, ctx, 'A');
    const b = need(inputs, 1, ctx, 'B');
    const c = inputs[2];
    checkType(a, ['float32', 'float64', 'int32', 'uint32'], 0, ctx, 'A');
    if (a.type !== b.type) throw nodeError(ctx.node, `inputs must have the same type, got ${a.type} and ${b.type}`);
    if (a.dims.length !== 2 || b.dims.length !== 2) throw nodeError(ctx.node, `A and B must be 2-D, got [${a.dims}] and [${b.dims}]`);
    const [M, K] = p.transA ? [a.dims[1], a.dims[0]] : [a.dims[0], a.dims[1]];
    const [K2, N] = p.transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
    if (K !== K2) throw nodeError(ctx.node, `inner dimensions differ: op(A) is [${M},${K}], op(B) is [${K2},${N}]`);
    const A = p.transA ? transpose2d(a.data as Float32Array, a.dims[0], a.dims[1]) : (a.data as Float32Array);
    // PyTorch's Linear (alpha = beta = 1, C a row of N or absent): the bias is added in the SIMD
    // GEMM's epilogue, straight into the one output.
    const noC = c === undefined || p.beta === 0;
    const cRow = !noC && p.beta === 1 && c.type === 'float32' && c.size === N && c.dims.length <= 2 && c.dims[c.dims.length - 1] === N;
    if (p.packed && a.type === 'float32' && p.packed.K === K && p.alpha === 1 && (noC || cRow)) {
      const out = allocData('float32', M * N) as Float32Array;
      p.packed.multiply(A instanceof Float32Array ? A : Float32Array.from(A), M, out, cRow ? (c.data as Float32Array) : undefined);
      return [new Tensor('float32', out, [M, N])];
    }
    let acc: Float32Array | Float64Array;
    if (p.packed && a.type === 'float32' && p.packed.K === K) {
      acc = new Float32Array(M * N);
      p.packed.multiply(A instanceof Float32Array ? A : Float32Array.from(A), M, acc);
    } else {
      const B = p.transB ? transpose2d(b.data as Float32Array, b.dims[0], b.dims[1]) : (b.data as Float32Array);
      acc = new Float64Array(M * N);
      matmul(acc, 0, A, 0, B, 0, M, K, N);
    }
    const out = allocData(a.type, M * N) as Float32Array;
    if (c !== undefined && p.beta !== 0) {
      if (c.type !== a.type) throw nodeError(ctx.node, `input 2 (C): expected ${a.type}, got ${c.type}`);
      const cd = c.dims;
      const ok = cd.length <= 2 && cd.every((d, i) => d === 1 || d === [M, N][i + 2 - cd.length]);
      if (!ok) throw nodeError(ctx.node, `input 2 (C): shape [${cd}] does not broadcast to [${M},${N}]`);
      const C = c.data as Float32Array;
      const rs = cd.length === 2 && cd[0] !== 1 ? (cd[1] === 1 ? 1 : N) : 0;
      const cs = cd.length >= 1 && cd[cd.length - 1] !== 1 ? 1 : 0;
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[m * N + n] = p.alpha * acc[m * N + n] + p.beta * C[m * rs + n * cs];
    } else {
      for (let i = 0; i < M * N; i++) out[i] = p.alpha * acc[i];
    }
    return [new Tensor(a.type, out, [M, N])];
  },
});

export function transpose2d<T extends { length: number; [i: number]: number }>(x: T, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}
