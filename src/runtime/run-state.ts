import { RnnxError, type NodeRef } from '../ir/errors.js';
import type { DataType, TensorData } from '../ir/tensor.js';
import { SMALL_ARRAY_BYTES, type Arena } from './arena.js';
import { now, type Profiler } from './profile.js';

/** Iterations of Loop/Scan/SequenceMap bodies one run may take, all nesting levels together. */
export const DEFAULT_MAX_ITERATIONS = 10_000_000;
/** Allocations at least this large are checked against the memory budget first. */
const LARGE_ALLOCATION = 1 << 20;

interface ProcessLike {
  memoryUsage?: () => { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  getBuiltinModule?: (id: string) => unknown;
}

/** The V8 heap limit where the platform tells it (Node), else 0 (unknown). */
let heapLimitCache: number | undefined;
function heapLimit(): number {
  if (heapLimitCache === undefined) {
    heapLimitCache = 0;
    try {
      const proc = (globalThis as { process?: ProcessLike }).process;
      const v8 = proc?.getBuiltinModule?.('node:v8') as { getHeapStatistics?: () => { heap_size_limit: number } } | undefined;
      heapLimitCache = v8?.getHeapStatistics?.().heap_size_limit ?? 0;
    } catch {
      heapLimitCache = 0;
    }
  }
  return heapLimitCache;
}

/** The default memory budget: three quarters of the machine's memory where known, else 4 GiB. */
export function defaultMemoryLimit(): number {
  try {
    const proc = (globalThis as { process?: ProcessLike }).process;
    const os = proc?.getBuiltinModule?.('node:os') as { totalmem?: () => number } | undefined;
    const total = os?.totalmem?.();
    if (total && Number.isFinite(total)) return Math.floor(total * 0.75);
  } catch { /* not Node */ }
  return 4 * 1024 ** 3;
}

export interface RunLimits {
  /** Loop/Scan/SequenceMap body iterations per run, nesting included. */
  readonly maxIterations: number;
  /** Bytes the process may hold (array buffers + JS heap) before a large allocation is refused. */
  readonly memoryLimit: number;
}

/**
 * What one run shares across its graph and every subgraph it enters: the iteration budget, the
 * abort signal, buffer ownership (for reuse and in-place updates) and the profiler.
 */
export class RunState {
  iterations = 0;
  /** An async run's time slice ends here (`now()` ms): the executor pauses at the next step boundary. Infinity: never. */
  sliceEnd = Infinity;
  /** Milliseconds the run spent yielded to the event loop (not counted in profiled node times). */
  paused = 0;
  /** Arrays the allocator made since the running step started (with an arena: those may go back to it). */
  private readonly made: TensorData[] = [];
  recent = 0;
  private lastCheck = 0;

  constructor(
    readonly limits: RunLimits,
    readonly arena: Arena | null,
    readonly signal: AbortSignal | undefined,
    readonly profiler: Profiler | null,
  ) {}

  /** One more body iteration: checks the shared budget, the abort signal and the heap. */
  tick(node: NodeRef): void {
    const n = ++this.iterations;
    if (n > this.limits.maxIterations) {
      throw new RnnxError(`Node ${node.name || '<unnamed>'} (${node.opType}): this run took more than ${this.limits.maxIterations} loop iterations (all loops together); refusing to run on`);
    }
    if ((n & 63) === 0) {
      this.checkAbort();
      // The memory probe costs ~1 ms in Node: at most every 20 ms of looping.
      const t = now();
      if (t - this.lastCheck > 20) {
        this.lastCheck = t;
        this.checkMemory(0, node);
      }
    }
  }

  checkAbort(): void {
    if (this.signal?.aborted) {
      const reason = this.signal.reason;
      throw new RnnxError(`Run aborted${reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : ''}`);
    }
  }

  /** Refuses `bytes` more when the process would exceed the budget or the JS heap is nearly full. */
  checkMemory(bytes: number, node?: NodeRef): void {
    const proc = (globalThis as { process?: ProcessLike }).process;
    const mu = proc?.memoryUsage?.();
    const where = node ? `Node ${node.name || '<unnamed>'} (${node.opType}): ` : '';
    if (bytes > this.limits.memoryLimit) {
      throw new RnnxError(`${where}an allocation of ${fmtBytes(bytes)} exceeds the session's memory limit of ${fmtBytes(this.limits.memoryLimit)}`);
    }
    if (!mu) return;
    const limit = heapLimit();
    if (limit > 0 && mu.heapUsed > 0.85 * limit) {
      throw new RnnxError(`${where}the JavaScript heap is nearly full (${fmtBytes(mu.heapUsed)} of ${fmtBytes(limit)}); refusing to run on`);
    }
    const held = mu.heapUsed + mu.arrayBuffers;
    if (held + bytes > this.limits.memoryLimit) {
      throw new RnnxError(`${where}${fmtBytes(bytes)} more would exceed the session's memory limit (${fmtBytes(held)} held, limit ${fmtBytes(this.limits.memoryLimit)})`);
    }
  }

  /** The node whose step is running (named in allocation errors). */
  current: NodeRef = { name: '', opType: '' };

  /** The allocator the executor installs while a step runs: arena reuse plus the memory check. */
  readonly alloc = (type: DataType, n: number, ctor: new (n: number) => TensorData): TensorData => {
    const bytes = n * bytesPer(type);
    if (bytes >= LARGE_ALLOCATION) this.checkMemory(bytes, this.current);
    const arena = this.arena;
    if (arena === null) return new ctor(n);
    // Arrays of up to 64 bytes live inside the JS heap (no separate backing store): making one is
    // cheaper than the arena's lookups, so they never go through it (see Arena.give).
    const data = bytes <= SMALL_ARRAY_BYTES ? new ctor(n) : arena.take(ctor, n) ?? new ctor(n);
    this.made[this.recent++] = data;
    return data;
  };

  /** Whether the allocator made `data` since the running step started. */
  madeRecently(data: TensorData): boolean {
    const made = this.made;
    for (let i = this.recent - 1; i >= 0; i--) if (made[i] === data) return true;
    return false;
  }

  /** Drops the references to what the step allocated (the step is over). */
  forgetRecent(): void {
    const made = this.made;
    for (let i = 0; i < this.recent; i++) made[i] = undefined as unknown as TensorData;
    this.recent = 0;
  }
}

function bytesPer(type: DataType): number {
  switch (type) {
    case 'float64': case 'int64': case 'uint64': return 8;
    case 'float32': case 'int32': case 'uint32': return 4;
    case 'float16': case 'bfloat16': case 'int16': case 'uint16': return 2;
    default: return 1;
  }
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
