// External tensor data: files beside the model, confined to the model's real folder, read at their offsets.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RnnxError } from '../ir/errors.js';

/** One `readSync` call reads at most this much (Node caps a read at 2^31 − 1 bytes). */
const READ_CHUNK = 1 << 30;

/** The `external_data` entries of one TensorProto, validated. */
export interface ExternalEntry {
  readonly location: string;
  readonly offset: number;
  /** undefined when the entry does not give one: the tensor's own byte size is read. */
  readonly length?: number;
}

const KEYS = new Set(['location', 'offset', 'length', 'checksum']);

/** `offset` and `length` are decimal integers: `0x10`, `1e3`, `-1`, `+4` and `16 ` are refused. */
function decimal(key: string, v: string, name: string): number {
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new RnnxError(`Tensor ${name}: external data ${key} '${v}' is not a decimal integer below 2^53`);
  return n;
}

export function externalEntry(entries: readonly { key?: string | null; value?: string | null }[], name: string): ExternalEntry {
  const kv = new Map<string, string>();
  for (const e of entries) {
    const k = e.key ?? '';
    if (!KEYS.has(k)) throw new RnnxError(`Tensor ${name}: unknown external data key '${k}' (known: location, offset, length, checksum)`);
    if (kv.has(k)) throw new RnnxError(`Tensor ${name}: external data key '${k}' given twice`);
    kv.set(k, e.value ?? '');
  }
  const location = kv.get('location');
  if (!location) throw new RnnxError(`Tensor ${name}: external data without a 'location'`);
  const offset = kv.has('offset') ? decimal('offset', kv.get('offset')!, name) : 0;
  const length = kv.has('length') ? decimal('length', kv.get('length')!, name) : undefined;
  return { location, offset, length };
}

function inside(base: string, p: string): boolean {
  const rel = path.relative(base, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

interface OpenFile { readonly fd: number; readonly size: number }

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return String(err.message ?? e).split('\n')[0];
}

/** Opens a regular file without blocking on a FIFO and without following a last-moment symlink. */
function openRegular(real: string, what: string): OpenFile {
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch (e) {
    throw new RnnxError(`Cannot read ${what}: ${describe(e)}`);
  }
  if (!st.isFile()) throw new RnnxError(`${what} is not a regular file`);
  const c = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(real, c.O_RDONLY | (c.O_NONBLOCK ?? 0) | (c.O_NOFOLLOW ?? 0));
  } catch (e) {
    throw new RnnxError(`Cannot read ${what}: ${describe(e)}`);
  }
  const now = fs.fstatSync(fd);
  if (!now.isFile()) {
    fs.closeSync(fd);
    throw new RnnxError(`${what} is not a regular file`);
  }
  return { fd, size: now.size };
}

/** Reads exactly `dst.length` bytes at `position`; a file that ends early is an error. */
function readAt(f: OpenFile, position: number, dst: Uint8Array, what: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(f.fd, dst, done, Math.min(READ_CHUNK, dst.length - done), position + done);
    if (n === 0) throw new RnnxError(`${what} ended early (it changed while being read)`);
    done += n;
  }
}

/** A whole regular file (a model, a .pb, a .npy): FIFOs and devices are refused, the read is bounded by the file's size. */
export function readRegularFile(file: string, what: string): Uint8Array {
  const f = openRegular(file, `${what} '${file}'`);
  try {
    const out = new Uint8Array(f.size);
    readAt(f, 0, out, `${what} '${file}'`);
    return out;
  } finally {
    fs.closeSync(f.fd);
  }
}

/**
 * The external data files of one model (or one .pb file), all inside `baseDir`'s real path.
 * Each file is opened once and read at each tensor's offset; `close()` when decoding is done.
 */
export class ExternalFiles {
  private readonly files = new Map<string, OpenFile>();
  private baseReal?: string;

  constructor(readonly baseDir: string) {}

  private base(): string {
    if (this.baseReal === undefined) {
      try {
        this.baseReal = fs.realpathSync(this.baseDir);
      } catch (e) {
        throw new RnnxError(`cannot resolve the model's folder '${this.baseDir}': ${describe(e)}`);
      }
    }
    return this.baseReal;
  }

  private open(location: string, name: string): OpenFile {
    const what = `Tensor ${name}: external data '${location}'`;
    if (location.includes('\0')) throw new RnnxError(`${what}: a NUL character in the path`);
    const base = this.base();
    const lexical = path.resolve(base, location);
    if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || !inside(base, lexical)) {
      throw new RnnxError(`${what} leaves the model's folder ${base}`);
    }
    let real: string;
    try {
      real = fs.realpathSync(lexical);
    } catch (e) {
      throw new RnnxError(`${what}: cannot read it: ${describe(e)}`);
    }
    if (!inside(base, real)) throw new RnnxError(`${what} resolves (through a symbolic link) to ${real}, outside the model's folder ${base}`);
    let f = this.files.get(real);
    if (!f) {
      f = openRegular(real, what);
      this.files.set(real, f);
    }
    return f;
  }

  /** Checks that `byteLength` bytes at the entry's offset lie inside its file (before anything is allocated). */
  check(e: ExternalEntry, byteLength: number, name: string): void {
    const f = this.open(e.location, name);
    if (e.offset + byteLength > f.size) {
      throw new RnnxError(`Tensor ${name}: external data range offset=${e.offset} length=${byteLength} is outside '${e.location}' (${f.size} bytes)`);
    }
  }

  /** Reads the entry's bytes into `dst` (call `check` first). */
  read(e: ExternalEntry, dst: Uint8Array, name: string): void {
    readAt(this.open(e.location, name), e.offset, dst, `Tensor ${name}: external data '${e.location}'`);
  }

  close(): void {
    for (const f of this.files.values()) fs.closeSync(f.fd);
    this.files.clear();
  }
}
