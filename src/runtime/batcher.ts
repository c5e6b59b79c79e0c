import { RnnxError } from '../ir/errors.js';
import { isFloat, sizeOf, Tensor, allocData } from '../ir/tensor.js';
import { concatAlong, excess, gatherAlong, splitAlong, stackedAxis, type RowSpan } from './batch-axis.js';
import { decodeState, encodeState } from './state-bytes.js';
import { StreamSpec, type StreamOptions, type StreamSession } from './stream.js';

// setImmediate where there is one (Node), else a 0 ms timeout (browsers).
const g = globalThis as { setImmediate?: (f: () => void) => unknown; clearImmediate?: (h: unknown) => void };
const soon = (f: () => void): ReturnType<typeof setTimeout> => (g.setImmediate ? g.setImmediate(f) : setTimeout(f, 0)) as ReturnType<typeof setTimeout>;
const cancelSoon = (h: ReturnType<typeof setTimeout>): void => { if (g.clearImmediate) g.clearImmediate(h); else clearTimeout(h); };

type TensorLike = Tensor | { type: string; data: unknown; dims: readonly number[] };

/** The test suite's tolerance: a batched row must equal the row run alone within |a−b| ≤ ATOL + RTOL·|b|. */
export const BATCH_TOL = { atol: 1e-5, rtol: 1e-4 } as const;

export interface BatcherOptions extends StreamOptions {
  /** Most chunks in one run (default 64). */
  readonly maxBatch?: number;
  /** How long a chunk waits for others after the first pending one arrives (default 2 ms; 0 = same event-loop turn). */
  readonly maxWaitMs?: number;
  /** Batch axis of an input or state, by input name; overrides the detection. */
  readonly batchAxes?: Readonly<Record<string, number>>;
  /**
   * When the model cannot be batched (fixed batch of 1, a batch axis the graph does not establish,
   * or a batched probe run that differs from separate runs): 'error' (default) throws, or rejects
   * the chunks, with the reason; 'sequential' runs the streams' chunks one after another instead.
   */
  readonly fallback?: 'error' | 'sequential';
}

interface Job {
  readonly feeds: Record<string, Tensor>;
  readonly resolve: (r: Record<string, Tensor>) => void;
  readonly reject: (e: unknown) => void;
}

/** How outputs split back: the axis of each output the rows are stacked on (undefined: refused). */
interface Verdict { readonly ok: boolean; readonly reason?: string; readonly outAxes?: ReadonlyMap<string, number> }

/**
 * Many independent streams of one model, their ready chunks gathered into one run along each
 * input's and state's batch axis and the outputs and states split back.
 */
export class StreamBatcher {
  readonly spec: StreamSpec;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  /** 'batched', or 'sequential' when batching was refused and options.fallback allowed it. */
  mode: 'batched' | 'sequential' = 'batched';
  /** Why batching was refused (undefined while batching). */
  reason?: string;
  /** Batch axis of every fed input and state. */
  readonly axes: ReadonlyMap<string, number>;
  private readonly fallback: 'error' | 'sequential';
  private readonly streams = new Map<string, BatchedStream>();
  private ready: BatchedStream[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setTimeout> | undefined;
  private readonly verdicts = new Map<string, Verdict>();
  /** Batched runs made, and chunks they carried (for callers' statistics). */
  runs = 0;
  chunks = 0;

  constructor(readonly session: StreamSession, options: BatcherOptions = {}) {
    this.spec = new StreamSpec(session, options);
    this.maxBatch = options.maxBatch ?? 64;
    this.maxWaitMs = options.maxWaitMs ?? 2;
    this.fallback = options.fallback ?? 'error';
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RnnxError(`maxBatch must be an integer >= 1, got ${options.maxBatch}`);
    if (!(this.maxWaitMs >= 0)) throw new RnnxError(`maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
    if (this.fallback !== 'error' && this.fallback !== 'sequential') throw new RnnxError(`fallback must be 'error' or 'sequential', got '${options.fallback}'`);
    const { axes, problems } = this.batchAxes(options.batchAxes ?? {});
    this.axes = axes;
    if (problems.length > 0) this.refuse(`this model cannot be batched: ${problems.join('; ')}`, true);
  }

  private batchAxes(given: Readonly<Record<string, number>>): { axes: Map<string, number>; problems: string[] } {
    const axes = new Map<string, number>();
    const problems: string[] = [];
    const info = this.spec.inputInfo;
    for (const k of Object.keys(given)) {
      if (!this.spec.feedNames.includes(k) && !this.spec.pairs.some((p) => p.input === k)) {
        throw new RnnxError(`batchAxes: '${k}' is not a fed input or state of this stream (${[...this.spec.feedNames, ...this.spec.pairs.map((p) => p.input)].join(', ')})`);
      }
    }
    const symbols = new Set<string>();
    for (const p of this.spec.pairs) {
      const shape = info.get(p.input)!.shape;
      const a = given[p.input] ?? p.batchAxis;
      if (a === undefined) { problems.push(`the batch axis of state '${p.input}' is not established by the graph (give batchAxes.${p.input})`); continue; }
      axes.set(p.input, a);
      const d = shape?.[a];
      if (typeof d === 'string' && d) symbols.add(d);
    }
    for (const n of this.spec.feedNames) {
      const shape = info.get(n)!.shape;
      let a: number | undefined = given[n];
      if (a === undefined && shape) {
        const named = shape.findIndex((d) => typeof d === 'string' && symbols.has(d));
        a = named >= 0 ? named : shape.length > 0 && typeof shape[0] !== 'number' ? 0 : undefined;
      }
      if (a === undefined) { problems.push(`input '${n}' has no batch axis${shape ? ` (declared [${shape.map((d) => d ?? '?')}])` : ''} (give batchAxes.${n})`); continue; }
      axes.set(n, a);
    }
    for (const [n, a] of axes) {
      const shape = info.get(n)!.shape;
      if (shape && (a < 0 || a >= shape.length)) problems.push(`batch axis ${a} of '${n}' is outside its rank ${shape.length}`);
      else if (shape && typeof shape[a] === 'number') problems.push(`'${n}' has a fixed batch of ${shape[a]} (declared [${shape.map((d) => d ?? '?')}], axis ${a})`);
    }
    return { axes, problems };
  }

  private refuse(reason: string, atCreation: boolean): void {
    if (this.fallback === 'error') {
      if (atCreation) throw new RnnxError(`${reason}. Pass fallback: 'sequential' to run the streams one after another.`);
      this.reason = reason;
      return;
    }
    this.mode = 'sequential';
    this.reason = reason;
  }

  /** The stream with this id (created on first use, with the initial state). */
  stream(id: string): BatchedStream {
    let s = this.streams.get(id);
    if (!s) {
      s = new BatchedStream(this, id);
      this.streams.set(id, s);
    }
    return s;
  }

  has(id: string): boolean { return this.streams.has(id); }
  /** @internal */
  isOpen(s: BatchedStream): boolean { return this.streams.get(s.id) === s; }
  get size(): number { return this.streams.size; }
  get ids(): string[] { return [...this.streams.keys()]; }

  /** Removes a stream; its pending chunks are rejected. */
  remove(id: string): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    this.ready = this.ready.filter((r) => r !== s);
    s.ownStates(); // a closed stream keeps its last states (state, saveState) but no batch's memory
    for (const j of s.pending.splice(0)) j.reject(new RnnxError(`stream '${id}' was closed`));
  }

  /** @internal */
  enqueue(s: BatchedStream, job: Job): void {
    s.pending.push(job);
    if (s.pending.length === 1) this.ready.push(s);
    this.schedule();
  }

  private schedule(): void {
    if (this.ready.length === 0) return;
    if (this.ready.length >= this.maxBatch || this.maxWaitMs === 0) {
      this.immediate ??= soon(() => this.flush());
    } else if (this.timer === undefined && this.immediate === undefined) {
      this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
    }
  }

  /** Runs the pending chunks now (up to maxBatch per run, one per stream), whatever the wait. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) cancelSoon(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    while (this.ready.length > 0) {
      const take = this.ready.splice(0, this.maxBatch);
      const jobs = take.map((s) => s.pending[0]);
      this.runJobs(take, jobs);
      for (const s of take) {
        s.pending.shift();
        if (s.pending.length > 0 && this.streams.get(s.id) === s) this.ready.push(s);
      }
      if (this.ready.length < this.maxBatch) break;
    }
    this.schedule();
  }

  private runJobs(streams: BatchedStream[], jobs: Job[]): void {
    if (this.mode === 'sequential' || streams.length === 1) {
      streams.forEach((s, i) => this.runAlone(s, jobs[i]));
      return;
    }
    // Chunks batch together when their shapes agree apart from the batch axis (one group, almost always).
    const groups: number[][] = [];
    streams.forEach((s, i) => {
      const g = groups.find((g) => this.sameShapes(streams[g[0]], jobs[g[0]].feeds, s, jobs[i].feeds));
      if (g) g.push(i);
      else groups.push([i]);
    });
    for (const idx of groups) {
      const ss = idx.map((i) => streams[i]);
      const js = idx.map((i) => jobs[i]);
      if (idx.length === 1) { this.runAlone(ss[0], js[0]); continue; }
      const key = this.signature(ss[0], js[0].feeds);
      let v = this.verdicts.get(key);
      if (!v) {
        v = this.probe(ss[0], js[0].feeds);
        this.verdicts.set(key, v);
        if (!v.ok) this.refuse(v.reason!, false);
      }
      if (!v.ok) {
        if ((this.mode as string) === 'sequential') ss.forEach((s, i) => this.runAlone(s, js[i]));
        else js.forEach((j) => j.reject(new RnnxError(`${v!.reason}. Pass fallback: 'sequential' to run the streams one after another.`)));
        continue;
      }
      this.runBatch(ss, js, v.outAxes!);
    }
  }

  /** Whether two chunks (with their streams' states) have one dtype and shape apart from the batch axis. */
  private sameShapes(a: BatchedStream, fa: Record<string, Tensor>, b: BatchedStream, fb: Record<string, Tensor>): boolean {
    const same = (n: string, x: { type: string; dims: readonly number[] }, y: { type: string; dims: readonly number[] }) => {
      if (x.type !== y.type || x.dims.length !== y.dims.length) return false;
      const ax = this.axes.get(n);
      for (let i = 0; i < x.dims.length; i++) if (i !== ax && x.dims[i] !== y.dims[i]) return false;
      return true;
    };
    for (const n of this.spec.feedNames) if (!same(n, fa[n], fb[n])) return false;
    for (const p of this.spec.pairs) if (!same(p.input, a.stateRows(p.input).t, b.stateRows(p.input).t)) return false;
    return true;
  }

  private signature(s: BatchedStream, feeds: Record<string, Tensor>): string {
    const part = (n: string, t: Tensor) => `${n}:${t.type}[${t.dims.map((d, i) => (i === this.axes.get(n) ? '*' : d)).join(',')}]`;
    return [...this.spec.feedNames.map((n) => part(n, feeds[n])), ...this.spec.pairs.map((p) => part(p.input, s.stateRows(p.input).t))].join(' ');
  }

  private feedsFor(s: BatchedStream, job: Job): Record<string, Tensor> {
    const all: Record<string, Tensor> = { ...job.feeds };
    for (const [k, v] of this.spec.constants) all[k] = v;
    for (const p of this.spec.pairs) all[p.input] = s.block ? s.ownStates().get(p.input)! : s.stateRows(p.input).t;
    return all;
  }

  private runAlone(s: BatchedStream, job: Job): void {
    let out: Record<string, Tensor>;
    try {
      out = this.session.runSync(this.feedsFor(s, job));
    } catch (e) {
      job.reject(e);
      return;
    }
    this.runs++;
    this.chunks++;
    s.takeOutputs(out, job);
  }

  private runBatch(streams: BatchedStream[], jobs: Job[], outAxes: ReadonlyMap<string, number>): void {
    let out: Record<string, Tensor>;
    const sizes = jobs.map((j, i) => this.rowsOf(streams[i], j));
    // The same streams in the same order as the run that left their states in one block: that
    // block's tensors are the batched states as they are (no gathering, no copy).
    const b0 = streams[0].block;
    const whole = b0 !== null && b0.members.length === streams.length && streams.every((s, i) => s.block === b0 && b0.members[i] === s);
    try {
      const all: Record<string, Tensor> = {};
      for (const n of this.spec.feedNames) all[n] = concatAlong(jobs.map((j) => j.feeds[n]), this.axes.get(n)!);
      for (const [k, v] of this.spec.constants) all[k] = v;
      for (const p of this.spec.pairs) {
        all[p.input] = whole ? b0.tensors.get(p.input)! : gatherAlong(streams.map((s) => s.stateRows(p.input)), this.axes.get(p.input)!);
      }
      out = this.session.runSync(all);
    } catch {
      // Find the chunk at fault: each runs alone and gets its own result or error.
      streams.forEach((s, i) => this.runAlone(s, jobs[i]));
      return;
    }
    this.runs++;
    this.chunks += jobs.length;
    // States stay in the run's state outputs, each stream holding its rows; other outputs are split.
    const block = new StateBlock(new Map(this.spec.pairs.map((p) => [p.input, out[p.output]])), streams, sizes);
    const pieces = new Map<string, Tensor[]>();
    for (const name of this.spec.outputNames) pieces.set(name, splitAlong(out[name], outAxes.get(name)!, sizes));
    const olds = streams.map((s, i) => s.joinBlock(block, i));
    for (const o of olds) o?.left();
    streams.forEach((s, i) => {
      const mine: Record<string, Tensor> = {};
      for (const [name, ts] of pieces) mine[name] = ts[i];
      jobs[i].resolve(mine);
    });
  }

  private rowsOf(s: BatchedStream, j: Job): number {
    const n = this.spec.feedNames[0];
    if (n !== undefined) return j.feeds[n].dims[this.axes.get(n)!];
    const p = this.spec.pairs[0];
    const r = s.stateRows(p.input);
    return r.n;
  }

  /**
   * Checks, once per feed shape, that batching is exact for this model: three rows of random data
   * run alone and run as one batch must agree within BATCH_TOL, and every output must be the rows
   * stacked on one axis (the state outputs on their state's axis). A graph that mixes batch rows
   * (a Reshape folding the batch, a reduction over it) fails here and batching is refused.
   */
  private probe(s: BatchedStream, example: Record<string, Tensor>): Verdict {
    const K = 3;
    let seed = 0x9e3779b9;
    const rand = () => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed / 4294967296;
    };
    const randomLike = (t: Tensor, scale: number): Tensor => {
      if (!isFloat(t.type) || t.type === 'float16' || t.type === 'bfloat16') return t;
      const d = allocData(t.type, sizeOf(t.dims)) as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = (rand() * 2 - 1) * scale;
      return new Tensor(t.type, d, t.dims);
    };
    const rows: Record<string, Tensor>[] = [];
    for (let k = 0; k < K; k++) {
      const r: Record<string, Tensor> = {};
      for (const n of this.spec.feedNames) r[n] = randomLike(example[n], 1);
      for (const p of this.spec.pairs) r[p.input] = randomLike(s.states.get(p.input)!, 0.5);
      rows.push(r);
    }
    const withConsts = (r: Record<string, Tensor>) => {
      const all = { ...r };
      for (const [k, v] of this.spec.constants) all[k] = v;
      return all;
    };
    let alone: Record<string, Tensor>[];
    let batched: Record<string, Tensor>;
    try {
      alone = rows.map((r) => this.session.runSync(withConsts(r)));
    } catch (e) {
      return { ok: false, reason: `a probe run of one chunk failed: ${(e as Error).message}` };
    }
    try {
      const b: Record<string, Tensor> = {};
      for (const n of Object.keys(rows[0])) b[n] = concatAlong(rows.map((r) => r[n]), this.axes.get(n)!);
      batched = this.session.runSync(withConsts(b));
    } catch (e) {
      return { ok: false, reason: `a batched run of ${K} chunks fails (${(e as Error).message})` };
    }
    const outAxes = new Map<string, number>();
    for (const name of this.session.outputNames) {
      const a = stackedAxis(batched[name].dims, alone.map((o) => o[name].dims));
      if (a === undefined) {
        return { ok: false, reason: `output '${name}' of a batch of ${K} is [${batched[name].dims}] while one chunk gives [${alone[0][name].dims}]: no batch axis to split it on` };
      }
      const pair = this.spec.pairs.find((p) => p.output === name);
      if (pair && a !== this.axes.get(pair.input)) {
        return { ok: false, reason: `state output '${name}' stacks rows on axis ${a} but its input '${pair.input}' on axis ${this.axes.get(pair.input)}` };
      }
      const parts = splitAlong(batched[name], a, alone.map((o) => o[name].dims[a]));
      for (let k = 0; k < K; k++) {
        const c = excess(parts[k], alone[k][name], BATCH_TOL.atol, BATCH_TOL.rtol);
        if (!c.ok) {
          return { ok: false, reason: `the graph mixes batch rows: output '${name}' of row ${k} in a batch of ${K} differs from the same chunk run alone (max |a-b| ${c.maxAbs.toExponential(2)})` };
        }
      }
      outAxes.set(name, a);
    }
    return { ok: true, outAxes };
  }
}

/**
 * The states a batched run left for its streams: its state outputs, whole, with stream k's rows
 * at [at[k], at[k] + n[k]) on each state's batch axis. Streams hold their rows here instead of a
 * copy; when the same streams run together again the tensors are fed back as they are. When only
 * a quarter of the members still hold rows here (the others ran on, closed or were read), those
 * copy their rows out so the block's memory can go.
 */
class StateBlock {
  readonly at: number[] = [];
  holders = 0;
  private releasing = false;

  constructor(readonly tensors: ReadonlyMap<string, Tensor>, readonly members: readonly BatchedStream[], readonly n: readonly number[]) {
    let a = 0;
    for (const k of n) { this.at.push(a); a += k; }
  }

  /** @internal A member let go of its rows. */
  left(): void {
    this.holders--;
    if (this.holders > 0 && this.holders * 4 <= this.members.length && !this.releasing) {
      this.releasing = true;
      for (const m of this.members) if (m.block === this) m.ownStates();
    }
  }
}

/** One stream of a batcher: `await stream.run(feeds)` resolves when the batch carrying its chunk has run. */
export class BatchedStream {
  /**
   * Own state tensors; null while the stream's states are rows of `block`, or, with no block
   * either, while it is at the initial states (shared by such streams: an idle new stream costs
   * no state memory).
   */
  private own: Map<string, Tensor> | null = null;
  /** @internal The batched run whose state outputs hold this stream's states (row `index`), or null. */
  block: StateBlock | null = null;
  private index = 0;
  /** @internal */
  readonly pending: Job[] = [];

  constructor(private readonly batcher: StreamBatcher, readonly id: string) {}

  /** @internal The stream's states as tensors of its own (copied out of a block first). */
  get states(): Map<string, Tensor> {
    return this.ownStates();
  }

  /** @internal Where the state `name` lives: rows of a batched tensor, or the whole of its own tensor. */
  stateRows(name: string): RowSpan {
    const b = this.block;
    if (b) return { t: b.tensors.get(name)!, at: b.at[this.index], n: b.n[this.index] };
    const t = this.own ? this.own.get(name)! : this.batcher.spec.initialState(name);
    return { t, at: 0, n: t.dims[this.batcher.axes.get(name)!] };
  }

  /** @internal */
  ownStates(): Map<string, Tensor> {
    if (this.block) {
      const own = new Map<string, Tensor>();
      for (const p of this.batcher.spec.pairs) own.set(p.input, gatherAlong([this.stateRows(p.input)], this.batcher.axes.get(p.input)!));
      this.setOwn(own);
    } else if (!this.own) this.own = this.batcher.spec.initialStates();
    return this.own!;
  }

  private setOwn(states: Map<string, Tensor> | null): void {
    const b = this.block;
    this.own = states;
    this.block = null;
    b?.left();
  }

  /**
   * @internal After a batched run: this stream's states are row `index` of `block`. Returns the
   * block it held rows of before, for the caller to release once every stream of the run has
   * joined (so streams that moved on together are not copied out of it).
   */
  joinBlock(block: StateBlock, index: number): StateBlock | null {
    const old = this.block;
    this.block = block;
    this.index = index;
    this.own = null;
    block.holders++;
    return old;
  }

  run(feeds: Readonly<Record<string, TensorLike>>): Promise<Record<string, Tensor>> {
    if (!this.batcher.isOpen(this)) return Promise.reject(new RnnxError(`stream '${this.id}' was closed`));
    let checked: Record<string, Tensor>;
    try {
      checked = this.batcher.spec.checkFeeds(feeds);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => this.batcher.enqueue(this, { feeds: checked, resolve, reject }));
  }

  /** @internal After a run of this stream alone. */
  takeOutputs(out: Record<string, Tensor>, job: Job): void {
    const next = new Map<string, Tensor>();
    for (const p of this.batcher.spec.pairs) next.set(p.input, out[p.output]);
    this.setOwn(next);
    const r: Record<string, Tensor> = {};
    for (const n of this.batcher.spec.outputNames) r[n] = out[n];
    job.resolve(r);
  }

  get state(): Readonly<Record<string, Tensor>> { return Object.fromEntries(this.ownStates()); }
  reset(): void { this.setOwn(null); }
  saveState(): Uint8Array { return encodeState(this.batcher.spec.pairs.map((p) => [p.input, this.ownStates().get(p.input)!])); }
  loadState(bytes: Uint8Array): void { this.setOwn(decodeState(bytes, this.batcher.spec.stateExpectations())); }
  /** Leaves the batcher (pending chunks are rejected). */
  close(): void { this.batcher.remove(this.id); }
}

export function createStreamBatcher(session: StreamSession, options: BatcherOptions = {}): StreamBatcher {
  return new StreamBatcher(session, options);
}
