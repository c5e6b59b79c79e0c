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

export function castTensor(x: Tensor, to: DataType, ctx: OpContext, mode: CastMode = DEFAULT_MODE): Tensor {
  if (x.type === to) return x;
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
