import { softmaxF32 } from './eltwise.js';

/**
 * Softmax or LogSoftmax over each of `rows` contiguous rows of n float32 values with the SIMD
 * kernel (rows of any length: one copy in, one copy out; see eltwise.ts). Null when WebAssembly
 * SIMD is unavailable.
 */
export function softmaxRows(X: Float32Array, rows: number, n: number, log: boolean, into?: Float32Array): Float32Array | null {
  const out = into ?? new Float32Array(rows * n);
  return softmaxF32(X, rows, n, log, out) ? out : null;
}
