// External tensor data: files beside the model, confined to the model's real folder, read at their
// offsets from one open file each. File access goes through the platform layer.
import { RnnxError } from '../ir/errors.js';
import { platform, type FileHandle } from '../platform/index.js';

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

/** Reads the entries into a validated record (unknown and repeated keys refused; `checksum` is not verified). */
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

/** A whole regular file (a model, a .pb, a .npy): FIFOs and devices are refused, the read is bounded by the file's size. */
export function readRegularFile(file: string, what: string): Uint8Array {
  return platform().readFile(file, what);
}

/**
 * The external data files of one model (or one .pb file), all inside `baseDir`'s real path.
 * Each file is opened once and read at each tensor's offset; `close()` when decoding is done.
 */
export class ExternalFiles {
  private readonly files = new Map<string, FileHandle>();

  constructor(readonly baseDir: string) {}

  private open(location: string, name: string): FileHandle {
    const what = `Tensor ${name}: external data`;
    const real = platform().resolveInside(this.baseDir, location, what);
    let f = this.files.get(real);
    if (!f) {
      f = platform().openFile(real, `${what} '${location}'`);
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
    this.open(e.location, name).readAt(e.offset, dst);
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }
}
