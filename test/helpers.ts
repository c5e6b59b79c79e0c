import * as ort from 'onnxruntime-node';
import { encodeModel, singleNodeModel, type SingleNodeSpec } from '../src/export/onnx.js';
import type { Model } from '../src/ir/graph.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';

/** Cross-check tolerance for single float32 ops (rnnx accumulates in float64). */
export const OP_TOL: Tolerance = { rtol: 1e-5, atol: 1e-6 };
/** float64 ops: both engines compute in float64. */
export const OP_TOL_F64: Tolerance = { rtol: 1e-12, atol: 1e-12 };

/** Deterministic PRNG (mulberry32) so every failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randTensor(r: () => number, dims: number[], type: DataType = 'float32', lo = -1, hi = 1): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, () => lo + (hi - lo) * r());
  if (type === 'int64') return new Tensor(type, vals.map((v) => BigInt(Math.round(v))), dims);
  if (type === 'bool') return new Tensor(type, vals.map((v) => (v > (lo + hi) / 2 ? 1 : 0)), dims);
  if (type.startsWith('int') || type.startsWith('uint')) return new Tensor(type, vals.map(Math.round), dims);
  return new Tensor(type, vals, dims);
}

export async function runOrt(model: Model | Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const of = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type as never, t.data as never, t.dims)]));
  const out = await s.run(of);
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new Tensor(t.type as DataType, t.data as never, t.dims)]));
}

export function runRnnx(model: Model | Uint8Array, feeds: Record<string, Tensor>): Record<string, Tensor> {
  return InferenceSession.createSync(model).runSync(feeds);
}

export interface CrossResult {
  readonly ok: boolean;
  readonly maxAbs: number;
  readonly messages: string[];
}

/** Runs the model in both engines on the same feeds and compares every output. */
export async function crossCheckModel(model: Model, feeds: Record<string, Tensor>, tol: Tolerance): Promise<CrossResult> {
  const bytes = encodeModel(model);
  const ours = runRnnx(bytes, feeds);
  const theirs = await runOrt(bytes, feeds);
  const messages: string[] = [];
  let maxAbs = 0;
  for (const [k, t] of Object.entries(theirs)) {
    const c = compareTensors(ours[k], t, tol);
    if (!c.ok) messages.push(`${k}: ${c.message}`);
    if (Number.isFinite(c.maxAbs)) maxAbs = Math.max(maxAbs, c.maxAbs);
  }
  return { ok: messages.length === 0, maxAbs, messages };
}

export async function crossCheck(spec: SingleNodeSpec, tol: Tolerance = OP_TOL): Promise<CrossResult> {
  const model = singleNodeModel(spec);
  const feeds = Object.fromEntries(spec.inputs.filter((i) => i && !i.constant).map((i) => [i!.name, i!.tensor]));
  return crossCheckModel(model, feeds, tol);
}
