import * as zlib from 'node:zlib';
import { RnnxError } from '../ir/errors.js';
import { DTYPES, Tensor, type DataType, type TensorData } from '../ir/tensor.js';

/** numpy descr (little-endian) <-> rnnx type. */
const DESCR: Readonly<Record<string, DataType>> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16',
  '|i1': 'int8', '|u1': 'uint8', '<u2': 'uint16', '<u4': 'uint32', '<u8': 'uint64', '|b1': 'bool',
};
const TO_DESCR = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k])) as Record<DataType, string>;

/** Parses a .npy file (format 1.0-3.0, C order, little-endian) into a Tensor. */
export function readNpy(buf: Uint8Array, what = '.npy'): Tensor {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new RnnxError(`${what}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > b.length) throw new RnnxError(`${what}: truncated header`);
  const header = b.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new RnnxError(`${what}: cannot parse header ${header.trim()}`);
  const type = DESCR[descr.replace(/^=/, '<')];
  if (!type) throw new RnnxError(`${what}: dtype '${descr}' is not supported (float32, float64, int64, int32, uint8, bool, ...)`);
  if (fortran === 'True') throw new RnnxError(`${what}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const dims = shapeStr.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = dims.reduce((a, c) => a * c, 1);
  const ctor = DTYPES[type].ctor!;
  const width = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const start = hstart + hlen;
  if (b.length - start < n * width) throw new RnnxError(`${what}: data holds ${b.length - start} bytes, shape [${dims}] needs ${n * width}`);
  const data = new ctor(n);
  new Uint8Array(data.buffer).set(b.subarray(start, start + n * width));
  return new Tensor(type, data as TensorData, dims);
}

export function writeNpy(t: Tensor): Buffer {
  const descr = TO_DESCR[t.type];
  if (!descr) throw new RnnxError(`.npy: cannot write ${t.type} tensors`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const d = t.data as Exclude<TensorData, string[]>;
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(d.buffer, d.byteOffset, d.byteLength)]);
}

/** Reads the arrays of a .npz (zip of .npy files, stored or deflated). */
export function readNpz(buf: Uint8Array, what = '.npz'): Map<string, Tensor> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new RnnxError(`${what}: not a zip archive`);
  const count = b.readUInt16LE(eocd + 10);
  let p = b.readUInt32LE(eocd + 16);
  const out = new Map<string, Tensor>();
  for (let k = 0; k < count; k++) {
    if (b.readUInt32LE(p) !== 0x02014b50) throw new RnnxError(`${what}: corrupt central directory`);
    const method = b.readUInt16LE(p + 10);
    let csize = b.readUInt32LE(p + 20);
    const nlen = b.readUInt16LE(p + 28), xlen = b.readUInt16LE(p + 30), clen = b.readUInt16LE(p + 32);
    let local = b.readUInt32LE(p + 42);
    const name = b.toString('utf8', p + 46, p + 46 + nlen);
    // zip64 extra field (numpy writes it for large arrays)
    for (let e = p + 46 + nlen; e < p + 46 + nlen + xlen;) {
      const id = b.readUInt16LE(e), size = b.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (b.readUInt32LE(p + 24) === 0xffffffff) q += 8;
        if (csize === 0xffffffff) { csize = Number(b.readBigUInt64LE(q)); q += 8; }
        if (local === 0xffffffff) local = Number(b.readBigUInt64LE(q));
      }
      e += 4 + size;
    }
    p += 46 + nlen + xlen + clen;
    const lstart = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    const raw = b.subarray(lstart, lstart + csize);
    const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : null;
    if (!data) throw new RnnxError(`${what}: entry '${name}' uses unsupported compression ${method}`);
    out.set(name.replace(/\.npy$/, ''), readNpy(data, `${what}:${name}`));
  }
  return out;
}
