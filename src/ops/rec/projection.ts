/**
 * LSTM with projection through ONNX. ONNX's LSTM has no projection, so an LSTMP layer travels
 * as an LSTM node whose recurrent weight is folded, R = W_hh·W_hr ([4H, H]), followed by a MatMul
 * by W_hrᵀ on Y and Y_h; a projected initial h0 enters as h0·pinv(W_hr)ᵀ. All in float64.
 */
type Arr = ArrayLike<number>;

/** C[M,N] = A[M,K]·B[K,N] in float64. */
function mul(A: Arr, B: Arr, M: number, K: number, N: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      const a = A[m * K + k];
      for (let n = 0; n < N; n++) C[m * N + n] += a * B[k * N + n];
    }
  return C;
}

function transpose(A: Arr, M: number, N: number): Float64Array {
  const T = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) T[n * M + m] = A[m * N + n];
  return T;
}

/** Inverse of a symmetric positive definite [n, n] matrix by Gauss-Jordan with partial pivoting. */
function invert(A: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(A);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
    if (Math.abs(a[p * n + c]) < 1e-300) throw new Error('projection weight W_hr is rank deficient');
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        [a[c * n + k], a[p * n + k]] = [a[p * n + k], a[c * n + k]];
        [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k], inv[c * n + k]];
      }
    }
    const d = a[c * n + c];
    for (let k = 0; k < n; k++) { a[c * n + k] /= d; inv[c * n + k] /= d; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c];
      if (f === 0) continue;
      for (let k = 0; k < n; k++) { a[r * n + k] -= f * a[c * n + k]; inv[r * n + k] -= f * inv[c * n + k]; }
    }
  }
  return inv;
}

/** pinv(W_hr) [H, P] of a full-row-rank W_hr [P, H]: W_hrᵀ·(W_hr·W_hrᵀ)⁻¹. */
export function pinvRows(Whr: Arr, P: number, H: number): Float64Array {
  const Wt = transpose(Whr, P, H); // [H, P]
  const gram = mul(Whr, Wt, P, H, P); // [P, P]
  return mul(Wt, invert(gram, P), H, P, P);
}

/** R = W_hh·W_hr: [4H, P]·[P, H] -> [4H, H]. */
export function foldProjection(Whh: Arr, Whr: Arr, rows: number, P: number, H: number): Float64Array {
  return mul(Whh, Whr, rows, P, H);
}

/** W_hh = R·pinv(W_hr): [4H, H]·[H, P] -> [4H, P]. */
export function unfoldProjection(R: Arr, Whr: Arr, rows: number, P: number, H: number): Float64Array {
  return mul(R, pinvRows(Whr, P, H), rows, H, P);
}

/** True when W_hr·Mᵀ ≈ I_P for M [P, H]: h0·M maps a projected state back to one W_hr sends to h0. */
export function isRightInverse(Whr: Arr, M: Arr, P: number, H: number, tol = 1e-4): boolean {
  const I = mul(Whr, transpose(M, P, H), P, H, P);
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) if (Math.abs(I[i * P + j] - (i === j ? 1 : 0)) > tol) return false;
  return true;
}

export { transpose as transposeMatrix };
