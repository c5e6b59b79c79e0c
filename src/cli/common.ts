// Pieces shared by the CLI commands: seeded random feeds, previews, JSON values, the onnxruntime cross-check.
import { RnnxError } from '../ir/errors.js';
import { Tensor, type DataType } from '../ir/tensor.js';
import { fromBfloatBits, fromHalfBits } from '../ops/half.js';
import { compareTensors, type Tolerance } from '../runtime/compare.js';
import { runOnnxruntime } from '../runtime/ort-check.js';

/** `--check` passes when |rnnx − onnxruntime| ≤ atol + rtol·|onnxruntime| everywhere. */
export const CHECK_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** mulberry32: a small seeded generator, so `--random --seed N` is reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [-1, 1) for floats, 0..9 for integers, 0/1 for bool. */
export function randomFeed(type: DataType | undefined, dims: number[], r: () => number, name: string): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'float32': return new Tensor(type, Float32Array.from({ length: n }, () => 2 * r() - 1), dims);
    case 'float64': return new Tensor(type, Float64Array.from({ length: n }, () => 2 * r() - 1), dims);
    case 'int64': return new Tensor(type, BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 10))), dims);
    case 'int32': return new Tensor(type, Int32Array.from({ length: n }, () => Math.floor(r() * 10)), dims);
    case 'uint8': return new Tensor(type, Uint8Array.from({ length: n }, () => Math.floor(r() * 10)), dims);
    case 'int8': return new Tensor(type, Int8Array.from({ length: n }, () => Math.floor(r() * 10)), dims);
    case 'bool': return new Tensor(type, Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)), dims);
    default: throw new RnnxError(`--random: cannot make input '${name}' of type ${type ?? 'unknown'}`);
  }
}

export function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

function numbers(t: Tensor): ArrayLike<number | bigint> | readonly string[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, fromHalfBits);
  if (t.type === 'bfloat16') return Array.from(t.data as Uint16Array, fromBfloatBits);
  return t.data as ArrayLike<number | bigint>;
}

export function preview(t: Tensor): string {
  const d = numbers(t);
  const vals: string[] = [];
  for (let i = 0; i < Math.min(d.length, 6); i++) {
    const v = d[i];
    vals.push(typeof v === 'number' ? Number(v.toPrecision(5)).toString() : String(v));
  }
  return `${t.type} [${t.dims.join(', ')}] ${vals.join(' ')}${d.length > 6 ? ' …' : ''}`;
}

/**
 * A tensor as JSON: `{type, dims, data}`. Non-finite floats become the strings "NaN",
 * "Infinity", "-Infinity"; int64 values beyond 2^53 become decimal strings.
 */
export function tensorJson(t: Tensor): { type: string; dims: number[]; data: (number | string | boolean)[] } {
  const d = numbers(t);
  const data: (number | string | boolean)[] = new Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (typeof v === 'bigint') data[i] = v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString();
    else if (typeof v === 'number') data[i] = t.type === 'bool' ? v !== 0 : Number.isFinite(v) ? v : String(v);
    else data[i] = v;
  }
  return { type: t.type, dims: [...t.dims], data };
}

export interface OutputCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly maxAbs: number;
  readonly maxRel: number;
  readonly message?: string;
}

export interface CheckReport {
  /** true when onnxruntime ran and every output agrees within `tol`. */
  readonly ok: boolean;
  /** Why onnxruntime could not run the model, if it could not. */
  readonly error?: string;
  readonly tolerance: Tolerance;
  readonly outputs: OutputCheck[];
}

/** Runs onnxruntime-node on the model file and compares every tensor output. */
export async function crossCheck(modelPath: string, feeds: Record<string, Tensor>, ours: Record<string, Tensor>, tol: Tolerance): Promise<CheckReport> {
  let theirs: Record<string, Tensor>;
  try {
    theirs = await runOnnxruntime(modelPath, feeds, '--check');
  } catch (e) {
    if (e instanceof RnnxError) throw e;
    return { ok: false, error: String((e as Error).message).split('\n')[0], tolerance: tol, outputs: [] };
  }
  const outputs = Object.entries(ours).map(([name, t]): OutputCheck => {
    const ref = theirs[name];
    if (!ref) return { name, ok: false, maxAbs: NaN, maxRel: NaN, message: 'onnxruntime gave no such output' };
    const c = compareTensors(t, ref, tol);
    return { name, ok: c.ok, maxAbs: c.maxAbs, maxRel: c.maxRel, ...(c.message ? { message: c.message } : {}) };
  });
  return { ok: outputs.every((o) => o.ok), tolerance: tol, outputs };
}

export function formatCheck(r: CheckReport): string {
  if (r.error) return `onnxruntime-node could not run this model: ${r.error}`;
  const lines = [`agreement with onnxruntime-node (rtol ${r.tolerance.rtol}, atol ${r.tolerance.atol}):`];
  for (const o of r.outputs) {
    lines.push(`  ${o.name}: max abs diff ${fmt(o.maxAbs)}, max rel diff ${fmt(o.maxRel)}${o.ok ? '' : ` MISMATCH${o.message ? `: ${o.message}` : ''}`}`);
  }
  if (!r.ok) lines.push('the outputs disagree with onnxruntime-node');
  return lines.join('\n');
}
