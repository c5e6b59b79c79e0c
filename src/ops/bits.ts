/** Bit-level ops: BitwiseAnd/Or/Xor (18), BitwiseNot (18), BitCast (26). */
import { nodeError } from '../ir/errors.js';
import { DTYPES, Tensor, allocData, dtypeFromOnnx, isBig, onnxDtypeName, type DataType, type TensorData } from '../ir/tensor.js';
import { binaryMap } from './elementwise.js';
import { checkType, defineOp, need, type OpDef } from './op.js';

const INTS: readonly DataType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];

function bitwise(num: (a: number, b: number) => number, big: (a: bigint, b: bigint) => bigint): OpDef<null> {
  return defineOp({
    parse: () => null,
    run(inputs, _p, ctx) {
      const a = need(inputs, 0, ctx, 'A'), b = need(inputs, 1, ctx, 'B');
      checkType(a, INTS, 0, ctx, 'A');
      checkType(b, [a.type], 1, ctx, 'B');
      // Typed-array stores wrap the 32-bit results to the element width.
      if (isBig(a.type)) return [binaryMap(a, b, a.type, (x: bigint, y: bigint) => (a.type === 'uint64' ? BigInt.asUintN(64, big(x, y)) : big(x, y)), ctx)];
      return [binaryMap(a, b, a.type, num, ctx)];
    },
  });
}
export const BitwiseAnd = bitwise((a, b) => a & b, (a, b) => a & b);
export const BitwiseOr = bitwise((a, b) => a | b, (a, b) => a | b);
export const BitwiseXor = bitwise((a, b) => a ^ b, (a, b) => a ^ b);

export const BitwiseNot = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, INTS, 0, ctx, 'X');
    const out = allocData(x.type, x.size) as { [i: number]: number | bigint };
    const X = x.data as unknown as ArrayLike<number | bigint>;
    if (x.type === 'uint64') for (let i = 0; i < x.size; i++) out[i] = BigInt.asUintN(64, ~(X[i] as bigint));
    else if (x.type === 'int64') for (let i = 0; i < x.size; i++) out[i] = ~(X[i] as bigint);
    else for (let i = 0; i < x.size; i++) out[i] = ~(X[i] as number);
    return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
  },
});

/** Bits per element as ONNX stores the type (strings have none). */
function bitWidth(t: DataType): number {
  const info = DTYPES[t];
  if (info.packedBits) return info.packedBits;
  if (!info.ctor) return 0;
  return 8 * (info.ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

/**
 * BitCast: the same bits read as another type of the same width (bool counts as 8 bits; values
 * other than 0/1 read as bool are normalised to 1). 4-bit and 2-bit types reinterpret their low bits.
 */
export const BitCast = defineOp({
  parse(_c, a) {
    const code = a.int('to');
    if (code === undefined) throw a.error('to', 'is required');
    const to = dtypeFromOnnx(code);
    if (!to || to === 'string') throw a.error('to', `cannot bit-cast to ${onnxDtypeName(code)}`);
    return to;
  },
  run(inputs, to, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const w = bitWidth(x.type);
    if (w === 0) throw nodeError(ctx.node, `cannot bit-cast from ${x.type}`);
    if (w !== bitWidth(to)) throw nodeError(ctx.node, `input type ${x.type} has ${w} bits but ${to} has ${bitWidth(to)}`);
    if (x.type === to) return [new Tensor(x.type, x.data.slice() as TensorData, x.dims)];
    const out = allocData(to, x.size) as Uint8Array;
    if (w >= 8) {
      const src = x.data as Uint8Array;
      new Uint8Array(out.buffer).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
      if (to === 'bool') for (let i = 0; i < out.length; i++) out[i] = out[i] ? 1 : 0;
    } else {
      // sub-byte: mask to the width, sign-extend for the signed types
      const mask = (1 << w) - 1, shift = 32 - w, signed = to === 'int4' || to === 'int2';
      const src = x.data as Uint8Array;
      for (let i = 0; i < out.length; i++) {
        const bits = src[i] & mask;
        out[i] = signed ? (bits << shift) >> shift : bits;
      }
    }
    return [new Tensor(to, out, x.dims)];
  },
});
