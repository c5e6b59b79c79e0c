// Element copies for the data-movement ops (Concat, Slice, Gather, ScatterND) without per-element
// BigInt boxes: an int64/uint64 array is moved as its 32-bit halves.
import type { TensorData } from '../ir/tensor.js';

export type Words = { length: number; [i: number]: unknown };
type Typed = Float32Array; // any typed array has the same set/subarray shape

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The array to copy through and the number of its slots per element (2 for 64-bit integers). */
export function wordsOf(data: TensorData): { a: Words; w: number } {
  if ((data instanceof BigInt64Array || data instanceof BigUint64Array) && LITTLE_ENDIAN) {
    return { a: new Int32Array(data.buffer, data.byteOffset, data.length * 2) as unknown as Words, w: 2 };
  }
  return { a: data as unknown as Words, w: 1 };
}

/** Runs at least this long go through TypedArray.set (one call beats a loop past ~32 slots). */
const SET_MIN = 32;

/** dst[d .. d+n) = src[s .. s+n), in slots of wordsOf. */
export function copySlots(dst: Words, d: number, src: Words, s: number, n: number): void {
  if (n >= SET_MIN && ArrayBuffer.isView(dst)) {
    (dst as unknown as Typed).set((src as unknown as Typed).subarray(s, s + n), d);
    return;
  }
  // Short runs: one loop per array type, so each stays monomorphic (Float32Array for float32,
  // Int32Array for int32 and the halves of int64).
  if (dst instanceof Float32Array) copyF32(dst, d, src as Float32Array, s, n);
  else if (dst instanceof Int32Array) copyI32(dst, d, src as Int32Array, s, n);
  else for (let k = 0; k < n; k++) dst[d + k] = src[s + k];
}

function copyF32(dst: Float32Array, d: number, src: Float32Array, s: number, n: number): void {
  for (let k = 0; k < n; k++) dst[d + k] = src[s + k];
}

function copyI32(dst: Int32Array, d: number, src: Int32Array, s: number, n: number): void {
  for (let k = 0; k < n; k++) dst[d + k] = src[s + k];
}

/**
 * The elements of an int64/int32 index tensor as numbers, read from the 32-bit halves (no BigInt
 * per element); a value beyond ±2^53 becomes an inexact number and is caught by range checks.
 */
export function indexNumbers(data: TensorData): Float64Array {
  const n = data.length;
  const out = new Float64Array(n);
  if (data instanceof BigInt64Array && LITTLE_ENDIAN) {
    const h = new Int32Array(data.buffer, data.byteOffset, n * 2);
    for (let i = 0; i < n; i++) out[i] = h[2 * i + 1] * 4294967296 + (h[2 * i] >>> 0);
  } else {
    for (let i = 0; i < n; i++) out[i] = Number(data[i]);
  }
  return out;
}

/**
 * out[k·run .. (k+1)·run) = x[offs[k] .. offs[k]+run) for every k, in elements (a Slice, a Gather
 * or a Transpose whose rows are contiguous). float32 runs in its own loop; other types in slots.
 */
export function copyRuns(out: TensorData, x: TensorData, offs: Int32Array, run: number): void {
  if (out instanceof Float32Array) { copyRunsF32(out, x as Float32Array, offs, run); return; }
  const X = wordsOf(x), O = wordsOf(out).a, w = X.w;
  for (let k = 0; k < offs.length; k++) copySlots(O, k * run * w, X.a, offs[k] * w, run * w);
}

function copyRunsF32(O: Float32Array, X: Float32Array, offs: Int32Array, run: number): void {
  const rows = offs.length;
  if (run >= SET_MIN) {
    for (let k = 0; k < rows; k++) O.set(X.subarray(offs[k], offs[k] + run), k * run);
  } else if (run === 1) {
    for (let k = 0; k < rows; k++) O[k] = X[offs[k]];
  } else {
    for (let k = 0, o = 0; k < rows; k++) for (let j = 0, s = offs[k]; j < run; j++) O[o++] = X[s + j];
  }
}
