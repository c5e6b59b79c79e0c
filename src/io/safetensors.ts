import { RnnxError } from '../ir/errors.js';
import { DTYPES, Tensor, type DataType, type TensorData } from '../ir/tensor.js';
import { concatBytes, utf8, utf8Bytes } from '../platform/text.js';

const ST_DTYPE: Partial<Record<DataType, string>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16',
  int8: 'I8', uint8: 'U8', uint16: 'U16', uint32: 'U32', uint64: 'U64', bool: 'BOOL',
};
/** A Map: a dtype such as 'constructor' finds nothing. */
const FROM_ST = new Map(Object.entries(ST_DTYPE).map(([k, v]) => [v, k as DataType]));

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

/**
 * Reads a safetensors file. Every header entry is checked (dtype, shape, offsets) and the tensors'
 * byte ranges must tile the data section without gaps, overlaps or overrun, as the format requires.
 */
export function readSafetensors(b: Uint8Array, what = 'safetensors'): Map<string, Tensor> {
  if (b.length < 8) throw new RnnxError(`${what}: file too short`);
  const n = Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
  if (n > b.length - 8) throw new RnnxError(`${what}: header length ${n} exceeds the file`);
  let header: unknown;
  try {
    header = JSON.parse(utf8(b.subarray(8, 8 + n)));
  } catch (e) {
    throw new RnnxError(`${what}: bad header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new RnnxError(`${what}: the header is not a JSON object`);
  const dataLen = b.length - 8 - n;
  const ranges: { name: string; type: DataType; shape: number[]; s: number; t: number }[] = [];
  for (const [name, e] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const bad = (why: string): never => { throw new RnnxError(`${what}: tensor '${name.slice(0, 80)}': ${why}`); };
    if (e === null || typeof e !== 'object' || Array.isArray(e)) bad('its entry is not an object');
    const { dtype, shape, data_offsets: offs } = e as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const type = typeof dtype === 'string' ? FROM_ST.get(dtype) : undefined;
    if (!type) bad(`unsupported dtype ${JSON.stringify(dtype)?.slice(0, 40)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`shape ${JSON.stringify(shape)?.slice(0, 60)} is not a list of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0) || offs[0] > offs[1]) {
      bad(`data_offsets ${JSON.stringify(offs)?.slice(0, 60)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [s, t] = offs as [number, number];
    if (t > dataLen) bad(`data_offsets [${s}, ${t}] run past the data (${dataLen} bytes)`);
    const count = (shape as number[]).reduce((a, c) => a * c, 1);
    const width = (DTYPES[type!].ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    if (t - s !== count * width) bad(`data_offsets [${s}, ${t}] hold ${t - s} bytes, shape [${shape}] of ${type} needs ${count * width}`);
    ranges.push({ name, type: type!, shape: shape as number[], s, t });
  }
  // the byte ranges must not overlap (one tensor's bytes read as another's)
  const sorted = [...ranges].sort((x, y) => x.s - y.s || x.t - y.t);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].s < sorted[i - 1].t) {
      throw new RnnxError(`${what}: tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap (data_offsets [${sorted[i - 1].s}, ${sorted[i - 1].t}] and [${sorted[i].s}, ${sorted[i].t}])`);
    }
  }
  const out = new Map<string, Tensor>();
  for (const r of ranges) {
    const data = new (DTYPES[r.type].ctor!)((r.t - r.s) / (DTYPES[r.type].ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
    new Uint8Array(data.buffer).set(b.subarray(8 + n + r.s, 8 + n + r.t));
    out.set(r.name, new Tensor(r.type, data as TensorData, r.shape));
  }
  return out;
}
