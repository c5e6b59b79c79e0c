import { nodeError } from '../ir/errors.js';
import { sizeOf } from '../ir/tensor.js';
import type { OpContext } from './op.js';

/** numpy broadcasting of several shapes. */
export function broadcastShapes(shapes: readonly (readonly number[])[], ctx: OpContext): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw nodeError(ctx.node, `shapes ${shapes.map((x) => `[${x}]`).join(', ')} cannot be broadcast together`);
      }
    }
  }
  return out;
}

/**
 * For each element of `out` (row-major), the flat index of the element of `dims` it reads.
 * Returns null when no index map is needed (same shape).
 */
export function broadcastIndex(dims: readonly number[], out: readonly number[]): Int32Array | null {
  if (dims.length === out.length && dims.every((d, i) => d === out[i])) return null;
  const rank = out.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    const o = rank - dims.length + i;
    strides[o] = dims[i] === 1 ? 0 : s;
    s *= dims[i];
  }
  const n = sizeOf(out);
  const idx = new Int32Array(n);
  if (n === 0) return idx;
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += strides[d];
      if (counter[d] < out[d]) break;
      off -= strides[d] * out[d];
      counter[d] = 0;
    }
  }
  return idx;
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}
