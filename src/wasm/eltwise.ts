import { WasmArena, wasmModule } from './runtime.js';

/**
 * Float32 elementwise ops on the WebAssembly SIMD kernels (kernels.wat `unary`, `binop`): the
 * operands are copied into the module's memory, the kernel runs there, and the result is copied
 * out (a tensor's array cannot live in that memory: it moves when the memory grows). Every
 * function returns false, having done nothing, when the kernels are unavailable (no SIMD, a
 * Content-Security-Policy refusing WebAssembly, RNNX_WASM=0) or the tensor is below the size
 * where the copies cost more than they save; the caller then runs its TypeScript loop.
 */

/** Unary kernel codes (kernels.wat `unary`). */
export const U = {
  relu: 0, sigmoid: 1, tanh: 2, exp: 3, log: 4, sqrt: 5, neg: 6, abs: 7, reciprocal: 8, square: 9, cube: 10, powHalf: 11,
} as const;
export type UnaryCode = (typeof U)[keyof typeof U];

/** Binary kernel codes (kernels.wat `binop`). */
export const B = { add: 0, sub: 1, mul: 2, div: 3 } as const;
export type BinaryCode = (typeof B)[keyof typeof B];

/**
 * Below these sizes the TypeScript loops win (DEVELOPERS.md, "Elementwise ops on WebAssembly"):
 * the copies in and out and the call cost a fixed ~0.3 µs, which the cheap ops (Relu, Neg, Add)
 * only earn back on a few hundred elements; the transcendental ones (Exp, Log, Sigmoid, Tanh:
 * 7–20 ns an element in TypeScript) from a handful.
 */
export const MIN_CHEAP = 256;
export const MIN_TRANSCENDENTAL = 16;

let shared: WasmArena | null | undefined;
let view: Float32Array | null = null;
let iview: Int32Array | null = null;

function arena(): WasmArena | null {
  if (shared === undefined) {
    const m = wasmModule();
    shared = m ? new WasmArena(m) : null;
  }
  return shared;
}

/** The memory as float32 (re-made only when the memory has grown). */
function f32(a: WasmArena): Float32Array {
  const buf = a.k.memory.buffer;
  if (view === null || view.buffer !== buf) {
    view = new Float32Array(buf);
    iview = new Int32Array(buf);
  }
  return view;
}

function i32(a: WasmArena): Int32Array {
  f32(a);
  return iview!;
}

const transcendental = (op: UnaryCode) => op === U.sigmoid || op === U.tanh || op === U.exp || op === U.log;

/** out[i] = op(X[i]) for i < n (out may be X). */
export function unaryF32(op: UnaryCode, X: Float32Array, out: Float32Array, n = X.length): boolean {
  if (n < (transcendental(op) ? MIN_TRANSCENDENTAL : MIN_CHEAP)) return false;
  const a = arena();
  if (!a) return false;
  const mark = a.mark();
  const p = a.alloc(n);
  let m = f32(a);
  m.set(n === X.length ? X : X.subarray(0, n), p >> 2);
  a.k.unary(op, p, p, n);
  m = f32(a);
  out.set(m.subarray(p >> 2, (p >> 2) + n));
  a.reset(mark);
  return true;
}

/**
 * Broadcast arithmetic as rows (rowPlan's form): out holds rows·len floats; row r reads A from
 * element oa[r] and B from ob[r], each running along (step 1) or repeating one element (step 0).
 * An offset given as a number s means r·s (no table: len for an operand of out's shape, 0 for a
 * scalar or a row repeated on every row). out may be A or B when that operand has out's shape.
 */
export function binaryF32(op: BinaryCode, A: Float32Array, B: Float32Array, out: Float32Array, rows: number, len: number,
  sa: number, sb: number, oa: ArrayLike<number> | number, ob: ArrayLike<number> | number): boolean {
  const n = rows * len;
  // Short rows: a call per row in the kernel, and the offsets copied in, cost more than the TypeScript loop.
  if (n < MIN_CHEAP || len < 8) return false;
  const a = arena();
  if (!a) return false;
  const mark = a.mark();
  const pa = a.alloc(A.length);
  const pb = A === B ? pa : a.alloc(B.length);
  const py = a.alloc(n);
  const po = a.alloc(2 * rows);
  let m = f32(a);
  m.set(A, pa >> 2);
  if (A !== B) m.set(B, pb >> 2);
  const I = i32(a), o0 = po >> 2, o1 = o0 + rows;
  if (typeof oa === 'number') for (let r = 0, v = 0; r < rows; r++, v += oa) I[o0 + r] = v;
  else for (let r = 0; r < rows; r++) I[o0 + r] = oa[r];
  if (typeof ob === 'number') for (let r = 0, v = 0; r < rows; r++, v += ob) I[o1 + r] = v;
  else for (let r = 0; r < rows; r++) I[o1 + r] = ob[r];
  a.k.binop(op, pa, pb, py, rows, len, (sa ? 0 : 2) + (sb ? 0 : 1), po, po + 4 * rows);
  m = f32(a);
  out.set(m.subarray(py >> 2, (py >> 2) + n));
  a.reset(mark);
  return true;
}

/**
 * The block broadcast of elementwise.ts (`small` read at floor(i / inner) % block against a
 * full operand of n elements; full on the left when `fullLeft`) as rows for binaryF32.
 */
export function blockF32(op: BinaryCode, full: Float32Array, small: Float32Array, out: Float32Array, n: number, inner: number, block: number, fullLeft: boolean): boolean {
  if (n < MIN_CHEAP) return false;
  if (block === 1) {
    // a scalar: one row
    return fullLeft ? binaryF32(op, full, small, out, 1, n, 1, 0, 0, 0) : binaryF32(op, small, full, out, 1, n, 0, 1, 0, 0);
  }
  if (inner === 1) {
    // a row of `block` repeated: rows of block floats
    const rows = n / block;
    return fullLeft ? binaryF32(op, full, small, out, rows, block, 1, 1, block, 0) : binaryF32(op, small, full, out, rows, block, 1, 1, 0, block);
  }
  // small[j] repeats over runs of `inner`: one row per run, small's offset cycling through block
  if (inner < 8) return false;
  const rows = n / inner;
  const offs = cycle(rows, block);
  return fullLeft ? binaryF32(op, full, small, out, rows, inner, 1, 0, inner, offs) : binaryF32(op, small, full, out, rows, inner, 0, 1, offs, inner);
}

function cycle(rows: number, block: number): Int32Array {
  const o = new Int32Array(rows);
  for (let r = 0, j = 0; r < rows; r++) {
    o[r] = j;
    if (++j === block) j = 0;
  }
  return o;
}
