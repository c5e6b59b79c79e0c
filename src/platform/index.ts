import { RnnxError } from '../ir/errors.js';

/**
 * The one place that knows Node from a browser. The core (import, wasm, io, nn) calls
 * `platform()` and never imports `node:*`: Node's modules are reached through
 * `process.getBuiltinModule` (Node ≥ 20.16), so a browser bundle contains no Node import at all
 * and needs no shims.
 */
export interface Platform {
  readonly name: 'node' | 'browser';
  /** Reads a whole file (Node only; a browser throws a named error). */
  readFile(path: string | URL, what: string): Uint8Array;
  /**
   * `location` resolved inside `baseDir` (symlinks followed); a path that leaves the folder is
   * refused with a named error.
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

interface NodeFs { readFileSync(p: string | URL): Uint8Array; realpathSync(p: string): string }
interface NodePath { resolve(...p: string[]): string; dirname(p: string): string; relative(a: string, b: string): string; isAbsolute(p: string): boolean }
interface NodeWorkerThreads { Worker: new (src: string, opts: object) => { on(ev: string, cb: (e: Error) => void): void; unref(): void; terminate(): Promise<number> } }

function nodePlatform(builtin: GetBuiltin): Platform {
  const fs = builtin('node:fs') as NodeFs;
  const path = builtin('node:path') as NodePath;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  return {
    name: 'node',
    readFile(p, what) {
      try {
        const b = fs.readFileSync(p);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        throw new RnnxError(`Cannot read ${what} '${p}': ${(e as Error).message}`);
      }
    },
    resolveInside(baseDir, location, what) {
      const real = (p: string) => { try { return fs.realpathSync(p); } catch { return p; } };
      const base = real(path.resolve(baseDir));
      const file = real(path.resolve(base, location));
      const rel = path.relative(base, file);
      if (path.isAbsolute(location) || rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new RnnxError(`${what} path '${location}' leaves the model's folder ${base}`);
      }
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
