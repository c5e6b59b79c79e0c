import { RnnxError } from '../ir/errors.js';
import { DTYPES, Tensor, type DataType, type TensorData } from '../ir/tensor.js';
import { concatBytes, utf8, utf8Bytes } from '../platform/text.js';

const ST_DTYPE: Partial<Record<DataType, string>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16',
  int8: 'I8', uint8: 'U8', uint16: 'U16', uint32: 'U32', uint64: 'U64', bool: 'BOOL',
};
const FROM_ST = Object.fromEntries(Object.entries(ST_DTYPE).map(([k, v]) => [v, k])) as Record<string, DataType>;

/** Writes tensors in the safetensors format (8-byte header length, JSON header, raw little-endian data). */
export function writeSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const dtype = ST_DTYPE[t.type];
    if (!dtype) throw new RnnxError(`safetensors: cannot store ${t.type} tensor '${name}'`);
    const d = t.data as Exclude<TensorData, string[]>;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    header[name] = { dtype, shape: [...t.dims], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const jsonBytes = utf8Bytes(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  return concatBytes([len, jsonBytes, ...chunks]);
}

export function readSafetensors(b: Uint8Array, what = 'safetensors'): Map<string, Tensor> {
  if (b.length < 8) throw new RnnxError(`${what}: file too short`);
  const n = Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
  if (n > b.length - 8) throw new RnnxError(`${what}: header length ${n} exceeds the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(utf8(b.subarray(8, 8 + n)));
  } catch (e) {
    throw new RnnxError(`${what}: bad header (${(e as Error).message})`);
  }
  const out = new Map<string, Tensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const type = FROM_ST[e.dtype];
    if (!type) throw new RnnxError(`${what}: tensor '${name}' has unsupported dtype ${e.dtype}`);
    const [s, t] = e.data_offsets;
    const ctor = DTYPES[type].ctor!;
    const count = e.shape.reduce((a, c) => a * c, 1);
    const width = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    if (t - s !== count * width || 8 + n + t > b.length) throw new RnnxError(`${what}: tensor '${name}' has inconsistent offsets`);
    const data = new ctor(count);
    new Uint8Array(data.buffer).set(b.subarray(8 + n + s, 8 + n + t));
    out.set(name, new Tensor(type, data as TensorData, e.shape));
  }
  return out;
}
