import type { DataType } from './tensor.js';
import { Tensor } from './tensor.js';

/** An ONNX sequence value: an ordered list of tensors of one element type. */
export class TensorSequence {
  readonly kind = 'sequence' as const;
  constructor(readonly elemType: DataType | undefined, readonly items: readonly Tensor[]) {}
}

/** An ONNX optional value: holds a tensor or a sequence, or nothing. */
export class OptionalValue {
  readonly kind = 'optional' as const;
  constructor(readonly value: Tensor | TensorSequence | undefined) {}
}

/** What flows along a graph edge. */
export type Value = Tensor | TensorSequence | OptionalValue;

export function describeValue(v: Value | undefined): string {
  if (v === undefined) return 'nothing';
  if (v instanceof Tensor) return `${v.type} tensor [${v.dims}]`;
  if (v instanceof TensorSequence) return `sequence of ${v.items.length} ${v.elemType ? `${v.elemType} ` : ''}tensors`;
  return v.value === undefined ? 'empty optional' : `optional ${describeValue(v.value)}`;
}
