import { RnnxError } from '../ir/errors.js';
import { isBig, isFloat, sizeOf, Tensor, allocData, type TensorData } from '../ir/tensor.js';

/** Rows [at, at + n) along the batch axis of `t` (the whole of `t` when at = 0 and n = its size there). */
export interface RowSpan {
  readonly t: Tensor;
  readonly at: number;
  readonly n: number;
}

/** Joins tensors of one dtype whose dims agree except on `axis`. */
export function concatAlong(ts: readonly Tensor[], axis: number): Tensor {
  return gatherAlong(ts.map((t) => ({ t, at: 0, n: t.dims[axis] })), axis);
}

/** Joins row spans of tensors of one dtype whose dims agree except on `axis`, in order, into one new tensor. */
export function gatherAlong(parts: readonly RowSpan[], axis: number): Tensor {
  const first = parts[0].t;
  const rank = first.dims.length;
  if (axis < 0 || axis >= rank) throw new RnnxError(`batch axis ${axis} is outside a rank-${rank} tensor`);
  const outer = sizeOf(first.dims.slice(0, axis));
  const inner = sizeOf(first.dims.slice(axis + 1));
  let total = 0;
  for (const { t, at, n } of parts) {
    if (t.type !== first.type || t.dims.length !== rank || t.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      throw new RnnxError(`cannot batch [${t.dims}] ${t.type} with [${first.dims}] ${first.type} along axis ${axis}`);
    }
    if (at < 0 || n < 0 || at + n > t.dims[axis]) throw new RnnxError(`rows [${at}, ${at + n}) are outside axis ${axis} of [${t.dims}]`);
    total += n;
  }
  const dims = [...first.dims];
  dims[axis] = total;
  const out = allocData(first.type, outer * total * inner);
  const rowOut = total * inner;
  let to = 0;
  for (const { t, at, n } of parts) {
    const w = n * inner, rowIn = t.dims[axis] * inner, from = at * inner;
    for (let o = 0; o < outer; o++) copyRun(t.data, o * rowIn + from, out, o * rowOut + to, w);
    to += w;
  }
  return new Tensor(first.type, out, dims);
}

/** dst[to .. to + n) = src[from .. from + n) (typed arrays of one kind, or string arrays). */
function copyRun(src: TensorData, from: number, dst: TensorData, to: number, n: number): void {
  if (Array.isArray(src)) {
    for (let i = 0; i < n; i++) (dst as string[])[to + i] = src[from + i];
    return;
  }
  const d = dst as Float32Array;
  d.set(from === 0 && n === src.length ? (src as Float32Array) : (src as Float32Array).subarray(from, from + n), to);
}

/** Cuts a tensor along `axis` into pieces of the given sizes (copies: each piece owns its memory). */
export function splitAlong(t: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const out: Tensor[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(gatherAlong([{ t, at, n }], axis));
    at += n;
  }
  return out;
}

/** The one axis on which `batched` is the rows stacked (dims equal elsewhere, summed there); undefined if none. */
export function stackedAxis(batched: readonly number[], rows: readonly (readonly number[])[]): number | undefined {
  const rank = batched.length;
  if (rows.some((r) => r.length !== rank)) return undefined;
  const cand: number[] = [];
  for (let a = 0; a < rank; a++) {
    const sum = rows.reduce((n, r) => n + r[a], 0);
    const same = rows.every((r) => r[a] === batched[a]);
    if (batched[a] === sum && !same) cand.push(a);
    else if (!same) return undefined;
  }
  return cand.length === 1 ? cand[0] : undefined;
}

/** Max of |a−b| − (atol + rtol·|b|) over elements (≤ 0 passes); exact for integers. */
export function excess(a: Tensor, b: Tensor, atol: number, rtol: number): { ok: boolean; maxAbs: number } {
  if (a.type !== b.type || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return { ok: false, maxAbs: Infinity };
  let maxAbs = 0;
  let ok = true;
  if (isFloat(a.type) && a.type !== 'float16' && a.type !== 'bfloat16') {
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (!(d <= atol + rtol * Math.abs(y[i])) && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) ok = false;
      if (d > maxAbs) maxAbs = d;
    }
  } else if (isBig(a.type) || a.type !== 'string') {
    const x = a.data as ArrayLike<number | bigint>;
    const y = b.data as ArrayLike<number | bigint>;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { ok = false; maxAbs = Infinity; }
  }
  return { ok, maxAbs };
}
