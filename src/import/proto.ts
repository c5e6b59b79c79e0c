// The ONNX protobuf schema: encoder/decoder generated from onnx.proto (onnx/onnx f754691, IR
// version 14) by scripts/proto/gen-proto.sh. Static code on protobufjs/minimal: no reflection, no
// eval, no node:* imports, so it runs in browsers too.
import { onnx as generated } from './onnx-pb.js';
import type { onnx as OnnxNs } from './onnx-pb-types.js';

export const onnx = generated as unknown as typeof OnnxNs;
export type { OnnxNs };

/** An int64 as protobufjs decodes it: a number, or a Long (long.js) split into two 32-bit halves. */
type LongLike = number | { low: number; high: number; unsigned?: boolean };

export function toNum(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  return (v.unsigned ? v.high >>> 0 : v.high | 0) * 4294967296 + (v.low >>> 0);
}

export function toBig(v: LongLike, unsigned = false): bigint {
  if (typeof v === 'number') return BigInt(v);
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? big : BigInt.asIntN(64, big);
}
