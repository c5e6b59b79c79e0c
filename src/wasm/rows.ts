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
 * kernel (rows padded to a multiple of 4 with -inf). Null when WebAssembly SIMD is unavailable.
 */
export function softmaxRows(X: Float32Array, rows: number, n: number, log: boolean, into?: Float32Array): Float32Array | null {
  const a = arena();
  if (!a) return null;
  const np = Math.ceil(n / 4) * 4;
  const out = into ?? new Float32Array(rows * n);
  const mark = a.mark();
  const chunk = Math.max(1, Math.min(rows, Math.floor((1 << 22) / np)));
  const xp = a.alloc(chunk * np), yp = a.alloc(chunk * np);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    let f32 = a.f32();
    if (np === n) f32.set(X.subarray(r0 * n, (r0 + m) * n), xp >> 2);
    else {
      for (let r = 0; r < m; r++) {
        const o = (xp >> 2) + r * np;
        f32.set(X.subarray((r0 + r) * n, (r0 + r + 1) * n), o);
        f32.fill(-Infinity, o + n, o + np);
      }
    }
    a.k.softmax_rows(xp, yp, m, np, log ? 1 : 0);
    f32 = a.f32();
    if (np === n) out.set(f32.subarray(yp >> 2, (yp >> 2) + m * n), r0 * n);
    else for (let r = 0; r < m; r++) out.set(f32.subarray((yp >> 2) + r * np, (yp >> 2) + r * np + n), (r0 + r) * n);
  }
  a.reset(mark);
  return out;
}
