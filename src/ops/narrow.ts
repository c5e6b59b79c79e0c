/**
 * ONNX's narrow float formats (float8 e4m3fn / e4m3fnuz / e5m2 / e5m2fnuz, float8e8m0, float4e2m1)
 * <-> JS numbers, on bit codes. Rounding is to nearest, ties to even code (RNE), from the exact
 * input value; overflow follows the Cast spec's tables (saturate or Inf/NaN).
 */
import type { DataType } from '../ir/tensor.js';

interface Format {
  readonly mant: number;    // mantissa bits
  readonly bias: number;
  readonly maxCode: number; // largest finite positive code
  readonly sign: number;    // sign bit
  readonly uz: boolean;     // no negative zero: 0x80 is the one NaN
  readonly nan: number;     // positive NaN code (fnuz: the only one); -1: no NaN
  readonly inf: number;     // positive Inf code; -1: no Inf
  readonly decode: Float64Array; // every code -> value
}

/** Value of a positive code with an unbounded exponent field (also for the notional code maxCode + 1). */
function codeValue(code: number, mant: number, bias: number): number {
  const e = code >> mant, m = code & ((1 << mant) - 1);
  return e === 0 ? (m / 2 ** mant) * 2 ** (1 - bias) : (1 + m / 2 ** mant) * 2 ** (e - bias);
}

function format(mant: number, bias: number, maxCode: number, sign: number, uz: boolean, nan: number, inf: number): Format {
  const decode = new Float64Array(sign * 2);
  for (let c = 0; c < sign * 2; c++) {
    const mag = c & (sign - 1), neg = (c & sign) !== 0;
    let v: number;
    if (uz && c === sign) v = NaN;
    else if (mag > maxCode) v = mag === inf ? Infinity : NaN;
    else v = codeValue(mag, mant, bias);
    decode[c] = neg ? -v : v;
  }
  return { mant, bias, maxCode, sign, uz, nan, inf, decode };
}

const FORMATS: Partial<Record<DataType, Format>> = {
  float8e4m3fn: format(3, 7, 0x7e, 0x80, false, 0x7f, -1),
  float8e4m3fnuz: format(3, 8, 0x7f, 0x80, true, 0x80, -1),
  float8e5m2: format(2, 15, 0x7b, 0x80, false, 0x7e, 0x7c),
  float8e5m2fnuz: format(2, 16, 0x7f, 0x80, true, 0x80, -1),
  float4e2m1: format(1, 1, 0x7, 0x8, false, -1, -1),
};

/** Code -> number for float8 (not e8m0) and float4 codes. */
export function narrowDecoder(t: DataType): (code: number) => number {
  if (t === 'float8e8m0') return fromE8M0;
  const f = FORMATS[t];
  if (!f) throw new Error(`narrowDecoder: ${t} is not a narrow float type`);
  const d = f.decode;
  return (c) => d[c];
}

/**
 * number -> code, RNE. `saturate`: out-of-range values and ±Inf become ±max (the Cast default);
 * otherwise they become Inf (e5m2) or NaN. float4e2m1 has neither Inf nor NaN and always saturates
 * (NaN becomes -0, as the reference (ml_dtypes) does; the spec leaves it undefined).
 */
export function narrowEncoder(t: DataType, saturate: boolean): (v: number) => number {
  const f = FORMATS[t];
  if (!f) throw new Error(`narrowEncoder: ${t} is not a float8/float4 type`);
  const { mant, bias, maxCode, sign, uz, nan, inf } = f;
  const vals = new Float64Array(maxCode + 2);
  for (let c = 0; c <= maxCode + 1; c++) vals[c] = codeValue(c, mant, bias);
  const sat = saturate || (nan < 0 && inf < 0);
  const over = (neg: boolean): number => {
    if (sat) return maxCode | (neg ? sign : 0);
    if (inf >= 0) return inf | (neg ? sign : 0);
    return uz ? nan : nan | (neg ? sign : 0);
  };
  return (v) => {
    if (Number.isNaN(v)) return nan >= 0 ? nan : sign;
    const neg = v < 0 || Object.is(v, -0);
    const a = Math.abs(v);
    let code: number;
    if (a >= vals[maxCode + 1]) code = maxCode + 1;
    else {
      // largest c with vals[c] <= a
      let lo = 0, hi = maxCode;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (vals[mid] <= a) lo = mid; else hi = mid - 1;
      }
      code = lo;
      if (vals[code] !== a) {
        const mid = (vals[code] + vals[code + 1]) / 2;
        if (a > mid || (a === mid && (code & 1))) code++;
      }
    }
    if (code > maxCode) return over(neg);
    if (code === 0 && uz) return 0;
    return code | (neg ? sign : 0);
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function fromE8M0(c: number): number {
  return c === 0xff ? NaN : 2 ** (c - 127);
}

/** number -> float8e8m0 code, on the float32 bits, as the ONNX reference (to_float8e8m0) does. */
export function e8m0Encoder(saturate: boolean, roundMode: 'up' | 'down' | 'nearest'): (v: number) => number {
  return (v) => {
    f32[0] = v;
    const bits = u32[0];
    let e = (bits >>> 23) & 0xff;
    if (e === 0xff) return 0xff;
    if (roundMode === 'nearest') {
      const g = (bits & 0x400000) !== 0, r = (bits & 0x200000) !== 0, s = (bits & 0x1fffff) !== 0;
      if (g && (r || s || e > 0) && !(saturate && e === 0xfe)) e++;
    } else if (roundMode === 'up') {
      if ((bits & 0x7fffff) !== 0 && !(saturate && e === 0xfe)) e++;
    }
    return e & 0xff;
  };
}
