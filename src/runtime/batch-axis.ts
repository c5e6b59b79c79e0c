import { RnnxError } from '../ir/errors.js';
import { isBig, isFloat, sizeOf, Tensor, allocData, type TensorData } from '../ir/tensor.js';

/** Joins tensors of one dtype whose dims agree except on `axis`. */
export function concatAlong(ts: readonly Tensor[], axis: number): Tensor {
  const first = ts[0];
  const rank = first.dims.length;
  if (axis < 0 || axis >= rank) throw new RnnxError(`batch axis ${axis} is outside a rank-${rank} tensor`);
  const outer = sizeOf(first.dims.slice(0, axis));
  const inner = sizeOf(first.dims.slice(axis + 1));
  let total = 0;
  for (const t of ts) {
    if (t.type !== first.type || t.dims.length !== rank || t.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      throw new RnnxError(`cannot batch [${t.dims}] ${t.type} with [${first.dims}] ${first.type} along axis ${axis}`);
    }
    total += t.dims[axis];
  }
  const dims = [...first.dims];
  dims[axis] = total;
  const out = allocData(first.type, outer * total * inner) as Exclude<TensorData, string[]>;
  const rowOut = total * inner;
  let at = 0;
  for (const t of ts) {
    const src = t.data as Exclude<TensorData, string[]>;
    const w = t.dims[axis] * inner;
    if (outer === 1) (out as Float32Array).set(src as Float32Array, at);
    else for (let o = 0; o < outer; o++) (out as Float32Array).set((src as Float32Array).subarray(o * w, o * w + w), o * rowOut + at);
    at += w;
  }
  return new Tensor(first.type, out, dims);
}

/** Cuts a tensor along `axis` into pieces of the given sizes (copies: each piece owns its memory). */
export function splitAlong(t: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const outer = sizeOf(t.dims.slice(0, axis));
  const inner = sizeOf(t.dims.slice(axis + 1));
  const total = t.dims[axis];
  const src = t.data as Float32Array;
  const out: Tensor[] = [];
  let at = 0;
  for (const s of sizes) {
    const dims = [...t.dims];
    dims[axis] = s;
    const w = s * inner;
    const data = allocData(t.type, outer * w) as Float32Array;
    if (outer === 1) data.set(src.subarray(at, at + w));
    else for (let o = 0; o < outer; o++) data.set(src.subarray(o * total * inner + at, o * total * inner + at + w), o * w);
    out.push(new Tensor(t.type, data, dims));
    at += w;
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
