import { RnnxError } from '../ir/errors.js';
import { platform } from '../platform/index.js';
import { KERNELS_BASE64, KERNELS_SHARED_BASE64 } from './kernels-embedded.js';

/** The exports of kernels.wat. Pointers are byte offsets, sizes element counts. */
export interface Kernels {
  readonly memory: WebAssembly.Memory;
  gemm(a: number, lda: number, bp: number, K: number, npad: number, c: number, ldc: number, M: number, accum: number): void;
  gemm_rm(a: number, lda: number, b: number, ldb: number, K: number, npad: number, c: number, ldc: number, M: number, accum: number): void;
  relu(x: number, n: number): void;
  im2col(x: number, xn: number, dst: number, s1: number, sk: number, s8: number, N: number, Cg: number, H: number, W: number, KH: number, KW: number,
    OH: number, OW: number, sH: number, sW: number, dH: number, dW: number, pT: number, pL: number, j0: number, j1: number): void;
  dwconv(x: number, y: number, w: number, b: number, N: number, C: number, M: number, H: number, W: number, KH: number, KW: number,
    OH: number, OW: number, sH: number, sW: number, dH: number, dW: number, pT: number, pL: number): void;
  pack_rows(src: number, ld: number, K: number, npad: number, dst: number): void;
  fill_rows(dst: number, ld: number, src: number, rows: number, n: number): void;
  transpose(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  copy_rows(src: number, lds: number, dst: number, ldd: number, rows: number, len: number): void;
  lstm_rows(g: number, gs: number, c: number, cs: number, h: number, hs: number, H: number, N: number): void;
  gru_rows(x: number, xs: number, hh: number, hhs: number, bhn: number, h: number, hs: number, H: number, N: number): void;
  tanh(x: number, y: number, n: number): void;
  add_bias(y: number, b: number, rows: number, n: number, ld: number): void;
  softmax_rows(x: number, y: number, rows: number, n: number, logmode: number): void;
  unary(op: number, x: number, y: number, n: number, p0: number, p1: number): void;
  binop(op: number, a: number, b: number, y: number, rows: number, len: number, kind: number, oa: number, ob: number): void;
}

/** A kernel binary as a caller may supply it: compiled, bytes, or where to fetch them. */
export type KernelSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string;

/** Which kernels run, and why not the SIMD ones. */
export interface KernelInfo {
  /** The WebAssembly SIMD kernels run (else the plain TypeScript ones). */
  readonly simd: boolean;
  /** Where the SIMD binary came from: embedded in the package, or supplied with setKernels(). */
  readonly source: 'embedded' | 'caller' | 'none';
  /** Set when simd is false. */
  readonly reason?: string;
}

type Which = 'kernels' | 'shared';
const compiled = new Map<Which, WebAssembly.Module | null>();
const supplied = new Map<Which, KernelSource>();
const reasons = new Map<Which, string>();

function disabled(): boolean {
  return platform().env('RNNX_WASM') === '0';
}

function embeddedBytes(which: Which): Uint8Array {
  const b64 = which === 'kernels' ? KERNELS_BASE64 : KERNELS_SHARED_BASE64;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function asBytes(src: ArrayBuffer | ArrayBufferView): Uint8Array {
  return src instanceof ArrayBuffer ? new Uint8Array(src) : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
}

function checked(bytes: Uint8Array, which: Which): Uint8Array | null {
  if (WebAssembly.validate(bytes)) return bytes;
  reasons.set(which, `the ${which === 'kernels' ? 'SIMD' : 'shared-memory SIMD'} kernels do not validate here (no WebAssembly SIMD${which === 'shared' ? ' or threads' : ''} in this engine, or a damaged binary)`);
  return null;
}

function load(which: Which): WebAssembly.Module | null {
  if (compiled.has(which)) return compiled.get(which)!;
  if (disabled()) {
    reasons.set(which, 'RNNX_WASM=0');
    compiled.set(which, null);
    return null;
  }
  const src = supplied.get(which);
  if (src instanceof WebAssembly.Module) {
    compiled.set(which, src);
    return src;
  }
  if (src !== undefined && !(src instanceof ArrayBuffer || ArrayBuffer.isView(src))) {
    reasons.set(which, 'the supplied kernels are a URL: await loadKernels() (InferenceSession.create does) before creating sessions synchronously');
    return null;
  }
  const bytes = checked(src === undefined ? embeddedBytes(which) : asBytes(src), which);
  let m: WebAssembly.Module | null = null;
  if (bytes) {
    try {
      m = new WebAssembly.Module(bytes);
    } catch (e) {
      // A browser's main thread refuses to compile modules over 4 KB synchronously: not cached,
      // so a later loadKernels() (InferenceSession.create) compiles asynchronously.
      reasons.set(which, `synchronous compilation refused (${(e as Error).message}); await loadKernels() or use InferenceSession.create`);
      return null;
    }
  }
  compiled.set(which, m);
  return m;
}

async function loadAsync(which: Which): Promise<WebAssembly.Module | null> {
  if (compiled.has(which)) return compiled.get(which)!;
  if (disabled()) return load(which);
  const src = supplied.get(which);
  if (src instanceof WebAssembly.Module) return load(which);
  let raw: Uint8Array;
  if (src === undefined) raw = embeddedBytes(which);
  else if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) raw = asBytes(src);
  else raw = await fetchBytes(src);
  const bytes = checked(raw, which);
  let m: WebAssembly.Module | null = null;
  if (bytes) {
    try {
      m = await WebAssembly.compile(bytes);
    } catch (e) {
      // The bytes validate, so the engine refused to compile them: a Content-Security-Policy
      // without 'wasm-unsafe-eval' does this. The plain TypeScript kernels run, and say why.
      reasons.set(which, `WebAssembly compilation refused (${(e as Error).message})`);
    }
  }
  compiled.set(which, m);
  return m;
}

async function fetchBytes(src: URL | string): Promise<Uint8Array> {
  const url = typeof src === 'string' ? new URL(src, (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url) : src;
  if (url.protocol === 'file:') return platform().readFile(url, 'WebAssembly kernels');
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new RnnxError(`cannot fetch the WebAssembly kernels from ${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new RnnxError(`cannot fetch the WebAssembly kernels from ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Supplies the kernel binaries instead of the embedded ones (e.g. kernels.wasm served next to
 * a bundle: `setKernels({ kernels: new URL('./kernels.wasm', import.meta.url) })`). Takes effect
 * for sessions created afterwards; `null` returns to the embedded build.
 */
export function setKernels(src: { kernels?: KernelSource | null; shared?: KernelSource | null }): void {
  for (const which of ['kernels', 'shared'] as const) {
    const v = src[which];
    if (v === undefined) continue;
    if (v === null) supplied.delete(which);
    else supplied.set(which, v);
    compiled.delete(which);
    reasons.delete(which);
  }
}

/** Compiles the kernels asynchronously (browsers' main threads need this; Node does not). */
export async function loadKernels(options: { shared?: boolean } = {}): Promise<KernelInfo> {
  await loadAsync('kernels');
  if (options.shared) await loadAsync('shared');
  return kernelInfo();
}

/** Which kernels sessions created now run. */
export function kernelInfo(): KernelInfo {
  const m = load('kernels');
  if (m) return { simd: true, source: supplied.has('kernels') ? 'caller' : 'embedded' };
  return { simd: false, source: 'none', reason: reasons.get('kernels') ?? 'unavailable' };
}

/**
 * The compiled SIMD kernels, or null when WebAssembly SIMD is unavailable, they could not be
 * compiled synchronously (a browser's main thread: see loadKernels), or RNNX_WASM=0 asks for
 * the plain TypeScript kernels.
 */
export function wasmModule(): WebAssembly.Module | null {
  return load('kernels');
}

/** The same kernels over an imported shared memory (worker-thread mode), or null. */
export function sharedWasmModule(): WebAssembly.Module | null {
  return load('shared');
}

/** One instance with its own memory and a bump allocator (16-byte aligned). */
export class WasmArena {
  readonly k: Kernels;
  private top = 16;

  /** With `memory`, the module imports it (the shared build); otherwise it owns its memory. */
  constructor(module: WebAssembly.Module, memory?: WebAssembly.Memory) {
    this.k = new WebAssembly.Instance(module, { env: memory ? { log: Math.log, memory } : { log: Math.log } }).exports as unknown as Kernels;
  }

  /** Reserves `floats` float32 slots (zeroed on first use of fresh memory; callers must not rely on it after reset). */
  alloc(floats: number): number {
    const ptr = this.top;
    this.top += (Math.ceil(floats / 4) * 4 + 4) * 4; // round up, plus 16 bytes of slack for vector overreads
    const need = this.top - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    return ptr;
  }

  mark(): number {
    return this.top;
  }

  reset(mark: number): void {
    this.top = mark;
  }

  /** A fresh view (views detach when memory grows). */
  f32(): Float32Array {
    return new Float32Array(this.k.memory.buffer);
  }
}
