import { RnnxError } from '../ir/errors.js';
import { ExternalFiles, externalEntry } from './external-data.js';
import { DTYPES, Tensor, allocData, dtypeFromOnnx, onnxDtypeName, packBits, sizeOf, unpackBits, type BigArray, type NumericArray } from '../ir/tensor.js';
import { onnx, toBig, toNum, type OnnxNs } from './proto.js';
import { utf8, utf8Bytes } from '../platform/text.js';

/** Where external tensor data may be read from; undefined when the model came as bytes. */
export interface ExternalDataContext {
  readonly baseDir?: string;
  /** The open data files of the model being decoded (one open per file); made per tensor if absent. */
  readonly files?: ExternalFiles;
}

type LongLike = number | { low: number; high: number; unsigned?: boolean };

/** A dim as an exact non-negative integer below 2^53 (a larger one would be silently rounded). */
export function exactDim(v: LongLike | null | undefined): number | undefined {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const big = toBig(v);
  return big >= 0n && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : undefined;
}

/** TensorProto -> Tensor, from raw_data, the typed fields, or an external file. */
export function decodeTensor(tp: OnnxNs.ITensorProto, ctx: ExternalDataContext, what: string): Tensor {
  const code = tp.dataType ?? 0;
  const type = dtypeFromOnnx(code);
  const name = tp.name ? `'${tp.name}'` : what;
  if (!type) throw new RnnxError(`Tensor ${name}: data type ${onnxDtypeName(code)} is not supported`);
  const exact = (tp.dims ?? []).map(exactDim);
  if (exact.some((d) => d === undefined)) throw new RnnxError(`Tensor ${name}: invalid dims [${(tp.dims ?? []).map((d) => (typeof d === 'number' ? d : toBig(d)))}] (each must be an integer in 0..2^53−1)`);
  const dims = exact as number[];
  const n = sizeOf(dims);
  if (!Number.isSafeInteger(n)) throw new RnnxError(`Tensor ${name}: dims [${dims}] hold more than 2^53 elements`);
  if (tp.segment) throw new RnnxError(`Tensor ${name}: segmented tensors are not supported`);

  if (tp.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    return new Tensor(type, readExternal(tp, ctx, type, n, name), dims);
  }
  if (type === 'string') {
    const strs = (tp.stringData ?? []).map(utf8);
    checkCount(strs.length, n, name);
    return new Tensor(type, strs, dims);
  }
  if (tp.rawData && tp.rawData.length > 0) return new Tensor(type, fromBytes(type, tp.rawData, n, name), dims);

  let src: ArrayLike<unknown>;
  switch (type) {
    case 'float32': src = tp.floatData ?? []; break;
    case 'float64': src = tp.doubleData ?? []; break;
    case 'int64': src = tp.int64Data ?? []; break;
    case 'uint32': case 'uint64': src = tp.uint64Data ?? []; break;
    default: src = tp.int32Data ?? []; // int8..int32, uint8, uint16, bool, float16, bfloat16 (as bits)
  }
  if (!DTYPES[type].packedBits) checkCount(src.length, n, name);
  const bits = DTYPES[type].packedBits;
  if (bits) return new Tensor(type, unpacked(type, src as ArrayLike<number>, n, bits, name), dims); // int32_data holds packed bytes
  const out = allocData(type, n) as NumericArray | BigArray;
  if (type === 'int64' || type === 'uint64') {
    const big = out as BigArray;
    for (let i = 0; i < n; i++) big[i] = toBig(src[i] as never, type === 'uint64');
  } else {
    const num = out as NumericArray;
    for (let i = 0; i < n; i++) num[i] = toNum(src[i] as never);
  }
  return new Tensor(type, out, dims);
}

function checkCount(got: number, want: number, name: string): void {
  if (got !== want) throw new RnnxError(`Tensor ${name}: dims need ${want} elements but the data holds ${got}`);
}

function fromBytes(type: Tensor['type'], bytes: Uint8Array, n: number, name: string): NumericArray | BigArray {
  const ctor = DTYPES[type].ctor;
  if (!ctor) throw new RnnxError(`Tensor ${name}: ${type} cannot be stored as raw bytes`);
  const bits = DTYPES[type].packedBits;
  if (bits) return unpacked(type, bytes, n, bits, name);
  const width = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  checkCount(bytes.length / width, n, name);
  const out = new ctor(n);
  // Copy (not view): the protobuf buffer may be unaligned, and must not be kept alive.
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** 4-bit / 2-bit elements packed LSB first (ONNX's layout), one element per slot. */
function unpacked(type: Tensor['type'], bytes: ArrayLike<number>, n: number, bits: 2 | 4, name: string): NumericArray {
  checkCount(bytes.length, Math.ceil((n * bits) / 8), name);
  const out = allocData(type, n) as Uint8Array | Int8Array;
  unpackBits(bytes, n, bits, type === 'int4' || type === 'int2', out);
  return out;
}

/** Reads a tensor's bytes from its external file, at its offset, straight into the tensor's array. */
function readExternal(tp: OnnxNs.ITensorProto, ctx: ExternalDataContext, type: Tensor['type'], n: number, name: string): NumericArray | BigArray {
  const e = externalEntry(tp.externalData ?? [], name);
  if (ctx.baseDir === undefined) {
    throw new RnnxError(`Tensor ${name}: external data '${e.location}' needs the model to be loaded from a file path`);
  }
  const ctor = DTYPES[type].ctor;
  if (!ctor) throw new RnnxError(`Tensor ${name}: ${type} cannot be stored as external data`);
  const bits = DTYPES[type].packedBits;
  const byteLength = bits ? Math.ceil((n * bits) / 8) : n * (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (e.length !== undefined && e.length !== byteLength) {
    throw new RnnxError(`Tensor ${name}: external data length ${e.length} but dims [${tp.dims}] of ${type} need ${byteLength} bytes`);
  }
  const files = ctx.files ?? new ExternalFiles(ctx.baseDir);
  try {
    files.check(e, byteLength, name);
    let out: NumericArray | BigArray;
    try {
      out = (bits ? new Uint8Array(byteLength) : new ctor(n)) as NumericArray | BigArray;
    } catch {
      throw new RnnxError(`Tensor ${name}: cannot allocate ${byteLength} bytes`);
    }
    files.read(e, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), name);
    return bits ? unpacked(type, out as Uint8Array, n, bits, name) : out;
  } finally {
    if (!ctx.files) files.close();
  }
}

/** Tensor -> TensorProto (raw_data for numbers, string_data for strings). */
export function encodeTensor(t: Tensor, name: string): OnnxNs.ITensorProto {
  const tp: OnnxNs.ITensorProto = { name, dims: [...t.dims], dataType: DTYPES[t.type].onnx };
  if (t.type === 'string') tp.stringData = (t.data as string[]).map(utf8Bytes);
  else {
    const d = t.data as NumericArray | BigArray;
    const bits = DTYPES[t.type].packedBits;
    tp.rawData = bits ? packBits(d as Uint8Array, bits) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  return tp;
}
