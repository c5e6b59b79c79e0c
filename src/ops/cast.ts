import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, dtypeFromOnnx, isBig, onnxDtypeName, type DataType, type TensorData } from '../ir/tensor.js';
import { fromBfloatBits, fromHalfBits, toBfloatBits, toHalfBits } from './half.js';
import { defineOp, need, type OpContext } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

/** Element i of x as a JS number (bigint for 64-bit ints, string for strings). */
function reader(x: Tensor): (i: number) => number | bigint | string {
  const d = x.data as AnyArr;
  if (x.type === 'float16') return (i) => fromHalfBits(d[i] as number);
  if (x.type === 'bfloat16') return (i) => fromBfloatBits(d[i] as number);
  return (i) => d[i] as number | bigint | string;
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

export function castTensor(x: Tensor, to: DataType, ctx: OpContext): Tensor {
  if (x.type === to) return x;
  const n = x.size;
  const get = reader(x);
  const out = allocData(to, n) as AnyArr;
  const fromBig = isBig(x.type);
  const single = x.type === 'float32' || x.type === 'float16' || x.type === 'bfloat16';
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
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16';
}

export const Cast = defineOp({
  parse(ctx, a) {
    const to = a.int('to');
    if (ctx.opset >= 19) a.int('saturate');
    if (to === undefined) throw a.error('to', 'is required');
    const t = dtypeFromOnnx(to);
    if (!t) throw a.error('to', `casting to ${onnxDtypeName(to)} is not supported`);
    return t;
  },
  run: (inputs, to, ctx) => [castTensor(need(inputs, 0, ctx, 'input'), to, ctx)],
});

export const CastLike = defineOp({
  parse: (ctx, a) => {
    if (ctx.opset >= 19) a.int('saturate');
    return null;
  },
  run: (inputs, _p, ctx) => [castTensor(need(inputs, 0, ctx, 'input'), need(inputs, 1, ctx, 'target_type').type, ctx)],
});
