import { nodeError } from '../ir/errors.js';
import { DTYPES, Tensor, allocData, dtypeFromOnnx, isBig, isNarrowFloat, onnxDtypeName, type DataType, type TensorData } from '../ir/tensor.js';
import { fromBfloatBits, fromHalfBits, toBfloatBits, toHalfBits } from './half.js';
import { e8m0Encoder, narrowDecoder, narrowEncoder } from './narrow.js';
import { defineOp, need, type AttrReader, type OpContext } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

/** Element i of x as a JS number (bigint for 64-bit ints, string for strings). */
export function reader(x: Tensor): (i: number) => number | bigint | string {
  const d = x.data as AnyArr;
  if (x.type === 'float16') return (i) => fromHalfBits(d[i] as number);
  if (x.type === 'bfloat16') return (i) => fromBfloatBits(d[i] as number);
  if (isNarrowFloat(x.type)) {
    const dec = narrowDecoder(x.type);
    return (i) => dec(d[i] as number);
  }
  return (i) => d[i] as number | bigint | string;
}

/** How a Cast to a float8 type treats out-of-range values, and how float8e8m0 rounds (Cast-24+). */
export interface CastMode {
  readonly saturate: boolean;
  readonly roundMode: 'up' | 'down' | 'nearest';
}
const DEFAULT_MODE: CastMode = { saturate: true, roundMode: 'up' };

/** number -> element of a narrow type (float8/float4 codes; int4/int2 values wrapped to the width). */
function narrowWriter(to: DataType, mode: CastMode): ((v: number) => number) | undefined {
  if (to === 'float8e8m0') return e8m0Encoder(mode.saturate, mode.roundMode);
  if (isNarrowFloat(to)) return narrowEncoder(to, mode.saturate);
  const bits = DTYPES[to].packedBits;
  if (!bits) return undefined;
  // Like the other integer casts: truncate toward zero, keep the low bits (two's complement).
  const shift = 32 - bits;
  return to.startsWith('int') ? (v) => ((Math.trunc(v) << shift) >> shift) : (v) => ((Math.trunc(v) << shift) >>> shift);
}

const f32 = new Float32Array(1);

/** Shortest decimal that reads back to the same float32 (what numpy prints). */
function shortestFloat32(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    f32[0] = Number(s);
    if (f32[0] === v) return Number(s).toString();
  }
  return v.toString();
}

/** numpy's str() of a float: positional in [1e-4, 1e16), else d.ddde±XX. */
export function formatFloat(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const s = single ? shortestFloat32(v) : v.toString();
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mant, e] = Number(s).toExponential().split('e');
    const en = Number(e);
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  return s.includes('.') ? s : `${s}.0`;
}

function parseNumber(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (t === 'nan' || t === '+nan' || t === '-nan') return NaN;
  return Number(t);
}

/** Types whose arrays hold their values as plain numbers (a typed array assignment converts between them as Cast does). */
const PLAIN = new Set<DataType>(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'bool']);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Casts between plain number types and int64 without a call or a BigInt per element; null for the
 * other pairs. Same results as the generic loop: a typed array assignment truncates toward zero and
 * wraps to the width, int64 is read and written as its 32-bit halves.
 */
function castFast(x: Tensor, to: DataType): TensorData | null {
  const from = x.type, n = x.size;
  if (PLAIN.has(from) && PLAIN.has(to)) {
    const out = allocData(to, n) as Float32Array;
    const X = x.data as Float32Array;
    if (to === 'bool') for (let i = 0; i < n; i++) out[i] = X[i] !== 0 ? 1 : 0;
    else out.set(X);
    return out;
  }
  // int64 through 32-bit halves; not for tiny arrays, whose `.buffer` would move them off V8's heap (~20 µs).
  if (!LITTLE_ENDIAN || n <= 8) return null;
  if (from === 'int64' && PLAIN.has(to)) {
    const d = x.data as BigInt64Array;
    const h = new Int32Array(d.buffer, d.byteOffset, 2 * n);
    const out = allocData(to, n) as Float64Array;
    if (to === 'bool') for (let i = 0; i < n; i++) out[i] = (h[2 * i] | h[2 * i + 1]) !== 0 ? 1 : 0;
    else if (to === 'float32' || to === 'float64') for (let i = 0; i < n; i++) out[i] = h[2 * i + 1] * 4294967296 + (h[2 * i] >>> 0);
    else for (let i = 0; i < n; i++) out[i] = h[2 * i]; // the low 32 bits, wrapped to the width by the assignment
    return out;
  }
  if (PLAIN.has(from) && to === 'int64') {
    const X = x.data as Float32Array;
    const out = allocData('int64', n) as BigInt64Array;
    const h = new Int32Array(out.buffer, out.byteOffset, 2 * n);
    for (let i = 0; i < n; i++) {
      const v = X[i];
      if (!Number.isFinite(v)) continue; // 0, as BigInt(NaN or ±Infinity) is refused and the loop writes 0n
      const t = Math.trunc(v);
      const hi = Math.floor(t / 4294967296);
      h[2 * i] = t - hi * 4294967296; // exact: both terms are integers below 2^53 apart
      h[2 * i + 1] = hi; // wrapped to 32 bits: the low 64 bits of the value, as BigInt.asIntN(64, …)
    }
    return out;
  }
  return null;
}

export function castTensor(x: Tensor, to: DataType, ctx: OpContext, mode: CastMode = DEFAULT_MODE): Tensor {
  if (x.type === to) return x;
  const fast = castFast(x, to);
  if (fast !== null) return new Tensor(to, fast, x.dims);
  const n = x.size;
  const get = reader(x);
  const out = allocData(to, n) as AnyArr;
  const fromBig = isBig(x.type);
  const single = x.type === 'float32' || x.type === 'float16' || x.type === 'bfloat16' || isNarrowFloat(x.type);
  const narrow = narrowWriter(to, mode);
  for (let i = 0; i < n; i++) {
    const raw = get(i);
    if (to === 'string') {
      out[i] = typeof raw === 'number' ? (x.type === 'bool' || !isFloatType(x.type) ? String(raw) : formatFloat(raw, single)) : String(raw);
      continue;
    }
    let v: number | bigint = typeof raw === 'string' ? parseNumber(raw) : raw;
    if (typeof raw === 'string' && Number.isNaN(v) && !/nan/i.test(raw)) {
      throw nodeError(ctx.node, `cannot cast string '${raw}' to ${to}`);
    }
    if (to === 'bool') out[i] = v !== 0 && v !== 0n ? 1 : 0;
    else if (narrow) out[i] = narrow(typeof v === 'bigint' ? Number(isNarrowFloat(to) ? v : BigInt.asIntN(32, v)) : v);
    else if (to === 'float16') out[i] = toHalfBits(Number(v));
    else if (to === 'bfloat16') out[i] = toBfloatBits(Number(v));
    else if (isBig(to)) {
      if (typeof v === 'number') v = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
      out[i] = to === 'uint64' ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v);
    } else if (to === 'float32' || to === 'float64') out[i] = Number(v);
    else {
      // C-style: truncate toward zero, wrap to the width (typed array assignment does the wrap).
      out[i] = fromBig ? Number(BigInt.asIntN(32, v as bigint)) : Math.trunc(Number(v));
    }
  }
  return new Tensor(to, out as TensorData, x.dims);
}

function isFloatType(t: DataType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16' || isNarrowFloat(t);
}

/** saturate (Cast-19+) and round_mode (Cast-24+). */
function parseMode(ctx: OpContext, a: AttrReader): CastMode {
  const saturate = ctx.opset >= 19 ? a.int('saturate', 1) : 1;
  if (saturate !== 0 && saturate !== 1) throw a.error('saturate', `must be 0 or 1, got ${saturate}`);
  const roundMode = ctx.opset >= 24 ? a.string('round_mode', 'up') : 'up';
  if (roundMode !== 'up' && roundMode !== 'down' && roundMode !== 'nearest') throw a.error('round_mode', `must be 'up', 'down' or 'nearest', got '${roundMode}'`);
  return { saturate: saturate === 1, roundMode };
}

export const Cast = defineOp({
  parse(ctx, a) {
    const to = a.int('to');
    const mode = parseMode(ctx, a);
    if (to === undefined) throw a.error('to', 'is required');
    const t = dtypeFromOnnx(to);
    if (!t) throw a.error('to', `casting to ${onnxDtypeName(to)} is not supported`);
    return { to: t, mode };
  },
  run: (inputs, p, ctx) => [castTensor(need(inputs, 0, ctx, 'input'), p.to, ctx, p.mode)],
});

export const CastLike = defineOp({
  parse: (ctx, a) => parseMode(ctx, a),
  run: (inputs, mode, ctx) => [castTensor(need(inputs, 0, ctx, 'input'), need(inputs, 1, ctx, 'target_type').type, ctx, mode)],
});
