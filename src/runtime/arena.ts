import type { TensorData } from '../ir/tensor.js';

type Ctor = new (n: number) => TensorData;

/**
 * Typed arrays up to this many bytes are allocated inside V8's heap (no ArrayBuffer backing
 * store): new ones cost less than the arena's two Map lookups and zero-fill, so they bypass it.
 */
export const SMALL_ARRAY_BYTES = 64;
type Typed = Exclude<TensorData, string[]>;

/**
 * Buffers of a session's intermediates, kept from run to run: a value released by the executor
 * (its last reader ran, nothing else views it, it was produced during the run) is returned here,
 * and the next allocation of the same type and length takes it back, zero-filled, instead of
 * asking the engine for fresh memory. Holds at most `capacity` bytes; beyond that buffers are
 * left to the garbage collector.
 */
export class Arena {
  private readonly free = new Map<Ctor, Map<number, Typed[]>>();
  private held = 0;
  /** Allocations served from the arena / fresh, over the session's life (the benchmark reports them). */
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 256 * 1024 * 1024) {}

  take(ctor: Ctor, n: number): TensorData | undefined {
    const list = this.free.get(ctor)?.get(n);
    const buf = list?.pop();
    if (!buf) {
      this.misses++;
      return undefined;
    }
    this.held -= buf.byteLength;
    this.hits++;
    // TypedArray#fill is a runtime call (~0.1 µs): a plain loop is faster for short buffers.
    const n2 = buf.length;
    if (buf instanceof BigInt64Array || buf instanceof BigUint64Array) {
      if (n2 <= 16) for (let i = 0; i < n2; i++) buf[i] = 0n;
      else buf.fill(0n);
    } else if (n2 <= 16) {
      for (let i = 0; i < n2; i++) buf[i] = 0;
    } else {
      buf.fill(0);
    }
    return buf;
  }

  /** Gives a whole, unshared buffer back (small ones are left to the garbage collector). */
  give(data: Typed): void {
    if (data.byteLength <= SMALL_ARRAY_BYTES || this.held + data.byteLength > this.capacity) return;
    const ctor = data.constructor as Ctor;
    let byLen = this.free.get(ctor);
    if (!byLen) this.free.set(ctor, (byLen = new Map()));
    let list = byLen.get(data.length);
    if (!list) byLen.set(data.length, (list = []));
    list.push(data);
    this.held += data.byteLength;
  }

  get bytesHeld(): number {
    return this.held;
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}
