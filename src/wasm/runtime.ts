import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The exports of kernels.wat. Pointers are byte offsets, sizes element counts. */
export interface Kernels {
  readonly memory: WebAssembly.Memory;
  gemm(a: number, lda: number, bp: number, K: number, npad: number, c: number, ldc: number, M: number, accum: number): void;
  lstm_cell(g: number, c: number, h: number, H: number): void;
  gru_cell(x: number, hh: number, bhn: number, h: number, H: number): void;
  tanh(x: number, y: number, n: number): void;
  add_bias(y: number, b: number, rows: number, n: number, ld: number): void;
  softmax_rows(x: number, y: number, rows: number, n: number, logmode: number): void;
}

const compiled = new Map<string, WebAssembly.Module | null>();

function load(file: string): WebAssembly.Module | null {
  if (compiled.has(file)) return compiled.get(file)!;
  let m: WebAssembly.Module | null = null;
  if (process.env.RNNX_WASM !== '0') {
    try {
      const bytes = fs.readFileSync(fileURLToPath(new URL(`./${file}`, import.meta.url)));
      if (WebAssembly.validate(bytes)) m = new WebAssembly.Module(bytes);
    } catch {
      m = null;
    }
  }
  compiled.set(file, m);
  return m;
}

/**
 * The compiled SIMD kernels, or null when WebAssembly SIMD is unavailable, the binary was not
 * built, or RNNX_WASM=0 asks for the plain TypeScript kernels.
 */
export function wasmModule(): WebAssembly.Module | null {
  return load('kernels.wasm');
}

/** The same kernels over an imported shared memory (worker-thread mode), or null. */
export function sharedWasmModule(): WebAssembly.Module | null {
  return load('kernels-shared.wasm');
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
