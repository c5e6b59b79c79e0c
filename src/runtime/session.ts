import { NodeError, RnnxError, nodeError, type NodeRef } from '../ir/errors.js';
import { outerReads, readsOf, subgraphsOf, validateGraph, type Graph, type Model, type Node, type ValueInfo } from '../ir/graph.js';
import { asTensor, sameDims, setAllocator, Tensor, type TensorData } from '../ir/tensor.js';
import { OptionalValue, TensorSequence, describeValue, type Value } from '../ir/value.js';
import { loadModel, type LoadOptions } from '../import/model.js';
import { GemmPool } from '../wasm/threads.js';
import { loadKernels, wasmModule } from '../wasm/runtime.js';
import { resolveSource, resolveSourceSync, type ModelSource, type ResolvedSource } from '../platform/source.js';
import { AttrReader, type BodyRuns, type OpContext, type OpDef, type Scope, type SubgraphPlan } from '../ops/op.js';
import { checkArity, knownOp, lookupOp } from '../ops/registry.js';
import { Arena } from './arena.js';
import { fuseBiasAdds, fuseConvActivations } from './epilogue.js';
import { fuseLayerNormChains } from './norm-fusion.js';
import { shapeOnlyNodes } from './shape-cache.js';
import { now, Profiler, type ProfileResult } from './profile.js';
import { DEFAULT_MAX_ITERATIONS, defaultMemoryLimit, RunState, type RunLimits } from './run-state.js';
import { createStream, type Stream, type StreamOptions } from './stream.js';
import { createStreamBatcher, type BatcherOptions, type StreamBatcher } from './batcher.js';

export interface PlanOptions {
  /** Worker-thread GEMM pool shared by the plan's recurrent layers. */
  readonly pool?: GemmPool;
  /** For a subgraph: the plan of the enclosing graph (its values and constants are visible). */
  readonly parent?: ExecutionPlan;
  /** For a subgraph: the path of enclosing node names, for profiles (`If_0/Loop_3`). */
  readonly path?: string;
}

/** Ops whose output is random: never folded into constants, even without inputs. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

export interface SessionOptions extends LoadOptions {
  /**
   * 1 (default) or 2: with 2, the SIMD recurrent kernels split every GEMM's columns with one
   * worker thread over shared WebAssembly memory (helps batch-1 streaming on a multi-core machine).
   */
  readonly threads?: 1 | 2;
  /** Collect per-node timings from the first run on (read them with `endProfiling()`). */
  readonly enableProfiling?: boolean;
  /** Loop/Scan/SequenceMap iterations one run may take, all nesting levels together (default 10,000,000). */
  readonly maxIterations?: number;
  /**
   * Bytes the process may hold (array buffers and JS heap) when a run makes a large allocation;
   * beyond it the run ends with an RnnxError instead of an out-of-memory abort. Default: 75 % of
   * the machine's memory (4 GiB where unknown).
   */
  readonly memoryLimit?: number;
  /** Reuse intermediate buffers from run to run (default true). */
  readonly enableMemoryArena?: boolean;
}

/** onnxruntime's run options; rnnx adds `signal`. */
export interface RunOptions {
  /** Aborts the run between nodes (and between loop iterations) with an RnnxError. */
  readonly signal?: AbortSignal;
  /** Accepted for onnxruntime compatibility; rnnx does not log. */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Accepted for onnxruntime compatibility; rnnx does not log. */
  readonly logVerbosityLevel?: number;
  /** Accepted for onnxruntime compatibility (a label). */
  readonly tag?: string;
  /** onnxruntime's `terminate`: true ends the run at once, like an aborted signal. */
  readonly terminate?: boolean;
}
const RUN_OPTION_KEYS = new Set(['signal', 'logSeverityLevel', 'logVerbosityLevel', 'tag', 'terminate']);
const SESSION_OPTION_KEYS = new Set([
  'fuse', 'threads', 'enableProfiling', 'maxIterations', 'memoryLimit', 'enableMemoryArena',
  // onnxruntime's options that mean nothing to rnnx's single CPU engine: accepted as documented no-ops.
  'logSeverityLevel', 'logVerbosityLevel', 'logId', 'graphOptimizationLevel', 'enableCpuMemArena', 'enableMemPattern',
  'executionMode', 'interOpNumThreads', 'extra', 'executionProviders', 'intraOpNumThreads',
]);

/** One prepared node of a plan. */
export interface Step {
  readonly node: Node;
  readonly def: OpDef<unknown>;
  readonly attrs: unknown;
  readonly ctx: OpContext;
  /** Values whose last reader is this step: released after it runs. */
  readonly release: readonly string[];
  /** Input positions whose value dies here and is an intermediate (not a feed, constant or output). */
  readonly dying: readonly number[];
  /** Slots of the inputs (-1: omitted), outputs (-1: omitted), and the values released after the step. */
  readonly inSlots: Int32Array;
  readonly outSlots: Int32Array;
  readonly releaseSlots: Int32Array;
  /** Whether the node runs subgraphs (its profile time includes theirs). */
  readonly hasBodies: boolean;
  /** Its outputs follow from the feeds' shapes alone (in a body: its inputs' and the enclosing values' shapes): computed once per those shapes. */
  readonly shapeOnly: boolean;
  /** The op's call is body runs the executor drives (If/Loop/Scan: an async run may yield between them). */
  readonly driven: boolean;
}

/**
 * A step as the executor holds it: a class, so every step has one hidden class and the executor's
 * property reads stay monomorphic; with the scratch it reuses from run to run.
 */
class PlanStep implements Step {
  /** Whether the op takes and returns any values (sequences, optionals), not only tensors. */
  readonly values: boolean;
  /** The inputs of the running call (steps not driven: their call never pauses, so one array serves every run). */
  readonly args: (Value | undefined)[];
  /** `reuse(i)` for the op, reading `args` and `frame` (undefined when no input dies here). */
  readonly reuse: ((i: number) => boolean) | undefined;
  /** The frame whose call of this step is running (set around the call). */
  frame: Frame | null = null;
  /**
   * When the shape cache serves the shape-only steps: the values whose last readers were the
   * skipped steps since the previous step that runs, released before this one.
   */
  skipRelease: Int32Array = new Int32Array(0);

  constructor(
    readonly node: Node,
    readonly def: OpDef<unknown>,
    readonly attrs: unknown,
    readonly ctx: OpContext,
    readonly release: readonly string[],
    readonly dying: readonly number[],
    readonly inSlots: Int32Array,
    readonly outSlots: Int32Array,
    readonly releaseSlots: Int32Array,
    readonly hasBodies: boolean,
    readonly shapeOnly: boolean,
    readonly driven: boolean,
    /** Slots whose arrays become pinned after the step: a value op's inputs, and what its bodies read from this graph. */
    readonly pinSlots: Int32Array,
  ) {
    this.values = def.values === true;
    this.args = new Array<Value | undefined>(inSlots.length).fill(undefined);
    this.reuse = dying.length === 0 ? undefined : (k: number) => {
      const f = this.frame;
      if (f === null || !dying.includes(k)) return false;
      const id = f.own[this.inSlots[k]];
      return id >= 0 && f.count[id] === 1;
    };
  }
}

export type Feeds = Record<string, Tensor | { type: string; data: unknown; dims: readonly number[] }>;
/** Feeds for runValues: tensors, sequences (arrays of tensors) and optionals (null: empty). */
export type ValueFeeds = Record<string, Value | Feeds[string] | readonly Feeds[string][] | null>;

/**
 * The slots of one execution of a plan; the scope ops hand to their subgraphs. Ownership of
 * memory is tracked by slot: `own[slot]` is the buffer id of the slot's data array (the slot that
 * first held it in this execution), or -1 when this frame does not own it (feeds, constants,
 * enclosing values, body inputs, cached shape values, what value ops return: never overwritten
 * or recycled here). `count[id]` is the number of live slots holding buffer `id` (PINNED: never
 * reused), `born[id]` whether the run's allocator made it during the step that produced it (the
 * only arrays that may go back to the arena). Ops return fresh arrays or an input's own data
 * array, never a view into another array's memory, so an output is matched to its inputs by
 * data array identity.
 */
export class Frame implements Scope {
  readonly own: Int32Array;
  readonly count: Int32Array;
  readonly born: Uint8Array;
  /** The feeds' (a body's inputs' and enclosing values') types and shapes, when this execution fills the shape cache. */
  shapeKey?: ShapeKey;
  /** The shape-only values this execution computes, by slot (to cache). */
  shapeValues?: (Value | undefined)[];
  /** Where the execution is: the next step to run, and the cached shape-only values it uses (null: none). */
  pc = 0;
  cached: (Value | undefined)[] | null = null;
  /** A step with bodies that is between body runs: the step, its inputs, its body runs, when it started. */
  step: PlanStep | null = null;
  args: (Value | undefined)[] | null = null;
  runs: BodyRuns | null = null;
  t0 = 0;
  paused0 = 0;
  /** For a body execution: the node that runs it (named in errors). */
  node: NodeRef | null = null;
  constructor(readonly plan: ExecutionPlan, readonly slots: (Value | undefined)[], public state: RunState) {
    this.own = new Int32Array(slots.length).fill(-1);
    this.count = new Int32Array(slots.length);
    this.born = new Uint8Array(slots.length);
  }
  tick(node: NodeRef): void {
    this.state.tick(node);
  }
}

/** What keys a plan's shape cache: per key slot, the value's type and dims (null: not a tensor). */
interface ShapeKey {
  readonly types: (string | null)[];
  readonly dims: (readonly number[] | null)[];
}

/** A buffer count that never reaches 0: the array is never overwritten in place or recycled. */
const PINNED = 1 << 30;

/** Frames kept per body plan for reuse (more than one only while concurrent async runs interleave). */
const FRAME_POOL = 4;

/**
 * A prepared graph: ops resolved, attributes parsed and validated, constants folded, execution
 * order fixed, every value given a slot. Subgraphs (If/Loop/Scan bodies) are prepared once, when
 * their node is parsed, with the enclosing graphs' constants visible, so their weights are packed
 * once too.
 */
export class ExecutionPlan implements SubgraphPlan {
  readonly steps: readonly PlanStep[];
  readonly graph: Graph;
  /** Initializers, constants of enclosing graphs this graph reads, and constant-folded values. */
  readonly constants: ReadonlyMap<string, Tensor>;
  /** Slot of every value the plan knows. */
  private readonly index = new Map<string, number>();
  private readonly template: (Value | undefined)[];
  private readonly inputSlots: Int32Array;
  private readonly outputSlots: Int32Array;
  /** Values of the enclosing plan this one reads: [own slot, parent slot] pairs. */
  private readonly imports: Int32Array;
  /** Data arrays of the constants: never reused or handed out without a copy. */
  readonly constantData: ReadonlySet<TensorData>;
  private readonly path: string;

  constructor(readonly model: Model, options: PlanOptions = {}) {
    const graph = model.graph;
    this.graph = graph;
    const pool = options.pool;
    const parent = options.parent;
    this.path = options.path ?? '';
    const free = parent ? outerReads(graph) : new Set<string>();
    const order = validateGraph(graph, free);
    const slotOf = (name: string): number => {
      let i = this.index.get(name);
      if (i === undefined) this.index.set(name, (i = this.index.size));
      return i;
    };
    const constants = new Map<string, Tensor>(graph.initializers);
    // Filled as nodes fold; bodies parsed below read it through `parent.constants`.
    this.constants = constants;
    // Values of enclosing graphs: constants are visible as constants (folded and packed here too),
    // the rest are copied into this plan's slots when it runs.
    const imports: number[] = [];
    for (const name of free) {
      if (graph.initializers.has(name)) continue;
      const c = parent!.constants.get(name);
      if (c) constants.set(name, c);
      const p = parent!.index.get(name);
      if (p === undefined) throw new RnnxError(`Graph '${graph.name}' reads '${name}', which no enclosing graph defines`);
      imports.push(slotOf(name), p);
    }
    for (const v of graph.inputs) slotOf(v.name);
    const unsupported = new Map<string, number>();
    let arityError: Error | undefined;
    const resolved: { node: Node; def: OpDef<unknown>; ctx: OpContext }[] = [];
    // Outputs of shape-only steps (filled below, once they are known): see OpContext.frozen.
    const frozenNames = new Set<string>();
    for (const node of order) {
      const opset = model.opsets.get(node.domain);
      const key = node.domain ? `${node.domain}.${node.opType}` : node.opType;
      if (opset === undefined) {
        throw nodeError(node, `domain '${node.domain}' is not imported by the model (no opset_import)`);
      }
      const row = lookupOp(node.domain, node.opType, opset);
      if (!row) {
        const known = knownOp(node.domain, node.opType);
        const label = known ? `${key} (opset ${opset}; supported: ${known.map((r) => `${r.since}-${r.until}`).join(', ')})` : `${key} (opset ${opset})`;
        unsupported.set(label, (unsupported.get(label) ?? 0) + 1);
        continue;
      }
      // Arity errors wait until every unsupported op has been listed (that error comes first).
      try { checkArity(node, opset); } catch (e) { arityError ??= e as Error; }
      const constant = (i: number) => (node.inputs[i] ? constants.get(node.inputs[i]) : undefined);
      // Answered from the names until the plan is complete (folding calls ops), then from a table made once.
      let frozenInputs: Uint8Array | undefined;
      const frozen = (i: number) => {
        if (frozenInputs !== undefined) return frozenInputs[i] === 1;
        const isFrozen = (n: string) => !!n && (constants.has(n) || frozenNames.has(n));
        if (this.prepared) frozenInputs = Uint8Array.from(node.inputs, (n) => (isFrozen(n) ? 1 : 0));
        return isFrozen(node.inputs[i]);
      };
      const path = this.path ? `${this.path}/${node.name || node.opType}` : node.name || node.opType;
      // Bodies see this graph's values; they are prepared when this node is parsed, by which time
      // every node before it (in topological order) has been folded where it could be.
      const subgraph = (g: Graph) => new ExecutionPlan({ ...model, graph: g }, { pool, parent: this, path });
      resolved.push({ node, def: row.def, ctx: { node, opset, constant, frozen, pool, subgraph } });
    }
    if (unsupported.size > 0) {
      const list = [...unsupported].map(([k, n]) => `${k} x${n}`).join(', ');
      throw new RnnxError(`Unsupported ops in this model: ${list}`);
    }
    if (arityError) throw arityError;
    // Every value gets its slot before bodies are parsed (they look up this plan's slots).
    for (const r of resolved) for (const o of r.node.outputs) if (o) slotOf(o);
    for (const name of constants.keys()) slotOf(name);
    // Parse every node once; a node whose inputs are all constants (or that has none, like
    // Constant) is evaluated now, so later ops can pack its result once. A fold that fails is
    // left to run time, where the node's error belongs (it may sit in a branch never taken).
    const live: (typeof resolved[number] & { attrs: unknown })[] = [];
    for (const r of resolved) {
      const reader = new AttrReader(r.ctx);
      let attrs: unknown;
      try {
        attrs = r.def.parse(r.ctx, reader);
      } catch (e) {
        if (e instanceof RnnxError) throw e;
        throw new NodeError(r.node.name, r.node.opType, `invalid node: ${(e as Error).message}`);
      }
      reader.assertAllRead();
      const foldable = r.node.inputs.every((n) => !n || constants.has(n)) && subgraphsOf(r.node).length === 0 && !r.def.values
        && !NONDETERMINISTIC.has(r.node.opType) && r.node.outputs.some((o) => o);
      if (foldable) {
        let outs: (Tensor | undefined)[] | undefined;
        try {
          outs = runStep(r.def, r.node.inputs.map((n) => (n ? constants.get(n) : undefined)), attrs, r.ctx);
        } catch {
          outs = undefined;
        }
        if (outs && r.node.outputs.every((o, i) => !o || outs![i] instanceof Tensor)) {
          r.node.outputs.forEach((o, i) => o && constants.set(o, outs![i]!));
          continue;
        }
      }
      live.push({ ...r, attrs });
    }
    // One set for the whole plan tree: a body may hand out its own constants to the enclosing graph.
    const constantData = (parent?.constantData as Set<TensorData> | undefined) ?? new Set<TensorData>();
    for (const t of constants.values()) constantData.add(t.data);
    this.constantData = constantData;
    // A node with subgraphs also reads the outer values they use: keep those alive until it runs.
    const readCount = new Map<string, number>();
    for (const r of live) for (const n of readsOf(r.node)) if (n) readCount.set(n, (readCount.get(n) ?? 0) + 1);
    const graphOutputs = new Set(graph.outputs.map((o) => o.name));
    const readsOfName = (n: string) => readCount.get(n) ?? 0, isGraphOutput = (n: string) => graphOutputs.has(n);
    const fused = fuseConvActivations(fuseBiasAdds(fuseLayerNormChains(live, constants, readsOfName, isGraphOutput), constants, readsOfName, isGraphOutput),
      readsOfName, isGraphOutput);
    const reads = fused.map((r) => readsOf(r.node));
    const lastUse = new Map<string, number>();
    reads.forEach((names, i) => names.forEach((name) => name && lastUse.set(name, i)));
    const keep = new Set([...graph.outputs.map((o) => o.name), ...constants.keys(), ...free]);
    const feeds = new Set(graph.inputs.map((v) => v.name));
    const tensorFeeds = new Set(graph.inputs.filter((v) => (v.kind ?? 'tensor') === 'tensor').map((v) => v.name));
    // In a body, the values it reads from enclosing graphs count as feeds too (their shapes are in the key).
    const outerFeeds = [...free].filter((n) => !constants.has(n));
    const shapeOnly = shapeOnlyNodes(fused.map((r) => r.node), new Set(constants.keys()), new Set([...tensorFeeds, ...outerFeeds]),
      (n) => !NONDETERMINISTIC.has(n.opType) && subgraphsOf(n).length === 0);
    fused.forEach((r, i) => { if (shapeOnly[i] && !r.def.values) for (const o of r.node.outputs) if (o) frozenNames.add(o); });
    // Values available before each step: inputs, constants, imports, then each step's outputs.
    const available = new Set<string>([...feeds, ...constants.keys(), ...free]);
    this.steps = fused.map((r, i) => {
      for (const name of reads[i]) {
        if (name && !available.has(name)) throw nodeError(r.node, `reads '${name}' before any node produces it`);
      }
      for (const o of r.node.outputs) if (o) available.add(o);
      const release = [...new Set(reads[i])].filter((n) => n && lastUse.get(n) === i && !keep.has(n));
      // Outputs nobody reads are dropped right away.
      for (const o of r.node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const dying = r.node.inputs.flatMap((n, k) =>
        n && release.includes(n) && !feeds.has(n) && r.node.inputs.indexOf(n) === k && r.node.inputs.lastIndexOf(n) === k ? [k] : []);
      const hasBodies = subgraphsOf(r.node).length > 0;
      const step = new PlanStep(
        r.node, r.def, r.attrs, r.ctx, release, dying,
        Int32Array.from(r.node.inputs, (n) => (n ? slotOf(n) : -1)),
        Int32Array.from(r.node.outputs, (n) => (n ? slotOf(n) : -1)),
        Int32Array.from(release, slotOf),
        hasBodies,
        shapeOnly[i] && !r.def.values,
        r.def.bodies !== undefined,
        Int32Array.from(r.def.values ? reads[i] : hasBodies ? reads[i].filter((n) => !r.node.inputs.includes(n)) : [], (n) => (n ? slotOf(n) : -1)).filter((k) => k >= 0),
      );
      return step;
    });
    this.hasShapeOnly = this.steps.some((st) => st.shapeOnly);
    // The program when the shape cache holds the shape-only values: those steps are left out,
    // their outputs come from the cache, their releases move to the next step that runs.
    const fast: PlanStep[] = [];
    const cachedSlots: number[] = [];
    let owed: number[] = [];
    for (const st of this.steps) {
      if (st.shapeOnly) {
        for (const o of st.outSlots) if (o >= 0) cachedSlots.push(o);
        owed.push(...st.releaseSlots);
        continue;
      }
      st.skipRelease = Int32Array.from(owed);
      owed = [];
      fast.push(st);
    }
    this.fastSteps = fast;
    this.cachedSlots = Int32Array.from(cachedSlots);
    this.tailRelease = Int32Array.from(owed);
    for (const o of graph.outputs) slotOf(o.name);
    this.inputSlots = Int32Array.from(graph.inputs, (v) => slotOf(v.name));
    this.outputSlots = Int32Array.from(graph.outputs, (v) => slotOf(v.name));
    this.imports = Int32Array.from(imports);
    this.keySlots = Int32Array.from([...graph.inputs.map((v) => v.name), ...outerFeeds], slotOf);
    this.prepared = true;
    this.template = new Array<Value | undefined>(this.index.size).fill(undefined);
    for (const [name, t] of constants) this.template[this.index.get(name)!] = t;
  }

  /** Runs the graph as a subgraph to its end: `inputs` bind its graph inputs, `scope` is the enclosing frame. */
  run(scope: Scope, inputs: readonly Value[], node: NodeRef): Value[] {
    const parent = scope as Frame;
    const state = parent.state;
    const frame = this.enter(parent, inputs, node);
    const sliceEnd = state.sliceEnd, prevNode = state.current;
    state.sliceEnd = Infinity;
    try {
      ExecutionPlan.drive([frame]);
    } finally {
      state.sliceEnd = sliceEnd;
      state.current = prevNode;
    }
    return this.leave(frame);
  }

  /** A frame for one execution of this graph as a body of `parent`'s plan: its inputs and the enclosing values it reads bound. */
  private enter(parent: Frame, inputs: readonly Value[], node: NodeRef): Frame {
    const g = this.graph;
    if (inputs.length !== g.inputs.length) {
      throw nodeError(node, `body '${g.name}' takes ${g.inputs.length} inputs, the op passes ${inputs.length}`);
    }
    // A frame from the pool is clean: slots as the template. (Its ownership arrays need no reset:
    // every slot a step reads was written earlier in the same execution.)
    const frame = this.framePool.pop() ?? new Frame(this, this.template.slice(), parent.state);
    frame.state = parent.state;
    frame.node = node;
    const slots = frame.slots;
    const imp = this.imports;
    for (let k = 0; k < imp.length; k += 2) slots[imp[k]] = parent.slots[imp[k + 1]];
    for (let k = 0; k < inputs.length; k++) slots[this.inputSlots[k]] = inputs[k];
    frame.cached = this.shapeCacheFor(frame);
    return frame;
  }

  /** The outputs of a finished body execution; its frame goes back to the pool. */
  private leave(frame: Frame): Value[] {
    const slots = frame.slots;
    const out: Value[] = new Array(this.outputSlots.length);
    for (let k = 0; k < out.length; k++) {
      const v = slots[this.outputSlots[k]];
      if (v === undefined) throw nodeError(frame.node!, `body '${this.graph.name}' did not produce output '${this.graph.outputs[k].name}'`);
      out[k] = v;
    }
    if (this.framePool.length < FRAME_POOL) {
      const t = this.template;
      for (let k = 0; k < slots.length; k++) slots[k] = t[k];
      frame.shapeKey = undefined;
      frame.shapeValues = undefined;
      frame.pc = 0;
      frame.cached = null;
      frame.node = null;
      this.framePool.push(frame);
    }
    return out;
  }

  private readonly framePool: Frame[] = [];
  /** Set when the constructor is done: constants and shape-only values are final. */
  private prepared = false;

  /** A fresh frame for a top-level run: constants in place, feeds bound by name. */
  newFrame(state: RunState, feeds: ReadonlyMap<string, Value>): Frame {
    const slots = this.template.slice();
    for (const [name, v] of feeds) {
      const i = this.index.get(name);
      if (i !== undefined) slots[i] = v;
    }
    const frame = new Frame(this, slots, state);
    frame.cached = this.shapeCacheFor(frame);
    return frame;
  }

  /** The value of `name` in a frame (undefined once released). */
  valueIn(frame: Frame, name: string): Value | undefined {
    const i = this.index.get(name);
    return i === undefined ? undefined : frame.slots[i];
  }

  /** Runs every step on a top-level `frame`, synchronously. */
  executeFrame(frame: Frame): void {
    const prevAlloc = setAllocator(frame.state.alloc);
    try {
      ExecutionPlan.drive([frame]);
    } finally {
      setAllocator(prevAlloc);
    }
  }

  /**
   * Runs the steps of a top-level `frame`, yielding to the event loop whenever `sliceMs` have
   * passed since the last yield (between steps or body runs, at any nesting depth), and checking
   * the abort signal after each yield.
   */
  async executeFrameAsync(frame: Frame, sliceMs: number): Promise<void> {
    const state = frame.state;
    const stack = [frame];
    try {
      for (;;) {
        state.sliceEnd = now() + sliceMs;
        // The allocator is the run's only while its steps run: other work may run during a yield.
        const prevAlloc = setAllocator(state.alloc);
        let done: boolean;
        try {
          done = ExecutionPlan.drive(stack);
        } finally {
          setAllocator(prevAlloc);
        }
        if (done) return;
        const t = now();
        await yieldToEventLoop();
        state.paused += now() - t;
        state.checkAbort();
      }
    } finally {
      state.sliceEnd = Infinity;
    }
  }

  /**
   * The executor. `stack` holds the frames of the executions in progress: the bottom one is the
   * frame the caller runs, each frame above it a body execution of a step of the frame below.
   * Runs until the bottom frame ends (true) or the run's time slice is spent (false: call again
   * to resume). No recursion and nothing allocated per step; a body execution costs a pooled
   * frame.
   */
  private static drive(stack: Frame[]): boolean {
    for (;;) {
      const f = stack[stack.length - 1];
      const plan = f.plan;
      const state = f.state;
      const runs = f.runs;
      if (runs !== null) {
        // A step with bodies, between body runs.
        if (state.sliceEnd !== Infinity && now() > state.sliceEnd) return false;
        const s = f.step!;
        state.current = s.node;
        let more: boolean;
        try {
          more = runs.next();
        } catch (e) {
          throw stepError(e, s.ctx);
        }
        if (more) {
          stack.push((runs.body as ExecutionPlan).enter(f, runs.inputs, s.node));
          continue;
        }
        let outs: (Value | undefined)[];
        state.forgetRecent();
        try {
          outs = runs.result();
        } catch (e) {
          throw stepError(e, s.ctx);
        }
        f.runs = null;
        f.step = null;
        const args = f.args!;
        f.args = null;
        const prof = state.profiler;
        // Time spent yielded to the event loop is not the node's.
        if (prof) prof.record(s.node, plan.path, f.t0, now() - (state.paused - f.paused0), s.hasBodies, args);
        plan.settle(s, f, args, outs as (Tensor | undefined)[]);
        f.pc++;
      }
      const steps = plan.program(f);
      const pc = plan.runSteps(f, f.pc);
      f.pc = pc;
      if (pc < steps.length) {
        if (state.sliceEnd !== Infinity && now() > state.sliceEnd) return false;
        plan.startDriven(steps[pc], f);
        continue;
      }
      if (f.cached !== null) plan.release(f, plan.tailRelease);
      plan.commitShapeCache(f);
      if (stack.length === 1) return true;
      // A body execution ended: its outputs go to the step that asked for it.
      stack.pop();
      const outs = plan.leave(f);
      const parent = stack[stack.length - 1];
      state.current = parent.step!.node;
      try {
        parent.runs!.take(outs);
      } catch (e) {
        throw stepError(e, parent.step!.ctx);
      }
    }
  }

  /**
   * Runs steps from `i` on until one is driven (its index is returned), the run's time slice is
   * spent (the next index is returned), or the plan ends (steps.length).
   */
  private runSteps(frame: Frame, i: number): number {
    const cached = frame.cached !== null;
    const steps = cached ? this.fastSteps : this.steps;
    const n = steps.length;
    const state = frame.state;
    for (; i < n; i++) {
      const s = steps[i];
      if (s.driven) return i;
      if (cached && s.skipRelease.length > 0) this.release(frame, s.skipRelease);
      this.runLeaf(s, frame);
      if (state.sliceEnd !== Infinity && now() > state.sliceEnd) return i + 1;
    }
    return n;
  }

  /** Shape-only values cached by the feeds' shapes (key), from the last run that computed them. */
  private readonly hasShapeOnly: boolean;
  /** The steps that run when the cache serves (see the constructor), the slots it fills, the releases after the last step. */
  private readonly fastSteps: readonly PlanStep[];
  private readonly cachedSlots: Int32Array;
  private readonly tailRelease: Int32Array;
  private shapeCache: { key: ShapeKey; values: (Value | undefined)[] } | null = null;
  /** The graph inputs and enclosing values whose types and shapes key the cache. */
  private readonly keySlots: Int32Array;

  /** The cached shape-only values when the feeds have the shapes they were computed for; else starts a new cache. */
  private shapeCacheFor(frame: Frame): (Value | undefined)[] | null {
    if (!this.hasShapeOnly) return null;
    const ks = this.keySlots;
    const slots = frame.slots;
    const c = this.shapeCache;
    if (c !== null) {
      let k = 0;
      for (; k < ks.length; k++) {
        const v = slots[ks[k]];
        if (v instanceof Tensor) {
          if (v.type !== c.key.types[k] || !sameDims(v.dims, c.key.dims[k]!)) break;
        } else if (c.key.types[k] !== null) {
          break;
        }
      }
      if (k === ks.length) {
        this.fillCached(frame, c.values);
        return c.values;
      }
    }
    const types: (string | null)[] = [];
    const dims: (readonly number[] | null)[] = [];
    for (let k = 0; k < ks.length; k++) {
      const v = slots[ks[k]];
      types.push(v instanceof Tensor ? v.type : null);
      dims.push(v instanceof Tensor ? v.dims : null);
    }
    frame.shapeKey = { types, dims };
    frame.shapeValues = new Array<Value | undefined>(slots.length).fill(undefined);
    return null;
  }

  /** Puts the cached shape-only values in their slots (their steps are left out of this execution). */
  private fillCached(frame: Frame, cached: (Value | undefined)[]): void {
    const slots = frame.slots, cs = this.cachedSlots;
    for (let k = 0; k < cs.length; k++) slots[cs[k]] = cached[cs[k]];
  }

  /** The steps this frame's execution runs. */
  private program(frame: Frame): readonly PlanStep[] {
    return frame.cached !== null ? this.fastSteps : this.steps;
  }

  private commitShapeCache(frame: Frame): void {
    if (frame.shapeValues && frame.shapeKey !== undefined) this.shapeCache = { key: frame.shapeKey, values: frame.shapeValues };
  }

  /** Fills `args` with the step's inputs from the frame's slots. */
  private gather(s: PlanStep, frame: Frame, args: (Value | undefined)[]): void {
    const slots = frame.slots;
    const n = s.inSlots.length;
    for (let k = 0; k < n; k++) {
      const slot = s.inSlots[k];
      if (slot < 0) continue;
      const v = slots[slot];
      if (v === undefined) throw nodeError(s.node, `input '${s.node.inputs[k]}' has no value`);
      if (!s.values && !(v instanceof Tensor)) throw nodeError(s.node, `input '${s.node.inputs[k]}' is a ${describeValue(v)}; this op takes tensors`);
      args[k] = v;
    }
  }

  /** Runs a step whose op is a plain call. */
  private runLeaf(s: PlanStep, frame: Frame): void {
    const state = frame.state;
    const args = s.args;
    this.gather(s, frame, args);
    const prof = state.profiler;
    const t0 = prof ? now() : 0;
    state.current = s.node;
    state.forgetRecent();
    s.frame = frame;
    let outs: (Tensor | undefined)[];
    try {
      outs = s.def.run(args as (Tensor | undefined)[], s.attrs, s.ctx, s.reuse, frame);
    } catch (e) {
      throw stepError(e, s.ctx);
    } finally {
      s.frame = null;
    }
    if (prof) prof.record(s.node, this.path, t0, now(), s.hasBodies, args);
    this.settle(s, frame, args, outs);
    for (let k = 0; k < args.length; k++) args[k] = undefined;
  }

  /** Starts a driven step (If/Loop/Scan): its body runs follow in `drive`. */
  private startDriven(s: PlanStep, frame: Frame): void {
    const state = frame.state;
    if (frame.cached !== null && s.skipRelease.length > 0) this.release(frame, s.skipRelease);
    // Its own array: the step may pause, and a concurrent run may run the same step meanwhile.
    const args = new Array<Value | undefined>(s.inSlots.length);
    this.gather(s, frame, args);
    state.current = s.node;
    frame.t0 = state.profiler ? now() : 0;
    frame.paused0 = state.paused;
    try {
      frame.runs = s.def.bodies!(args, s.attrs, s.ctx, frame);
    } catch (e) {
      throw stepError(e, s.ctx);
    }
    frame.step = s;
    frame.args = args;
  }

  /** After a step: checks, stores its outputs in their slots, tracks their buffers, releases dead values. */
  private settle(s: PlanStep, frame: Frame, inputs: readonly (Value | undefined)[], outs: readonly (Tensor | undefined)[]): void {
    const slots = frame.slots;
    const own = frame.own, count = frame.count;
    const state = frame.state;
    if (CHECK_ALIASING) checkAliasing(s.node, inputs, outs);
    const record = s.shapeOnly ? frame.shapeValues : undefined;
    const outSlots = s.outSlots, inSlots = s.inSlots;
    for (let k = 0; k < outSlots.length; k++) {
      const slot = outSlots[k];
      if (slot < 0) continue;
      const v = outs[k] as Value | undefined;
      if (v === undefined) throw nodeError(s.node, `output ${k} ('${s.node.outputs[k]}') was requested but not produced`);
      slots[slot] = v;
      if (record !== undefined) {
        // Kept for later runs: never overwritten in place or recycled.
        record[slot] = v;
        own[slot] = -1;
        continue;
      }
      if (s.values || !(v instanceof Tensor)) {
        own[slot] = -1;
        continue;
      }
      const data = v.data;
      // An input's own array (Reshape, Identity, in-place arithmetic) or an earlier output's: the same buffer.
      let id = -2;
      for (let j = 0; j < inSlots.length; j++) {
        const a = inputs[j];
        if (a instanceof Tensor && a.data === data) {
          id = own[inSlots[j]];
          break;
        }
      }
      for (let j = 0; id === -2 && j < k; j++) {
        if (outSlots[j] >= 0 && outs[j]?.data === data) id = own[outSlots[j]];
      }
      if (id === -2) {
        const fresh = state.madeRecently(data);
        // A driven step (Scan) may hand out what its bodies read from enclosing graphs: not ours.
        if (fresh || (!s.driven && !this.constantData.has(data))) {
          id = slot;
          count[slot] = 0;
          frame.born[slot] = fresh ? 1 : 0;
        } else {
          id = -1;
        }
      }
      own[slot] = id;
      if (id >= 0) count[id]++;
    }
    const pins = s.pinSlots;
    for (let k = 0; k < pins.length; k++) {
      const id = own[pins[k]];
      if (id >= 0) count[id] = PINNED;
    }
    this.release(frame, s.releaseSlots);
    state.forgetRecent();
  }

  /** Empties the slots `rel` (their values are dead); a buffer no live slot holds goes back to the arena. */
  private release(frame: Frame, rel: Int32Array): void {
    const slots = frame.slots, own = frame.own, count = frame.count;
    const arena = frame.state.arena;
    for (let k = 0; k < rel.length; k++) {
      const slot = rel[k];
      const v = slots[slot];
      slots[slot] = undefined;
      const id = own[slot];
      if (id < 0) continue;
      // Only arrays this run's allocator made go back: whole arrays, never views of other memory.
      if (--count[id] === 0 && frame.born[id] === 1 && arena !== null && v instanceof Tensor) arena.give(v.data as Exclude<TensorData, string[]>);
    }
  }

  /** Whether the caller may keep the value in `name` as it is (its memory is this run's and no other value's). */
  ownsOutput(frame: Frame, name: string): boolean {
    const slot = this.index.get(name);
    if (slot === undefined) return false;
    const id = frame.own[slot];
    return id >= 0 && frame.count[id] < PINNED;
  }
}


const CHECK_ALIASING = Boolean((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.RNNX_CHECK_ALIASING);

/**
 * The memory contract buffer reuse relies on (checked when RNNX_CHECK_ALIASING is set, as in the
 * test suite): an op's output is a fresh array or one of its inputs' own data arrays, never a view
 * into an input's memory.
 */
function checkAliasing(node: Node, inputs: readonly (Value | undefined)[], outs: readonly (Value | undefined)[]): void {
  const typed = (v: Value | undefined) => (v instanceof Tensor && !Array.isArray(v.data) ? (v.data as Exclude<TensorData, string[]>) : undefined);
  for (const o of outs) {
    const od = typed(o);
    if (!od) continue;
    for (const i of inputs) {
      const id = typed(i);
      if (id && id !== od && id.buffer === od.buffer) {
        throw nodeError(node, 'output views the memory of an input through another array (ops must return fresh arrays or the input\'s own array)');
      }
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  const si = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (si) return new Promise((r) => si(r));
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((r) => {
      const ch = new MessageChannel();
      const port = ch.port1 as unknown as { onmessage: (() => void) | null; close(): void };
      port.onmessage = () => {
        port.close();
        r();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}

function runStep(
  def: OpDef<unknown>, inputs: (Tensor | undefined)[], attrs: unknown, ctx: OpContext,
  reuse?: (i: number) => boolean, scope?: Scope,
): (Tensor | undefined)[] {
  try {
    return def.run(inputs, attrs, ctx, reuse, scope);
  } catch (e) {
    throw stepError(e, ctx);
  }
}

/** An error thrown by an op, as the RnnxError that names its node. */
function stepError(e: unknown, ctx: OpContext): Error {
  if (e instanceof RnnxError) return e;
  if (e instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation/i.test(e.message)) {
    return new NodeError(ctx.node.name, ctx.node.opType, `out of memory: ${e.message}`);
  }
  return new NodeError(ctx.node.name, ctx.node.opType, `kernel failed: ${(e as Error).message}`);
}

/** The engine's entry point, shaped like onnxruntime-node's InferenceSession. */
export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  readonly plan: ExecutionPlan;

  private readonly pool: GemmPool | null;
  private readonly arena: Arena | null;
  private readonly limits: RunLimits;
  private profiler: Profiler | null;
  private released = false;
  private readonly outputInfo: ReadonlyMap<string, ValueInfo>;

  private constructor(readonly model: Model, options: SessionOptions = {}, pool?: GemmPool | null) {
    for (const k of Object.keys(options)) {
      if (!SESSION_OPTION_KEYS.has(k)) throw new RnnxError(`InferenceSession: unknown session option '${k}' (known: ${[...SESSION_OPTION_KEYS].join(', ')})`);
    }
    if (options.threads !== undefined && options.threads !== 1 && options.threads !== 2) {
      throw new RnnxError(`InferenceSession: threads must be 1 or 2, got ${options.threads}`);
    }
    const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
    if (!Number.isInteger(maxIterations) || maxIterations < 0) throw new RnnxError(`InferenceSession: maxIterations must be a non-negative integer, got ${options.maxIterations}`);
    const memoryLimit = options.memoryLimit ?? defaultMemoryLimit();
    if (!(memoryLimit > 0)) throw new RnnxError(`InferenceSession: memoryLimit must be a positive number of bytes, got ${options.memoryLimit}`);
    this.limits = { maxIterations, memoryLimit };
    this.arena = options.enableMemoryArena === false ? null : new Arena();
    this.profiler = options.enableProfiling ? new Profiler() : null;
    this.pool = pool !== undefined ? pool : options.threads === 2 ? GemmPool.create() : null;
    try {
      this.plan = new ExecutionPlan(model, { pool: this.pool ?? undefined });
    } catch (e) {
      this.pool?.close();
      throw e;
    }
    this.inputMetadata = model.graph.inputs;
    this.outputMetadata = model.graph.outputs;
    this.inputNames = model.graph.inputs.map((v) => v.name);
    this.outputNames = model.graph.outputs.map((v) => v.name);
    this.outputInfo = new Map(model.graph.outputs.map((v) => [v.name, v]));
  }

  /**
   * From a file path (Node), ONNX bytes, or an already-built Model. In a browser's main thread
   * prefer `create`: it compiles the SIMD kernels asynchronously (see `kernels`).
   */
  static createSync(source: string | URL | ArrayBuffer | ArrayBufferView | Model, options: SessionOptions = {}): InferenceSession {
    return new InferenceSession(InferenceSession.modelOf(source instanceof Object && 'graph' in source ? source : resolveSourceSync(source), options), options);
  }

  /** From a file path (Node), a URL (fetched), an ArrayBuffer, a Uint8Array, a Blob, or a Model. */
  static async create(source: ModelSource | Model, options: SessionOptions = {}): Promise<InferenceSession> {
    const resolved = source instanceof Object && 'graph' in source ? source : await resolveSource(source);
    await loadKernels();
    // threads: 2 starts its worker without blocking (a browser's workers need the caller to yield).
    const pool = options.threads === 2 ? await GemmPool.createAsync() : undefined;
    try {
      return new InferenceSession(InferenceSession.modelOf(resolved, options), options, pool);
    } catch (e) {
      pool?.close();
      throw e;
    }
  }

  private static modelOf(src: ResolvedSource | Model, options: SessionOptions): Model {
    if ('graph' in src) return src;
    const load = options.fuse === undefined ? {} : { fuse: options.fuse };
    return 'path' in src ? loadModel(src.path, load) : loadModel(src.bytes, load);
  }

  /** Which kernels this session runs: WebAssembly SIMD or plain TypeScript, on 1 or 2 threads. */
  get kernels(): { readonly simd: boolean; readonly threads: 1 | 2 } {
    return { simd: wasmModule() !== null, threads: this.pool ? 2 : 1 };
  }

  /** Ends the session: stops the worker thread of `threads: 2` and frees buffers; later runs throw. */
  async release(): Promise<void> {
    this.released = true;
    this.pool?.close();
    this.arena?.clear();
  }

  get graph(): Graph {
    return this.model.graph;
  }

  /** Starts collecting per-node timings (onnxruntime-web's `startProfiling`). */
  startProfiling(): void {
    this.profiler = new Profiler();
  }

  /** Stops profiling and returns what was collected since it started. */
  endProfiling(): ProfileResult {
    if (!this.profiler) throw new RnnxError('endProfiling: profiling was not started (session option enableProfiling, or startProfiling())');
    const r = this.profiler.result();
    this.profiler = null;
    return r;
  }

  /** Buffer reuse counters of the arena (allocations served from it / fresh, bytes it holds). */
  get memoryStats(): { reused: number; fresh: number; bytesHeld: number } {
    return { reused: this.arena?.hits ?? 0, fresh: this.arena?.misses ?? 0, bytesHeld: this.arena?.bytesHeld ?? 0 };
  }

  /** Runs the model; every output must be a tensor (see runValues for sequences and optionals). */
  runSync(feeds: Feeds, fetches?: FetchesArg, options?: RunOptions): Record<string, Tensor> {
    return tensorsOnly(this.runValues(feeds, fetches, options));
  }

  /** Runs the model with any values: a sequence feed may be a Tensor[] or a TensorSequence. */
  runValues(feeds: ValueFeeds, fetches?: FetchesArg, options?: RunOptions): Record<string, Value> {
    const { frame, names, start } = this.begin(feeds, fetches, options);
    this.plan.executeFrame(frame);
    return this.finish(frame, names, start);
  }

  /**
   * Runs the model, yielding to the event loop between nodes once the run has taken a few
   * milliseconds. Takes onnxruntime's forms: `run(feeds)`, `run(feeds, options)`,
   * `run(feeds, fetches, options)`, fetches as an array of names or an object keyed by name.
   */
  async run(feeds: Feeds, fetchesOrOptions?: FetchesArg | RunOptions, options?: RunOptions): Promise<Record<string, Tensor>> {
    const [fetches, opts] = splitRunArgs(this.outputNames, fetchesOrOptions, options);
    const { frame, names, start } = this.begin(feeds, fetches, opts);
    await this.plan.executeFrameAsync(frame, 4);
    return tensorsOnly(this.finish(frame, names, start));
  }

  private begin(feeds: ValueFeeds, fetchesArg: FetchesArg | RunOptions | undefined, optionsArg: RunOptions | undefined) {
    if (this.released) throw new RnnxError('This session was released; create a new one');
    const [fetches, options] = splitRunArgs(this.outputNames, fetchesArg, optionsArg);
    if (feeds === null || typeof feeds !== 'object') throw new RnnxError('run: feeds must be an object keyed by input name');
    const byName = new Map(this.inputMetadata.map((v) => [v.name, v]));
    for (const name of Object.keys(feeds)) {
      if (!byName.has(name)) throw new RnnxError(`Feed '${name}' is not an input of the model (inputs: ${this.inputNames.join(', ') || 'none'})`);
    }
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length > 0) throw new RnnxError(`Missing feed${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
    const names = fetches ?? this.outputNames;
    for (const f of names) {
      if (!this.outputNames.includes(f)) throw new RnnxError(`Fetch '${f}' is not an output of the model (outputs: ${this.outputNames.join(', ')})`);
    }
    if (options?.terminate) throw new RnnxError('Run aborted: RunOptions.terminate is set');
    const state = new RunState(this.limits, this.arena, options?.signal, this.profiler);
    state.checkAbort();
    const values = new Map<string, Value>();
    for (const info of this.inputMetadata) values.set(info.name, feedValue(info, feeds[info.name]));
    const frame = this.plan.newFrame(state, values);
    return { frame, names, start: now() };
  }

  private finish(frame: Frame, names: readonly string[], start: number): Record<string, Value> {
    frame.state.profiler?.endRun(now() - start);
    const result: Record<string, Value> = {};
    // The caller owns what it is given: an output that views a constant, a feed or another
    // output's memory is copied, so writing to it never changes the session or the feeds.
    const given = new Set<TensorData>();
    for (const name of names) {
      const v = this.plan.valueIn(frame, name)!;
      const info = this.outputInfo.get(name);
      if (info?.type && v instanceof Tensor && v.type !== info.type && (info.kind ?? 'tensor') === 'tensor') {
        throw new RnnxError(`Output '${name}': the graph declares ${info.type}, the model computed ${v.type}`);
      }
      result[name] = ownValue(v, this.plan.constantData, this.plan.ownsOutput(frame, name), given);
    }
    return result;
  }

  /** A stream that carries the recurrent state from call to call (src/runtime/stream.ts). */
  createStream(options: StreamOptions = {}): Stream {
    return createStream(this, options);
  }

  /** Many streams whose ready chunks run as one batch (src/runtime/batcher.ts). */
  createStreamBatcher(options: BatcherOptions = {}): StreamBatcher {
    return createStreamBatcher(this, options);
  }
}

type FetchesArg = readonly string[] | Readonly<Record<string, unknown>>;

/** Tells fetches from run options in onnxruntime's `run(feeds, fetchesOrOptions?, options?)`. */
function splitRunArgs(outputs: readonly string[], a: unknown, b: unknown): [readonly string[] | undefined, RunOptions | undefined] {
  let fetches: readonly string[] | undefined;
  let options: unknown = b;
  if (Array.isArray(a)) {
    for (const f of a) if (typeof f !== 'string') throw new RnnxError('run: fetches must be output names (strings)');
    fetches = a as string[];
  } else if (a !== undefined && a !== null) {
    if (typeof a !== 'object') throw new RnnxError('run: the second argument must be fetches (an array or object of output names) or run options');
    const keys = Object.keys(a);
    if (keys.length > 0 && keys.every((k) => outputs.includes(k))) fetches = keys;
    else if (b === undefined) options = a;
    else throw new RnnxError(`run: fetches name no output of the model: ${keys.filter((k) => !outputs.includes(k)).join(', ')} (outputs: ${outputs.join(', ')})`);
  }
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object') throw new RnnxError('run: options must be an object');
    for (const k of Object.keys(options)) {
      if (!RUN_OPTION_KEYS.has(k)) throw new RnnxError(`run: unknown run option '${k}' (known: ${[...RUN_OPTION_KEYS].join(', ')})`);
    }
  }
  return [fetches, (options ?? undefined) as RunOptions | undefined];
}

function tensorsOnly(out: Record<string, Value>): Record<string, Tensor> {
  for (const [k, v] of Object.entries(out)) {
    if (!(v instanceof Tensor)) throw new RnnxError(`Output '${k}' is a ${describeValue(v)}: use runValues() for sequence and optional outputs`);
  }
  return out as Record<string, Tensor>;
}

/** `v`, or a copy of it where it shares memory with a constant, a feed or an output already given (`owned`: the run's own memory, held by no other value). */
function ownValue(v: Value, constants: ReadonlySet<TensorData>, owned: boolean, given: Set<TensorData>): Value {
  if (v instanceof Tensor) {
    const data = v.data;
    const foreign = !owned || constants.has(data) || given.has(data);
    given.add(data);
    if (!foreign) return v;
    const copy = data.slice() as TensorData;
    given.add(copy);
    return new Tensor(v.type, copy, v.dims);
  }
  if (v instanceof TensorSequence) return new TensorSequence(v.elemType, v.items.map((t) => ownValue(t, constants, false, given) as Tensor));
  return v.value === undefined ? v : new OptionalValue(ownValue(v.value, constants, false, given) as Tensor | TensorSequence);
}

/** A feed as the graph input declares it: a tensor, a sequence, or an optional. */
function feedValue(info: ValueInfo, v: unknown): Value {
  const what = `Feed '${info.name}'`;
  const kind = info.kind ?? 'tensor';
  const seq = (x: unknown): TensorSequence => {
    if (!Array.isArray(x) && !(x instanceof TensorSequence)) throw new RnnxError(`${what}: expected a sequence (an array of tensors)`);
    const items = x instanceof TensorSequence ? x.items : x.map((t, i) => asTensor(t, `${what}[${i}]`));
    items.forEach((t, i) => { if (info.type && t.type !== info.type) throw new RnnxError(`${what}[${i}]: expected ${info.type}, got ${t.type}`); });
    return x instanceof TensorSequence ? x : new TensorSequence(info.type, items);
  };
  if (kind === 'sequence') return seq(v);
  if (kind === 'optional') {
    if (v instanceof OptionalValue) return v;
    if (v === null) return new OptionalValue(undefined);
    return new OptionalValue(Array.isArray(v) || v instanceof TensorSequence ? seq(v) : asTensor(v, what));
  }
  const t = asTensor(v, what);
  checkFeed(info, t);
  return t;
}

function checkFeed(info: ValueInfo, t: Tensor): void {
  if (info.type && t.type !== info.type) {
    throw new RnnxError(`Feed '${info.name}': expected ${info.type}, got ${t.type}`);
  }
  if (!info.shape) return;
  const want = info.shape.map((d) => (typeof d === 'number' ? String(d) : (d ?? '?')));
  if (t.dims.length !== info.shape.length || info.shape.some((d, i) => typeof d === 'number' && d !== t.dims[i])) {
    throw new RnnxError(`Feed '${info.name}': expected shape [${want.join(', ')}], got [${t.dims.join(', ')}]`);
  }
}
