import { RnnxError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { Tensor as RTensor, type DataType } from '../ir/tensor.js';

export interface OutputAgreement {
  readonly name: string;
  readonly maxAbs: number;
  readonly maxRel: number;
}

/** onnxruntime-node is an optional peer: loaded on first use, with install advice when it is missing. */
export async function loadOnnxruntime(purpose: string): Promise<typeof import('onnxruntime-node')> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') {
      throw new RnnxError(`${purpose} needs onnxruntime-node, which is not installed (install it with: npm install onnxruntime-node)`);
    }
    throw new RnnxError(`${purpose}: onnxruntime-node could not be loaded: ${String(err.message).split('\n')[0]}`);
  }
}

/**
 * Runs the same model and feeds in onnxruntime-node (one thread). Give the model's path where
 * there is one: onnxruntime then finds external data beside it.
 */
export async function runOnnxruntime(model: string | Uint8Array, feeds: Record<string, Tensor>, purpose = 'the cross-check'): Promise<Record<string, Tensor>> {
  const ort = await loadOnnxruntime(purpose);
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 as const };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  try {
    const of = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type as never, t.data as never, t.dims)]));
    const out = await session.run(of);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new RTensor(t.type as DataType, t.data as never, t.dims)]));
  } finally {
    await session.release();
  }
}

/** Largest absolute and relative difference between two float tensors of one shape. */
export function agreement(name: string, a: Tensor, b: Tensor): OutputAgreement {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) {
    return { name, maxAbs: Infinity, maxRel: Infinity };
  }
  let maxAbs = 0, maxRel = 0;
  const A = a.data as ArrayLike<number | bigint>, B = b.data as ArrayLike<number | bigint>;
  for (let i = 0; i < A.length; i++) {
    const x = Number(A[i]), y = Number(B[i]);
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(y), 1e-30));
  }
  return { name, maxAbs, maxRel };
}
