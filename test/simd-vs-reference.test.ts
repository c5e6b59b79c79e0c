// The WebAssembly SIMD kernels against the plain TypeScript reference they must agree with.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/ir/tensor.js';
import { FastLayer } from '../src/ops/rec/fast.js';
import { runLayerReference, type RecOutputs } from '../src/ops/rec/kernels.js';
import type { DirectionParams, RecMode, RecurrentLayer } from '../src/ops/rec/layer.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { PackedMatrix } from '../src/wasm/gemm.js';
import { softmaxRows } from '../src/wasm/rows.js';
import { wasmModule } from '../src/wasm/runtime.js';
import { rng } from './helpers.js';

/** float32 SIMD (rational tanh/sigmoid, float32 sums) vs float64 reference over T steps. */
const SIMD_TOL: Tolerance = { rtol: 1e-4, atol: 2e-6 };

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };

function randomLayer(r: () => number, mode: RecMode, I: number, H: number, D: 1 | 2, layout: 0 | 1, P?: number): RecurrentLayer {
  const u = (n: number, s = 0.5) => Float32Array.from({ length: n }, () => (2 * r() - 1) * s);
  const G = GATES[mode] * H;
  const S = P ?? H;
  const params: DirectionParams[] = Array.from({ length: D }, () => ({
    weightIh: u(G * I), weightHh: u(G * S), biasIh: u(G), biasHh: u(G), weightHr: P ? u(P * H) : undefined,
  }));
  const acts = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: [r() < 0.5 ? 'Tanh' : 'Relu'] }[mode];
  return {
    mode, dtype: 'float32', inputSize: I, hiddenSize: H, direction: D === 2 ? 'bidirectional' : 'forward', layout, params,
    activations: params.map(() => acts.map((name) => ({ name }))), inputForget: false, linearBeforeReset: true, hasBias: true, projSize: P,
  };
}

describe.skipIf(!wasmModule())('SIMD kernels agree with the reference', () => {
  const r = rng(2024);
  const cases: [RecMode, number, number, 1 | 2, 0 | 1, number, number, number | undefined][] = [];
  for (let i = 0; i < 36; i++) {
    const mode = (['LSTM', 'GRU', 'RNN'] as RecMode[])[i % 3];
    const H = 4 * (1 + Math.floor(r() * 12));
    const P = mode === 'LSTM' && r() < 0.3 ? 1 + Math.floor(r() * (H - 1)) : undefined;
    cases.push([mode, 1 + Math.floor(r() * 40), H, r() < 0.4 ? 2 : 1, r() < 0.3 ? 1 : 0, 1 + Math.floor(r() * 9), 1 + Math.floor(r() * 7), P]);
  }
  it.each(cases)('%s I=%i H=%i D=%i layout=%i T=%i N=%i P=%s', (mode, I, H, D, layout, T, N, P) => {
    const layer = randomLayer(r, mode, I, H, D, layout, P);
    const fast = FastLayer.create(layer);
    expect(fast).not.toBeNull();
    const S = P ?? H;
    const X = Float32Array.from({ length: T * N * I }, () => 2 * r() - 1);
    const h0 = Float32Array.from({ length: D * N * S }, () => r() - 0.5);
    const c0 = Float32Array.from({ length: D * N * H }, () => r() - 0.5);
    const run = { T, N, X, lens: null, h0, c0: mode === 'LSTM' ? c0 : undefined, stateLayout: layout };
    const mk = (): RecOutputs => ({ Y: new Float32Array(T * D * N * S), Yh: new Float32Array(D * N * S), Yc: new Float32Array(D * N * H) });
    const a = mk(), b = mk();
    fast!.run(run, a);
    runLayerReference(layer, run, b);
    for (const k of ['Y', 'Yh', 'Yc'] as const) {
      const ta = new Tensor('float32', a[k]!, [a[k]!.length]), tb = new Tensor('float32', b[k]!, [b[k]!.length]);
      expect(compareTensors(ta, tb, SIMD_TOL).message ?? '', k).toBe('');
    }
  });

  it('GEMM against a plain product, odd sizes', () => {
    for (const [M, K, N] of [[1, 1, 1], [3, 7, 5], [4, 16, 8], [9, 33, 70], [1, 300, 129], [17, 5, 31]]) {
      const A = Float32Array.from({ length: M * K }, () => r() - 0.5);
      const B = Float32Array.from({ length: K * N }, () => r() - 0.5);
      const want = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) want[m * N + n] += A[m * K + k] * B[k * N + n];
      for (const transposed of [false, true]) {
        const Bt = transposed ? Float32Array.from({ length: K * N }, (_, i) => B[(i % K) * N + Math.floor(i / K)]) : B;
        const out = new Float32Array(M * N);
        PackedMatrix.create(Bt, K, N, transposed)!.multiply(A, M, out);
        const c = compareTensors(new Tensor('float64', Float64Array.from(out), [M, N]), new Tensor('float64', want, [M, N]), { rtol: 1e-5, atol: 1e-6 });
        expect(c.message ?? '', `${M}x${K}x${N} transposed=${transposed}`).toBe('');
      }
    }
  });

  it('GEMM rows are bit-identical whatever M, tile or panel order computes them', () => {
    // 5- and 4-row tiles, the one-row path (four panels per pass plus leftover panels), and that
    // path taken first-to-last and last-to-first on alternate calls must all sum in one order.
    for (const [K, N] of [[37, 43], [64, 512], [5, 8]]) {
      const A = Float32Array.from({ length: 16 * K }, () => r() - 0.5);
      const B = Float32Array.from({ length: K * N }, () => r() - 0.5);
      const packed = PackedMatrix.create(B, K, N, false)!;
      const single: number[][] = [];
      for (let m = 0; m < 16; m++)
        for (let call = 0; call < 2; call++) {
          const row = new Float32Array(N);
          packed.multiply(A.subarray(m * K, (m + 1) * K), 1, row);
          if (call) expect(Array.from(row), `K=${K} N=${N} row ${m}, second call`).toEqual(single[m]);
          else single.push(Array.from(row));
        }
      for (const M of [2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16]) {
        const all = new Float32Array(M * N);
        packed.multiply(A, M, all);
        for (let m = 0; m < M; m++) expect(Array.from(all.subarray(m * N, (m + 1) * N)), `K=${K} N=${N} M=${M} row ${m}`).toEqual(single[m]);
      }
    }
  });

  it('softmax and log-softmax rows: a NaN makes its whole row NaN, other rows unaffected', () => {
    const n = 9;
    const X = Float32Array.from({ length: 3 * n }, (_, i) => i % 5);
    X[n + 4] = NaN;
    for (const log of [false, true]) {
      const got = softmaxRows(X, 3, n, log)!;
      for (let j = 0; j < n; j++) {
        expect(got[n + j], `log=${log} col ${j}`).toBeNaN();
        expect(Number.isFinite(got[j]) && Number.isFinite(got[2 * n + j])).toBe(true);
      }
    }
  });

  it('softmax and log-softmax rows, including -inf, large values and ragged widths', () => {
    for (const n of [1, 3, 4, 17, 100]) {
      const X = Float32Array.from({ length: 5 * n }, (_, i) => (n > 1 && i % 7 === 3 ? -Infinity : (r() - 0.5) * 60));
      X[0] = 80; // overflow guard: exp of (x - max) never exceeds 1
      for (const log of [false, true]) {
        const got = softmaxRows(X, 5, n, log)!;
        for (let row = 0; row < 5; row++) {
          const xs = Array.from(X.subarray(row * n, row * n + n));
          const m = Math.max(...xs);
          const sum = xs.reduce((s, v) => s + Math.exp(v - m), 0);
          xs.forEach((v, j) => {
            const want = log ? v - m - Math.log(sum) : Math.exp(v - m) / sum;
            const g = got[row * n + j];
            if (want === -Infinity) expect(g).toBe(-Infinity);
            else expect(Math.abs(g - want)).toBeLessThanOrEqual(2e-6 + 1e-5 * Math.abs(want));
          });
        }
      }
    }
  });
});
