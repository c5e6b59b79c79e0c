import { RnnxError } from '../ir/errors.js';
import { platform, type WorkerHandle } from '../platform/index.js';
import { WasmArena, loadKernels, sharedWasmModule } from './runtime.js';

// Control block (Int32): 0 job sequence (−1: stop), 1 last finished job, 2..10 gemm arguments, 11 error flag.
const SEQ = 0, DONE = 1, ARGS = 2, ERR = 11;

/**
 * The helper thread (a Node worker thread or a Web Worker; the platform hands it `self.data`):
 * waits for a job, runs the gemm it names on the shared memory, reports back.
 */
const WORKER_SOURCE = `
const { module, memory, control } = self.data;
const k = new WebAssembly.Instance(module, { env: { memory, log: Math.log } }).exports;
const c = new Int32Array(control);
let seen = 0;
for (;;) {
  let spins = 0;
  while (Atomics.load(c, ${SEQ}) === seen) {
    if (++spins > 20000) { Atomics.wait(c, ${SEQ}, seen, 20); spins = 0; }
  }
  seen = Atomics.load(c, ${SEQ});
  if (seen < 0) break;
  try {
    k.gemm(c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
  } catch (e) {
    Atomics.store(c, ${ERR}, 1);
  }
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}
`;

/** Below this many multiply-adds a GEMM runs on the calling thread: the hand-off would cost more. */
const MIN_SPLIT_WORK = 1 << 18;

/** How long the main thread waits for the helper before giving up (a bound, never a hang). */
const WAIT_LIMIT_MS = 10_000;

/**
 * Two threads over one shared WebAssembly memory: a GEMM's column panels are split between the
 * calling thread and one worker, synchronised per call with a spin-then-wait barrier on Atomics.
 * Weights packed into `arena` are visible to both.
 */
export class GemmPool {
  readonly arena: WasmArena;
  private readonly worker: WorkerHandle;
  private readonly control = new Int32Array(new SharedArrayBuffer(64));
  private seq = 0;
  private closed = false;
  private failure: Error | undefined;
  private readonly canBlock = platform().canBlock;

  private constructor(module: WebAssembly.Module) {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    this.arena = new WasmArena(module, memory);
    this.worker = platform().startWorker(WORKER_SOURCE, { module, memory, control: this.control.buffer as SharedArrayBuffer });
    this.worker.onError((e) => { this.failure = e; });
  }

  /**
   * A pool, or null when shared-memory SIMD kernels are unavailable (no SharedArrayBuffer: a
   * page that is not cross-origin isolated). Synchronous creation waits for the worker, which
   * a browser's main thread cannot do (its workers start only once it yields): use createAsync.
   */
  static create(): GemmPool | null {
    if (!platform().canBlock) return null;
    const pool = GemmPool.start();
    pool?.sync(); // warm up: the worker has instantiated the module once this returns
    return pool;
  }

  /** Like create(), waiting for the worker without blocking the thread. */
  static async createAsync(): Promise<GemmPool | null> {
    if (!platform().sharedMemory) return null;
    await loadKernels({ shared: true });
    const pool = GemmPool.start();
    if (pool) await pool.syncAsync();
    return pool;
  }

  private static start(): GemmPool | null {
    if (!platform().sharedMemory) return null;
    const m = sharedWasmModule();
    return m ? new GemmPool(m) : null;
  }

  /** The kernels' gemm (same arguments), its column panels split across the two threads. */
  gemm(a: number, lda: number, bp: number, K: number, npad: number, c: number, ldc: number, M: number, accum: number): void {
    const panels = npad / 8;
    if (this.closed || panels < 8 || M * K * npad < MIN_SPLIT_WORK) {
      this.arena.k.gemm(a, lda, bp, K, npad, c, ldc, M, accum);
      return;
    }
    const mine = Math.floor(panels / 2);
    const theirs = panels - mine;
    // The worker takes the trailing panels: B from panel `mine`, C from column 8·mine.
    const ctl = this.control;
    ctl[ARGS] = a; ctl[ARGS + 1] = lda; ctl[ARGS + 2] = bp + mine * K * 32; ctl[ARGS + 3] = K; ctl[ARGS + 4] = theirs * 8;
    ctl[ARGS + 5] = c + mine * 32; ctl[ARGS + 6] = ldc; ctl[ARGS + 7] = M; ctl[ARGS + 8] = accum;
    this.post();
    this.arena.k.gemm(a, lda, bp, K, mine * 8, c, ldc, M, accum);
    this.await();
  }

  private post(): void {
    this.seq = this.seq === 0x7fffffff ? 1 : this.seq + 1;
    Atomics.store(this.control, SEQ, this.seq);
    Atomics.notify(this.control, SEQ);
  }

  private await(): void {
    const start = Date.now();
    let spins = 0;
    while (Atomics.load(this.control, DONE) !== this.seq) {
      if (++spins > 20000) {
        if (this.failure) throw new RnnxError(`worker thread failed: ${this.failure.message}`);
        if (Date.now() - start > WAIT_LIMIT_MS) throw new RnnxError(`worker thread did not answer within ${WAIT_LIMIT_MS} ms`);
        if (this.canBlock) Atomics.wait(this.control, DONE, Atomics.load(this.control, DONE), 20);
        spins = 0;
      }
    }
    if (Atomics.load(this.control, ERR)) throw new RnnxError('worker thread: the SIMD kernel trapped');
  }

  private sync(): void {
    this.control[ARGS + 7] = 0; // M = 0: an empty job
    this.post();
    this.await();
  }

  /** The warm-up job, awaited by polling (a browser worker starts only after the caller yields). */
  private async syncAsync(): Promise<void> {
    this.control[ARGS + 7] = 0;
    this.post();
    const start = Date.now();
    while (Atomics.load(this.control, DONE) !== this.seq) {
      if (this.failure) { this.close(); throw new RnnxError(`worker failed to start: ${this.failure.message}`); }
      if (Date.now() - start > WAIT_LIMIT_MS) { this.close(); throw new RnnxError(`worker did not start within ${WAIT_LIMIT_MS} ms`); }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
    void this.worker.terminate();
  }
}
