import { RnnxError } from '../ir/errors.js';
import { DTYPES, dtypeFromOnnx, dtypeToOnnx, sizeOf, Tensor, type DataType } from '../ir/tensor.js';

/**
 * The bytes `stream.saveState()` writes (version 1), all integers little-endian:
 *
 *   magic "RNNXSTAT" (8 bytes) · u32 version = 1 · u32 entry count
 *   per entry: u32 name length · name (UTF-8) · u32 ONNX dtype code · u32 rank · u32 dims[rank]
 *              · u32 data length in bytes · data (little-endian elements)
 *   u32 CRC-32 (IEEE) of every byte before it
 *
 * Entries are the state inputs, in the model's input order.
 */
export const STATE_MAGIC = 'RNNXSTAT';
export const STATE_VERSION = 1;

/** Bytes given to loadState that are not a valid saved state for this stream. */
export class StateBytesError extends RnnxError {
  override name = 'StateBytesError';
}

let CRC_TABLE: Uint32Array | undefined;
export function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bytesOf(t: Tensor): Uint8Array {
  if (t.type === 'string') throw new RnnxError(`saveState: string state tensors cannot be saved`);
  if (!LITTLE) throw new RnnxError('saveState: big-endian hosts are not supported');
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export function encodeState(entries: readonly [string, Tensor][]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const u32 = (...v: number[]) => {
    const b = new Uint8Array(4 * v.length);
    const dv = new DataView(b.buffer);
    v.forEach((x, i) => dv.setUint32(4 * i, x, true));
    parts.push(b);
  };
  parts.push(enc.encode(STATE_MAGIC));
  u32(STATE_VERSION, entries.length);
  for (const [name, t] of entries) {
    const nb = enc.encode(name);
    u32(nb.length);
    parts.push(nb);
    const data = bytesOf(t);
    u32(dtypeToOnnx(t.type), t.dims.length, ...t.dims, data.length);
    parts.push(data);
  }
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { body.set(p, off); off += p.length; }
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

/** Parses saved state bytes; `expect` gives each state's dtype and declared shape (null = any size). */
export function decodeState(bytes: Uint8Array, expect: ReadonlyMap<string, { type?: DataType; shape?: readonly (number | null)[] }>): Map<string, Tensor> {
  if (!(bytes instanceof Uint8Array)) throw new StateBytesError('loadState: expected a Uint8Array');
  const fail = (m: string) => new StateBytesError(`loadState: ${m}`);
  if (bytes.length < 20) throw fail(`${bytes.length} bytes is too short for a saved state`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== STATE_MAGIC) throw fail(`not an rnnx saved state (magic '${magic.replace(/[^\x20-\x7e]/g, '?')}', expected '${STATE_MAGIC}')`);
  const end = bytes.length - 4;
  const crc = dv.getUint32(end, true);
  if (crc32(bytes.subarray(0, end)) !== crc) throw fail('checksum mismatch (the bytes are corrupted or truncated)');
  let off = 8;
  const u32 = (what: string) => {
    if (off + 4 > end) throw fail(`truncated at ${what}`);
    const v = dv.getUint32(off, true);
    off += 4;
    return v;
  };
  const version = u32('version');
  if (version !== STATE_VERSION) throw fail(`format version ${version} is not supported (this rnnx reads version ${STATE_VERSION})`);
  const count = u32('entry count');
  if (count !== expect.size) throw fail(`${count} state entries, this stream has ${expect.size} (${[...expect.keys()].join(', ')})`);
  const out = new Map<string, Tensor>();
  for (let e = 0; e < count; e++) {
    const nlen = u32('name length');
    if (off + nlen > end) throw fail('truncated in a state name');
    const name = new TextDecoder().decode(bytes.subarray(off, off + nlen));
    off += nlen;
    const want = expect.get(name);
    if (!want) throw fail(`state '${name}' is not a state of this stream (states: ${[...expect.keys()].join(', ')})`);
    if (out.has(name)) throw fail(`state '${name}' appears twice`);
    const type = dtypeFromOnnx(u32('dtype'));
    if (!type || type === 'string') throw fail(`state '${name}': unsupported element type`);
    if (want.type && type !== want.type) throw fail(`state '${name}': element type ${type}, the model expects ${want.type}`);
    const rank = u32('rank');
    if (rank > 32) throw fail(`state '${name}': rank ${rank} is not plausible`);
    const dims: number[] = [];
    for (let r = 0; r < rank; r++) dims.push(u32('dims'));
    if (want.shape && (want.shape.length !== rank || want.shape.some((d, i) => d !== null && d !== dims[i]))) {
      throw fail(`state '${name}': shape [${dims}], the model expects [${want.shape.map((d) => d ?? '?')}]`);
    }
    const n = sizeOf(dims);
    const ctor = DTYPES[type].ctor!;
    const itemSize = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const len = u32('data length');
    if (len !== n * itemSize) throw fail(`state '${name}': ${len} data bytes, shape [${dims}] of ${type} needs ${n * itemSize}`);
    if (off + len > end) throw fail(`truncated in the data of state '${name}'`);
    const data = new ctor(n);
    new Uint8Array(data.buffer).set(bytes.subarray(off, off + len));
    off += len;
    out.set(name, new Tensor(type, data, dims));
  }
  if (off !== end) throw fail(`${end - off} unexpected bytes after the last state`);
  return out;
}
