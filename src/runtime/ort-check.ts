import type { Tensor } from '../ir/tensor.js';
import { Tensor as RTensor, type DataType } from '../ir/tensor.js';

export interface OutputAgreement {
  readonly name: string;
  readonly maxAbs: number;
  readonly maxRel: number;
}

/** Runs the same model bytes and feeds in onnxruntime-node (one thread). */
export async function runOnnxruntime(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
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
