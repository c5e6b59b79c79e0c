import { RnnxError } from '../ir/errors.js';
import { DTYPES, Tensor, allocData, dtypeFromOnnx, onnxDtypeName, packBits, sizeOf, unpackBits, type BigArray, type NumericArray } from '../ir/tensor.js';
import { onnx, toBig, toNum, type OnnxNs } from './proto.js';
import { platform } from '../platform/index.js';
import { utf8, utf8Bytes } from '../platform/text.js';

/** Where external tensor data may be read from; undefined when the model came as bytes. */
export interface ExternalDataContext {
  readonly baseDir?: string;
}

/** TensorProto -> Tensor, from raw_data, the typed fields, or an external file. */
export function decodeTensor(tp: OnnxNs.ITensorProto, ctx: ExternalDataContext, what: string): Tensor {
  const code = tp.dataType ?? 0;
  const type = dtypeFromOnnx(code);
  const name = tp.name ? `'${tp.name}'` : what;
  if (!type) throw new RnnxError(`Tensor ${name}: data type ${onnxDtypeName(code)} is not supported`);
  const dims = (tp.dims ?? []).map(toNum);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new RnnxError(`Tensor ${name}: invalid dims [${dims}]`);
  const n = sizeOf(dims);
  if (tp.segment) throw new RnnxError(`Tensor ${name}: segmented tensors are not supported`);

  if (tp.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    return new Tensor(type, fromBytes(type, readExternal(tp, ctx, name), n, name), dims);
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

function readExternal(tp: OnnxNs.ITensorProto, ctx: ExternalDataContext, name: string): Uint8Array {
  const kv = new Map((tp.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new RnnxError(`Tensor ${name}: external data without a 'location'`);
  if (ctx.baseDir === undefined) {
    throw new RnnxError(`Tensor ${name}: external data '${location}' needs the model to be loaded from a file path`);
  }
  const file = platform().resolveInside(ctx.baseDir, location, `Tensor ${name}: external data`);
  const buf = platform().readFile(file, `Tensor ${name}: external data`);
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
  if (!(offset >= 0 && length >= 0 && offset + length <= buf.length)) {
    throw new RnnxError(`Tensor ${name}: external data range offset=${offset} length=${length} is outside '${location}' (${buf.length} bytes)`);
  }
  return buf.subarray(offset, offset + length);
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
