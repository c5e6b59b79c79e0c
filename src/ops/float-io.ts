/** Float tensors of any width <-> float64 working arrays (for kernels that compute in float64). */
import { Tensor, type DataType } from '../ir/tensor.js';
import { fromBfloatBits, fromHalfBits, toHalfBits } from './half.js';
import type { OpDef } from './op.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number -> bfloat16 bits, round to nearest even (NaN kept quiet). */
export function bfloatBitsRne(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float32/float64/float16/bfloat16 tensor's values as float64. */
export function toFloat64(t: Tensor): Float64Array {
  const d = t.data;
  if (t.type === 'float16') return Float64Array.from(d as Uint16Array, fromHalfBits);
  if (t.type === 'bfloat16') return Float64Array.from(d as Uint16Array, fromBfloatBits);
  if (t.type === 'float64') return d as Float64Array;
  return Float64Array.from(d as ArrayLike<number>);
}

/** float64 values -> a tensor of float type `type` (rounded to nearest even). */
export function fromFloat64(v: ArrayLike<number>, type: DataType, dims: readonly number[]): Tensor {
  switch (type) {
    case 'float64': return new Tensor(type, v instanceof Float64Array ? v : Float64Array.from(v), dims);
    case 'float32': return new Tensor(type, Float32Array.from(v), dims);
    case 'float16': return new Tensor(type, Uint16Array.from(v, toHalfBits), dims);
    case 'bfloat16': return new Tensor(type, Uint16Array.from(v, bfloatBitsRne), dims);
    default: throw new Error(`fromFloat64: ${type} is not a float type`);
  }
}

/**
 * An op whose kernels take float32/float64 only, extended to float16 and bfloat16 the way numpy
 * and onnxruntime compute them: half inputs widened to float32, the op run, float32 results rounded
 * (to nearest even) back to the half type of input 0 (or of the first half input).
 */
export function viaFloat32<A>(def: OpDef<A>): OpDef<A> {
  if (WIDENED.has(def)) return def;
  const isHalf = (t: DataType | undefined) => t === 'float16' || t === 'bfloat16';
  const wrapped: OpDef<A> = {
    ...def,
    run(inputs, attrs, ctx, reuse, scope) {
      const half = isHalf(inputs[0]?.type) ? inputs[0]!.type : inputs.find((t) => isHalf(t?.type))?.type;
      if (!half) return def.run(inputs, attrs, ctx, reuse, scope);
      const wide = inputs.map((t) => (t && isHalf(t.type) ? new Tensor('float32', Float32Array.from(toFloat64(t)), t.dims) : t));
      const out = def.run(wide, attrs, ctx, undefined, scope);
      return out.map((t) => (t && t.type === 'float32' ? fromFloat64(t.data as Float32Array, half, t.dims) : t));
    },
  };
  WIDENED.add(wrapped);
  return wrapped;
}
/** Defs already made by viaFloat32 (wrapping again returns them as they are, keeping identity). */
const WIDENED = new WeakSet<OpDef<any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any
