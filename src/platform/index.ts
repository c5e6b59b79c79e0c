import { RnnxError } from '../ir/errors.js';

/**
 * The one place that knows Node from a browser. The core (import, wasm, io, nn) calls
 * `platform()` and never imports `node:*`: Node's modules are reached through
 * `process.getBuiltinModule` (Node ≥ 20.16), so a browser bundle contains no Node import at all
 * and needs no shims.
 */
export interface Platform {
  readonly name: 'node' | 'browser';
  /**
   * Reads a whole regular file (Node only; a browser throws a named error). FIFOs, devices and
   * folders are refused; the read is bounded by the file's size.
   */
  readFile(path: string | URL, what: string): Uint8Array;
  /** Opens a regular file for reads at offsets (refused like readFile). */
  openFile(path: string, what: string): FileHandle;
  /**
   * `location` resolved inside `baseDir`'s real path, its own real path (symlinks followed) inside
   * it too; a path that leaves the folder, an absolute one, and a missing file are named errors.
   */
  resolveInside(baseDir: string, location: string, what: string): string;
  /** The absolute folder of a file path. */
  dirOf(path: string): string;
  /** An environment variable (Node), or undefined. */
  env(name: string): string | undefined;
  /** Starts a thread running `source` (a classic script); `data` reaches it as `self.data`. */
  startWorker(source: string, data: WorkerData): WorkerHandle;
  /** Whether this thread may block in Atomics.wait (false on a browser's main thread). */
  readonly canBlock: boolean;
  /** Whether SharedArrayBuffer and shared WebAssembly memory can be used here. */
  readonly sharedMemory: boolean;
}

/** An open regular file. */
export interface FileHandle {
  /** Its size when opened: reads past it are refused before anything is allocated. */
  readonly size: number;
  /** Fills `dst` from `position`; a file that ends early is a named error. */
  readAt(position: number, dst: Uint8Array): void;
  close(): void;
}

export interface WorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
}

export interface WorkerHandle {
  /** Called once with the first error the thread reports. */
  onError(cb: (e: Error) => void): void;
  terminate(): void;
}

type GetBuiltin = (id: string) => unknown;

interface NodeStats { isFile(): boolean; isDirectory(): boolean; size: number }
interface NodeFs {
  realpathSync(p: string): string;
  statSync(p: string | URL): NodeStats;
  openSync(p: string | URL, flags: number): number;
  fstatSync(fd: number): NodeStats;
  readSync(fd: number, b: Uint8Array, off: number, len: number, pos: number): number;
  closeSync(fd: number): void;
  constants: Record<string, number | undefined>;
}

/** One readSync call reads at most this much (Node caps a read at 2^31 − 1 bytes). */
const READ_CHUNK = 1 << 30;

function errorReason(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return String(err.message ?? e).split('\n')[0];
}
interface NodePath { resolve(...p: string[]): string; dirname(p: string): string; relative(a: string, b: string): string; isAbsolute(p: string): boolean }
interface NodeWorkerThreads { Worker: new (src: string, opts: object) => { on(ev: string, cb: (e: Error) => void): void; unref(): void; terminate(): Promise<number> } }

function nodePlatform(builtin: GetBuiltin): Platform {
  const fs = builtin('node:fs') as NodeFs;
  const path = builtin('node:path') as NodePath;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  const inside = (base: string, p: string) => {
    const rel = path.relative(base, p);
    return rel !== '' && rel !== '..' && !rel.startsWith('../') && !rel.startsWith('..\\') && !path.isAbsolute(rel);
  };
  /** Opens without blocking on a FIFO and without following a last-moment symlink, then checks it is a regular file. */
  const openFile = (p: string | URL, what: string): FileHandle => {
    const fail = (e: unknown): never => { throw new RnnxError(`Cannot read ${what}: ${errorReason(e)}`); };
    let st: NodeStats | undefined;
    try { st = fs.statSync(p); } catch (e) { fail(e); }
    if (!st!.isFile()) throw new RnnxError(`${what} is ${st!.isDirectory() ? 'a directory' : 'not a regular file'}`);
    const c = fs.constants;
    let fd = -1;
    try { fd = fs.openSync(p, (c.O_RDONLY ?? 0) | (c.O_NONBLOCK ?? 0)); } catch (e) { fail(e); }
    const now = fs.fstatSync(fd);
    if (!now.isFile()) {
      fs.closeSync(fd);
      throw new RnnxError(`${what} is not a regular file`);
    }
    return {
      size: now.size,
      readAt(position, dst) {
        for (let done = 0; done < dst.length;) {
          const n = fs.readSync(fd, dst, done, Math.min(READ_CHUNK, dst.length - done), position + done);
          if (n === 0) throw new RnnxError(`${what} ended early (it changed while being read)`);
          done += n;
        }
      },
      close: () => fs.closeSync(fd),
    };
  };
  return {
    name: 'node',
    readFile(p, what) {
      const f = openFile(p, `${what} '${String(p)}'`);
      try {
        const out = new Uint8Array(f.size);
        f.readAt(0, out);
        return out;
      } finally {
        f.close();
      }
    },
    openFile,
    resolveInside(baseDir, location, what) {
      const named = `${what} '${location}'`;
      if (location.includes('\0')) throw new RnnxError(`${named}: a NUL character in the path`);
      let base: string;
      try { base = fs.realpathSync(path.resolve(baseDir)); } catch (e) { throw new RnnxError(`Cannot resolve the model's folder '${baseDir}': ${errorReason(e)}`); }
      const lexical = path.resolve(base, location);
      if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || !inside(base, lexical)) {
        throw new RnnxError(`${named} leaves the model's folder ${base}`);
      }
      let file: string;
      try { file = fs.realpathSync(lexical); } catch (e) { throw new RnnxError(`${named}: cannot read it: ${errorReason(e)}`); }
      if (!inside(base, file)) throw new RnnxError(`${named} resolves (through a symbolic link) to ${file}, outside the model's folder ${base}`);
      return file;
    },
    dirOf: (p) => path.dirname(path.resolve(p)),
    env: (name) => env[name],
    startWorker(source, data) {
      const { Worker } = builtin('node:worker_threads') as NodeWorkerThreads;
      // The source reads `self.data`; in a Node worker that is workerData.
      const w = new Worker(`const self = { data: require('node:worker_threads').workerData };\n${source}`, { eval: true, workerData: data });
      w.unref();
      return { onError: (cb) => w.on('error', cb), terminate: () => void w.terminate() };
    },
    canBlock: true,
    sharedMemory: true,
  };
}

interface WebWorkerLike { onerror: ((e: { message?: string }) => void) | null; postMessage(m: unknown): void; terminate(): void }

function browserPlatform(): Platform {
  const g = globalThis as unknown as {
    crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown; document?: unknown;
    Worker?: new (url: string) => WebWorkerLike; Blob: new (parts: string[], o: object) => unknown;
    URL: { createObjectURL(b: unknown): string; revokeObjectURL(u: string): void };
  };
  const noFiles = (what: string): never => {
    throw new RnnxError(`${what}: file paths need Node; in a browser pass a URL, an ArrayBuffer, a Uint8Array or a Blob`);
  };
  return {
    name: 'browser',
    readFile: (_p, what) => noFiles(what),
    openFile: (_p, what) => noFiles(what),
    resolveInside: (_b, _l, what) => noFiles(what),
    dirOf: () => noFiles('a model path'),
    env: () => undefined,
    startWorker(source, data) {
      if (!g.Worker) throw new RnnxError('threads: 2 needs Web Workers, which this context lacks');
      const url = g.URL.createObjectURL(new g.Blob([`self.onmessage = (ev) => { self.data = ev.data; self.onmessage = null;\n${source}\n};`], { type: 'text/javascript' }));
      const w = new g.Worker(url);
      g.URL.revokeObjectURL(url);
      let report: ((e: Error) => void) | undefined;
      w.onerror = (e) => report?.(new Error(e.message ?? 'worker error'));
      w.postMessage(data);
      return { onError: (cb) => { report = cb; }, terminate: () => w.terminate() };
    },
    // A page's main thread may not block; a worker may.
    canBlock: g.document === undefined,
    sharedMemory: g.crossOriginIsolated === true && typeof g.SharedArrayBuffer === 'function',
  };
}

let current: Platform | undefined;

/** The platform this code runs on (detected once). */
export function platform(): Platform {
  if (current) return current;
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: GetBuiltin } }).process;
  if (proc?.versions?.node) {
    if (typeof proc.getBuiltinModule !== 'function') {
      throw new RnnxError(`rnnx needs Node 20.16 or newer (process.getBuiltinModule); this is Node ${proc.versions.node}`);
    }
    current = nodePlatform(proc.getBuiltinModule.bind(proc));
  } else {
    current = browserPlatform();
  }
  return current;
}
