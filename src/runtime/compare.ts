import { fromBfloatBits, fromHalfBits } from '../ops/half.js';
import { isNarrowFloat, type Tensor } from '../ir/tensor.js';
import { narrowDecoder } from '../ops/narrow.js';

/** A float comparison passes when |a − b| ≤ atol + rtol·|b| elementwise (b the reference). */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

/** The ONNX backend test suite's own defaults. */
export const ONNX_BACKEND_TOL: Tolerance = { rtol: 1e-3, atol: 1e-7 };

export interface Comparison {
  readonly ok: boolean;
  readonly maxAbs: number;
  readonly maxRel: number;
  readonly message?: string;
}

function numbersOf(t: Tensor, as?: Tensor['type']): ArrayLike<number> | string[] {
  const type = as ?? t.type;
  const d = t.data;
  if (type === 'string') return d as string[];
  if (type === 'float16') return Array.from(d as Uint16Array, fromHalfBits);
  if (type === 'bfloat16') return Array.from(d as Uint16Array, fromBfloatBits);
  if (isNarrowFloat(type)) return Array.from(d as Uint8Array, narrowDecoder(type)); // compared exactly, NaN as NaN
  if (type === 'int64' || type === 'uint64') return Array.from(d as BigInt64Array, Number);
  return d as ArrayLike<number>;
}

/**
 * Compares `actual` to `expected`. Some reference files store float16/bfloat16 as uint16
 * bits; those are read as the actual tensor's type.
 */
export function compareTensors(actual: Tensor, expected: Tensor, tol: Tolerance): Comparison {
  const fail = (message: string): Comparison => ({ ok: false, maxAbs: NaN, maxRel: NaN, message });
  const bitsAlias = expected.type === 'uint16' && (actual.type === 'float16' || actual.type === 'bfloat16');
  if (actual.type !== expected.type && !bitsAlias) return fail(`type ${actual.type}, expected ${expected.type}`);
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return fail(`shape [${actual.dims}], expected [${expected.dims}]`);
  }
  const a = numbersOf(actual);
  const b = numbersOf(expected, bitsAlias ? actual.type : undefined);
  if (actual.type === 'string') {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return fail(`element ${i}: '${a[i]}', expected '${b[i]}'`);
    return { ok: true, maxAbs: 0, maxRel: 0 };
  }
  const A = a as ArrayLike<number>, B = b as ArrayLike<number>;
  const exact = !['float32', 'float64', 'float16', 'bfloat16'].includes(actual.type);
  let maxAbs = 0, maxRel = 0, firstBad = -1;
  for (let i = 0; i < A.length; i++) {
    const x = A[i], y = B[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y) && firstBad < 0) firstBad = i;
      continue;
    }
    if (x === y) continue;
    const diff = Math.abs(x - y);
    if (!Number.isFinite(diff)) {
      if (firstBad < 0) firstBad = i;
      maxAbs = Infinity;
      continue;
    }
    maxAbs = Math.max(maxAbs, diff);
    maxRel = Math.max(maxRel, diff / Math.max(Math.abs(y), Number.MIN_VALUE));
    const bad = exact ? diff !== 0 : diff > tol.atol + tol.rtol * Math.abs(y);
    if (bad && firstBad < 0) firstBad = i;
  }
  if (firstBad >= 0) {
    return { ok: false, maxAbs, maxRel, message: `element ${firstBad}: ${A[firstBad]}, expected ${B[firstBad]} (max abs diff ${maxAbs.toExponential(3)})` };
  }
  return { ok: true, maxAbs, maxRel };
}
