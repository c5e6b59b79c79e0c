import { WasmArena, wasmModule, type Kernels } from './runtime.js';

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
  relu: 0, sigmoid: 1, tanh: 2, exp: 3, log: 4, sqrt: 5, neg: 6, abs: 7, reciprocal: 8, square: 9, cube: 10, powHalf: 11, clip: 12, leaky: 13,
} as const;
export type UnaryCode = (typeof U)[keyof typeof U];

/** Binary kernel codes (kernels.wat `binop`). */
export const B = { add: 0, sub: 1, mul: 2, div: 3, prelu: 4 } as const;
export type BinaryCode = (typeof B)[keyof typeof B];

/**
 * Below these sizes the TypeScript loops win (DEVELOPERS.md, "Elementwise ops on WebAssembly
 * SIMD"): a call costs a fixed ~0.1 µs (unary) or ~0.25 µs (binary) for the copies in and out,
 * which the cheap ops (Relu, Neg, Sqrt, Add, …; ~2–4 ns an element in TypeScript) earn back
 * from 64 (unary) or 128 (binary) elements, and the transcendental ones (Exp, Log, σ, tanh;
 * 7–20 ns an element through Math) from 8.
 */
export const MIN_UNARY = 64;
export const MIN_BINARY = 128;
export const MIN_TRANSCENDENTAL = 8;

/**
 * The module's memory never shrinks, so it is kept small: unary ops run in chunks of this many
 * floats, and binary ops whose operands and result together exceed 3 chunks keep the loops
 * (memory-bound there anyway).
 */
export const CHUNK = 1 << 20;

/**
 * One instance of its own, used only here, with a fixed layout instead of an allocator: operands
 * from byte 16 on, each rounded up to whole vectors plus one spare. The memory grows only in
 * room(), so the views made there stay valid across kernel calls (no re-reading after each call),
 * and the window copied out is a cached subarray per (offset, length).
 */
interface Mem { readonly k: Kernels; f32: Float32Array; i32: Int32Array; bytes: number; windows: Map<number, Float32Array> }
let mem: Mem | null | undefined;

function instance(): Mem | null {
  if (mem === undefined) {
    const m = wasmModule();
    if (!m) mem = null;
    else {
      const k = new WasmArena(m).k;
      mem = { k, f32: new Float32Array(k.memory.buffer), i32: new Int32Array(k.memory.buffer), bytes: k.memory.buffer.byteLength, windows: new Map() };
    }
  }
  return mem;
}

/** Makes the memory at least `bytes` long. */
function room(w: Mem, bytes: number): void {
  if (bytes <= w.bytes) return;
  w.k.memory.grow(Math.ceil((bytes - w.bytes) / 65536));
  const buf = w.k.memory.buffer;
  w.f32 = new Float32Array(buf);
  w.i32 = new Int32Array(buf);
  w.bytes = buf.byteLength;
  w.windows.clear();
}

/** The byte size of an operand of n floats in the layout: whole vectors, plus one for overreads. */
const slot = (n: number) => (((n + 3) >> 2) + 1) << 4;

/** w.f32[ptr/4 .. ptr/4 + n) as a cached view. */
function window(w: Mem, ptr: number, n: number): Float32Array {
  if (n >= 1 << 24) return w.f32.subarray(ptr >> 2, (ptr >> 2) + n);
  const key = ptr * (1 << 24) + n;
  let v = w.windows.get(key);
  if (v === undefined) {
    if (w.windows.size > 256) w.windows.clear();
    v = w.f32.subarray(ptr >> 2, (ptr >> 2) + n);
    w.windows.set(key, v);
  }
  return v;
}

const transcendental = (op: UnaryCode) => op === U.sigmoid || op === U.tanh || op === U.exp || op === U.log;

/** out[i] = op(X[i]) for i < n (out may be X); p0, p1: Clip's bounds, LeakyRelu's slope. */
export function unaryF32(op: UnaryCode, X: Float32Array, out: Float32Array, n = X.length, p0 = 0, p1 = 0): boolean {
  if (n < (transcendental(op) ? MIN_TRANSCENDENTAL : MIN_UNARY)) return false;
  const w = instance();
  if (!w) return false;
  const p = 16;
  // in chunks, so the memory stays at most CHUNK floats (it never shrinks)
  const m = Math.min(n, CHUNK);
  room(w, p + slot(m));
  for (let i = 0; i < n; i += m) {
    const k = Math.min(m, n - i);
    w.f32.set(i === 0 && k === X.length ? X : X.subarray(i, i + k), p >> 2);
    w.k.unary(op, p, p, k, p0, p1);
    out.set(window(w, p, k), i);
  }
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
  if (n < MIN_BINARY || len < 8 || A.length + B.length + n > 3 * CHUNK) return false;
  const w = instance();
  if (!w) return false;
  const pa = 16;
  const pb = A === B ? pa : pa + slot(A.length);
  const py = pb + (A === B ? slot(A.length) : slot(B.length));
  const po = py + slot(n);
  room(w, po + slot(2 * rows));
  const F = w.f32;
  F.set(A, pa >> 2);
  if (A !== B) F.set(B, pb >> 2);
  const I = w.i32, o0 = po >> 2, o1 = o0 + rows;
  if (typeof oa === 'number') for (let r = 0, v = 0; r < rows; r++, v += oa) I[o0 + r] = v;
  else for (let r = 0; r < rows; r++) I[o0 + r] = oa[r];
  if (typeof ob === 'number') for (let r = 0, v = 0; r < rows; r++, v += ob) I[o1 + r] = v;
  else for (let r = 0; r < rows; r++) I[o1 + r] = ob[r];
  w.k.binop(op, pa, pb, py, rows, len, (sa ? 0 : 2) + (sb ? 0 : 1), po, po + 4 * rows);
  out.set(window(w, py, n));
  return true;
}

/**
 * The block broadcast of elementwise.ts (`small` read at floor(i / inner) % block against a
 * full operand of n elements; full on the left when `fullLeft`) as rows for binaryF32.
 */
export function blockF32(op: BinaryCode, full: Float32Array, small: Float32Array, out: Float32Array, n: number, inner: number, block: number, fullLeft: boolean): boolean {
  if (n < MIN_BINARY) return false;
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

/**
 * Softmax or LogSoftmax over each of `rows` contiguous rows of n float32 values (kernels.wat
 * `softmax_rows`), into `out` (which may be X). Rows in chunks of at most CHUNK floats; y apart
 * from x, since the kernel's whole-vector stores spill up to 3 floats past each row.
 */
export function softmaxF32(X: Float32Array, rows: number, n: number, log: boolean, out: Float32Array): boolean {
  const w = instance();
  if (!w) return false;
  const chunk = Math.max(1, Math.min(rows, Math.floor(CHUNK / n)));
  const px = 16, py = px + slot(chunk * n);
  room(w, py + slot(chunk * n));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    w.f32.set(r0 === 0 && m * n === X.length ? X : X.subarray(r0 * n, (r0 + m) * n), px >> 2);
    w.k.softmax_rows(px, py, m, n, log ? 1 : 0);
    out.set(window(w, py, m * n), r0 * n);
  }
  return true;
}
