/**
 * Plain TypeScript matrix products, the reference path. Dot products accumulate in doubles
 * (faster and more accurate in JS than rounding each step with Math.fround).
 */
type Arr = { [i: number]: number; length: number };

/** C[M,N] (+)= A[M,K] · B[K,N]; offsets let batched callers avoid copies. */
export function matmul(
  C: Arr, cOff: number,
  A: Arr, aOff: number,
  B: Arr, bOff: number,
  M: number, K: number, N: number,
  accumulate = false,
): void {
  const row = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    if (accumulate) for (let n = 0; n < N; n++) row[n] = C[cOff + m * N + n];
    else row.fill(0);
    const ar = aOff + m * K;
    for (let k = 0; k < K; k++) {
      const a = A[ar + k];
      const br = bOff + k * N;
      for (let n = 0; n < N; n++) row[n] += a * B[br + n];
    }
    const cr = cOff + m * N;
    for (let n = 0; n < N; n++) C[cr + n] = row[n];
  }
}

/** C[M,N] = A[M,K] · Bᵀ where B is [N,K] (rows of B are contiguous: dot products). */
export function matmulTransB(
  C: Arr, cOff: number,
  A: Arr, aOff: number,
  B: Arr, bOff: number,
  M: number, K: number, N: number,
): void {
  for (let m = 0; m < M; m++) {
    const ar = aOff + m * K;
    for (let n = 0; n < N; n++) {
      const br = bOff + n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ar + k] * B[br + k];
      C[cOff + m * N + n] = s;
    }
  }
}
