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

/**
 * Broadcasting without a per-element index map: `out` is walked as rows along its innermost axes,
 * where every input either runs along (step 1) or repeats one element (step 0). Adjacent axes on
 * which each input behaves the same are merged first, so rows are as long as the shapes allow
 * ([B, T, 1] · [1, 1, C] gives rows of C; [B, 1, C] + [B, T, C] rows of T·C for the second).
 * `offs[k][r]` is input k's offset at the start of row r.
 */
export interface RowPlan {
  readonly rows: number;
  readonly len: number;
  readonly steps: readonly number[];
  readonly offs: readonly Int32Array[];
}

export function rowPlan(shapes: readonly (readonly number[])[], out: readonly number[]): RowPlan {
  const rank = out.length, k = shapes.length;
  // Merged axes: size, and per input whether it runs along (1) or repeats (0).
  const sizes: number[] = [], kinds: number[][] = [];
  for (let d = 0; d < rank; d++) {
    const size = out[d];
    if (size === 1) continue;
    const kind = shapes.map((s) => (s.length - rank + d >= 0 && s[s.length - rank + d] === size ? 1 : 0));
    const last = kinds.length - 1;
    if (last >= 0 && kinds[last].every((v, i) => v === kind[i])) sizes[last] *= size;
    else { sizes.push(size); kinds.push(kind); }
  }
  const m = sizes.length;
  const len = m ? sizes[m - 1] : 1;
  const steps = shapes.map((_, i) => (m ? kinds[m - 1][i] : 0));
  let rows = 1;
  for (let d = 0; d < m - 1; d++) rows *= sizes[d];
  if (sizeOf(out) === 0) rows = 0;
  // Each input's stride on each merged axis (0 where it repeats).
  const strides = shapes.map((_, i) => {
    const st = new Array<number>(m).fill(0);
    for (let d = m - 1, acc = 1; d >= 0; d--) {
      if (kinds[d][i]) { st[d] = acc; acc *= sizes[d]; }
    }
    return st;
  });
  const offs = shapes.map(() => new Int32Array(rows));
  const counter = new Array<number>(Math.max(0, m - 1)).fill(0);
  const cur = new Array<number>(k).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) offs[i][r] = cur[i];
    for (let d = m - 2; d >= 0; d--) {
      counter[d]++;
      for (let i = 0; i < k; i++) cur[i] += strides[i][d];
      if (counter[d] < sizes[d]) break;
      for (let i = 0; i < k; i++) cur[i] -= strides[i][d] * sizes[d];
      counter[d] = 0;
    }
  }
  return { rows, len, steps, offs };
}
