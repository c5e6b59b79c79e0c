import { WasmArena, wasmModule } from './runtime.js';

let shared: WasmArena | null | undefined;

function arena(): WasmArena | null {
  if (shared === undefined) {
    const m = wasmModule();
    shared = m ? new WasmArena(m) : null;
  }
  return shared;
}

/**
 * Softmax or LogSoftmax over each of `rows` contiguous rows of n float32 values with the SIMD
 * kernel (rows of any length: one copy in, one copy out). Null when WebAssembly SIMD is unavailable.
 */
export function softmaxRows(X: Float32Array, rows: number, n: number, log: boolean, into?: Float32Array): Float32Array | null {
  const a = arena();
  if (!a) return null;
  const out = into ?? new Float32Array(rows * n);
  const mark = a.mark();
  const chunk = Math.max(1, Math.min(rows, Math.floor((1 << 22) / n)));
  // y apart from x: the kernel's whole-vector stores spill up to 3 floats past each row
  const xp = a.alloc(chunk * n), yp = a.alloc(chunk * n);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    let f32 = a.f32();
    f32.set(X.subarray(r0 * n, (r0 + m) * n), xp >> 2);
    a.k.softmax_rows(xp, yp, m, n, log ? 1 : 0);
    f32 = a.f32();
    out.set(f32.subarray(yp >> 2, (yp >> 2) + m * n), r0 * n);
  }
  a.reset(mark);
  return out;
}
