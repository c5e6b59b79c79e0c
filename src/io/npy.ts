import { inflateSync } from 'fflate';
import { RnnxError } from '../ir/errors.js';
import { DTYPES, Tensor, type DataType, type TensorData } from '../ir/tensor.js';
import { concatBytes, latin1, latin1Bytes, utf8 } from '../platform/text.js';

/** numpy descr (little-endian) <-> rnnx type (a Map: a descr such as 'constructor' finds nothing). */
const DESCR: ReadonlyMap<string, DataType> = new Map<string, DataType>([
  ['<f4', 'float32'], ['<f8', 'float64'], ['<f2', 'float16'], ['<i8', 'int64'], ['<i4', 'int32'], ['<i2', 'int16'],
  ['|i1', 'int8'], ['|u1', 'uint8'], ['<u2', 'uint16'], ['<u4', 'uint32'], ['<u8', 'uint64'], ['|b1', 'bool'],
]);
const TO_DESCR = new Map([...DESCR].map(([k, v]) => [v, k]));

/** Parses a .npy file (format 1.0-3.0, C order, little-endian) into a Tensor. */
export function readNpy(b: Uint8Array, what = '.npy'): Tensor {
  if (!(b instanceof Uint8Array)) throw new RnnxError(`${what}: expected the file's bytes (a Uint8Array)`);
  if (b.length < 10 || latin1(b.subarray(0, 6)) !== '\x93NUMPY') throw new RnnxError(`${what}: not a .npy file`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const major = b[6];
  if (major < 1 || major > 3) throw new RnnxError(`${what}: .npy format version ${major}.${b[7]} is not supported (1.0 to 3.0)`);
  const hstart = major === 1 ? 10 : 12;
  if (b.length < hstart) throw new RnnxError(`${what}: truncated header`);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (hstart + hlen > b.length) throw new RnnxError(`${what}: truncated header (${hlen} bytes declared, ${b.length - hstart} present)`);
  const header = (major === 3 ? utf8 : latin1)(b.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new RnnxError(`${what}: cannot parse header ${header.trim().slice(0, 200)}`);
  const type = DESCR.get(descr.replace(/^=/, '<'));
  if (!type) throw new RnnxError(`${what}: dtype '${descr.slice(0, 40)}' is not supported (float32, float64, int64, int32, uint8, bool, ...)`);
  if (fortran === 'True') throw new RnnxError(`${what}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const parts = shapeStr.split(',').map((s) => s.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // (3,) and (2, 3,)
  if (parts.length === 1 && parts[0] === '') parts.pop(); // ()
  if (parts.some((p) => !/^\d{1,16}$/.test(p))) throw new RnnxError(`${what}: invalid shape (${shapeStr.slice(0, 80)}): dims must be non-negative integers`);
  const dims = parts.map(Number);
  const n = dims.reduce((a, c) => a * c, 1);
  const ctor = DTYPES[type].ctor!;
  const width = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const start = hstart + hlen;
  if (!Number.isSafeInteger(n * width) || b.length - start < n * width) throw new RnnxError(`${what}: data holds ${b.length - start} bytes, shape [${dims}] needs ${n * width}`);
  const data = new ctor(n);
  new Uint8Array(data.buffer).set(b.subarray(start, start + n * width));
  return new Tensor(type, data as TensorData, dims);
}

export function writeNpy(t: Tensor): Uint8Array {
  const descr = TO_DESCR.get(t.type);
  if (!descr) throw new RnnxError(`.npy: cannot write ${t.type} tensors`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = new Uint8Array(10);
  pre.set(latin1Bytes('\x93NUMPY'));
  pre[6] = 1;
  pre[7] = 0;
  new DataView(pre.buffer).setUint16(8, header.length, true);
  const d = t.data as Exclude<TensorData, string[]>;
  return concatBytes([pre, latin1Bytes(header), new Uint8Array(d.buffer, d.byteOffset, d.byteLength)]);
}

export interface NpzOptions {
  /** Refuse archives whose entries inflate to more than this many bytes in total (default 1 GiB). */
  readonly maxBytes?: number;
}

/**
 * Reads the arrays of a .npz (zip of .npy files, stored or deflated; fflate inflates). Every
 * offset is checked against the archive, the declared sizes against `maxBytes` before anything
 * is inflated (fflate writes into a buffer of exactly the declared size, so a lying entry cannot
 * grow past it), and each entry's size and CRC-32 after.
 */
export function readNpz(buf: Uint8Array, what = '.npz', options: NpzOptions = {}): Map<string, Tensor> {
  const maxBytes = options.maxBytes ?? 2 ** 30;
  const entries = zipEntries(buf, what);
  const total = entries.reduce((a, e) => a + e.size, 0);
  if (total > maxBytes) throw new RnnxError(`${what}: entries would inflate to ${total} bytes, over the limit of ${maxBytes} (a zip bomb or a too large archive; raise maxBytes to read it)`);
  const out = new Map<string, Tensor>();
  for (const e of entries) {
    const where = `${what}:${e.name}`;
    const raw = buf.subarray(e.start, e.start + e.csize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.csize !== e.size) throw new RnnxError(`${where}: corrupt zip entry (stored with ${e.csize} bytes, declares ${e.size})`);
      data = raw;
    } else if (e.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new RnnxError(`${where}: corrupt deflate data (${(err as Error).message})`);
      }
    } else {
      throw new RnnxError(`${where}: entry uses unsupported compression ${e.method}`);
    }
    if (data.length !== e.size || crc32(data) !== e.crc) throw new RnnxError(`${where}: corrupt zip entry (size or CRC-32 does not match its header)`);
    out.set(e.name.replace(/\.npy$/, ''), readNpy(data, where));
  }
  return out;
}

interface ZipEntry { name: string; method: number; crc: number; csize: number; size: number; start: number }

/** The central directory, every offset bounds-checked (zip64 sizes and offsets included). */
function zipEntries(b: Uint8Array, what: string): ZipEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const corrupt = (why: string): never => { throw new RnnxError(`${what}: corrupt zip archive (${why})`); };
  const u16 = (o: number) => (o + 2 <= b.length ? dv.getUint16(o, true) : corrupt(`offset ${o} is past the end`));
  const u32 = (o: number) => (o + 4 <= b.length ? dv.getUint32(o, true) : corrupt(`offset ${o} is past the end`));
  const u64 = (o: number) => (o + 8 <= b.length ? Number(dv.getBigUint64(o, true)) : corrupt(`offset ${o} is past the end`));
  // End of central directory: within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new RnnxError(`${what}: not a zip archive`);
  let count = u16(eocd + 10);
  let p = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === 0x07064b50) { // zip64 end-of-central-directory locator
    const z = u64(eocd - 12);
    if (u32(z) !== 0x06064b50) corrupt('bad zip64 record');
    count = u64(z + 32);
    p = u64(z + 48);
  }
  if (count > b.length / 46) corrupt(`${count} entries cannot fit in ${b.length} bytes`);
  const entries: ZipEntry[] = [];
  for (let k = 0; k < count; k++) {
    if (u32(p) !== 0x02014b50) corrupt(`no central directory entry at offset ${p}`);
    const method = u16(p + 10), crc = u32(p + 16);
    let csize = u32(p + 20), size = u32(p + 24);
    const nlen = u16(p + 28), xlen = u16(p + 30), clen = u16(p + 32);
    let local = u32(p + 42);
    if (p + 46 + nlen > b.length) corrupt('a file name runs past the end');
    const name = utf8(b.subarray(p + 46, p + 46 + nlen));
    for (let e = p + 46 + nlen; e + 4 <= p + 46 + nlen + xlen;) {
      const id = u16(e), len = u16(e + 2);
      if (id === 1) { // zip64 extra field (numpy writes it for large arrays)
        let q = e + 4;
        if (size === 0xffffffff) { size = u64(q); q += 8; }
        if (csize === 0xffffffff) { csize = u64(q); q += 8; }
        if (local === 0xffffffff) local = u64(q);
      }
      e += 4 + len;
    }
    p += 46 + nlen + xlen + clen;
    if (u32(local) !== 0x04034b50) corrupt(`entry '${name}': no local header at offset ${local}`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + csize > b.length) corrupt(`entry '${name}': ${csize} bytes at offset ${start} run past the end (${b.length} bytes)`);
    entries.push({ name, method, crc, csize, size, start });
  }
  return entries;
}

let crcTable: Uint32Array | undefined;

function crc32(d: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < d.length; i++) c = crcTable[(c ^ d[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
