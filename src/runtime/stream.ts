import { RnnxError } from '../ir/errors.js';
import type { Graph, ValueInfo } from '../ir/graph.js';
import { allocData, asTensor, Tensor } from '../ir/tensor.js';
import { decodeState, encodeState } from './state-bytes.js';
import { compatible, detectStatePairs, stateCandidates, symbolicAxis, type StatePair } from './state-pairs.js';

/** What a stream needs from a session (InferenceSession satisfies it). */
export interface StreamSession {
  readonly graph: Graph;
  readonly plan: { readonly constants: ReadonlyMap<string, Tensor> };
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  runSync(feeds: Record<string, Tensor>): Record<string, Tensor>;
}

type TensorLike = Tensor | { type: string; data: unknown; dims: readonly number[] };

export interface StreamOptions {
  /** State pairs, input name → output name: replaces the detection (`{ h: 'hn', c: 'cn' }`). */
  readonly state?: Readonly<Record<string, string>>;
  /** Inputs fixed for the stream's life (Silero's `sr`). */
  readonly constants?: Readonly<Record<string, TensorLike>>;
  /** Initial values of some or all states (default zeros, symbolic dims 1). */
  readonly initialState?: Readonly<Record<string, TensorLike>>;
}

/** What a stream carries and what it is fed, resolved once per options (shared by Stream and the batcher). */
export class StreamSpec {
  readonly pairs: readonly StatePair[];
  readonly constants: ReadonlyMap<string, Tensor>;
  /** Inputs each call must feed (neither state nor constant). */
  readonly feedNames: readonly string[];
  /** Outputs returned by run (the state outputs are carried, not returned). */
  readonly outputNames: readonly string[];
  readonly inputInfo: ReadonlyMap<string, ValueInfo>;
  private readonly initial: ReadonlyMap<string, Tensor>;

  constructor(readonly session: StreamSession, options: StreamOptions = {}) {
    const g = session.graph;
    const inputs = new Map(g.inputs.map((v) => [v.name, v]));
    const outputs = new Map(g.outputs.map((v) => [v.name, v]));
    this.inputInfo = inputs;
    if (options.state) {
      const pairs: StatePair[] = [];
      const detected = safeDetect(g, session.plan.constants);
      for (const [i, o] of Object.entries(options.state)) {
        const iv = inputs.get(i);
        const ov = outputs.get(o);
        if (!iv) throw new RnnxError(`options.state: '${i}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
        if (!ov) throw new RnnxError(`options.state: '${o}' is not an output of the model (outputs: ${session.outputNames.join(', ')})`);
        if (!compatible(iv, ov)) throw new RnnxError(`options.state: input '${i}' (${describe(iv)}) and output '${o}' (${describe(ov)}) differ in dtype or shape`);
        if (pairs.some((p) => p.output === o)) throw new RnnxError(`options.state: output '${o}' is given for two states`);
        const d = detected?.find((p) => p.input === i && p.output === o);
        pairs.push({ input: i, output: o, how: 'given', batchAxis: d?.batchAxis ?? symbolicAxis(iv.shape), detail: 'options.state' });
      }
      this.pairs = pairs;
    } else {
      const d = detectStatePairs(g, session.plan.constants);
      if (d.pairs.length === 0) {
        const c = stateCandidates(g);
        throw new RnnxError(
          `No recurrent state pairs found in this model${d.unpaired.length ? ` (inputs ${d.unpaired.join(', ')} reach a recurrent state but no output pairs with them)` : ''}: ` +
          `pass options.state, e.g. { h: 'hn' }. ${c.length ? `Inputs and outputs of the same dtype and shape: ${c.join(', ')}` : 'No input and output share a dtype and shape.'}`,
        );
      }
      this.pairs = d.pairs;
    }
    const stateInputs = new Set(this.pairs.map((p) => p.input));
    const constants = new Map<string, Tensor>();
    for (const [k, v] of Object.entries(options.constants ?? {})) {
      if (!inputs.has(k)) throw new RnnxError(`options.constants: '${k}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
      if (stateInputs.has(k)) throw new RnnxError(`options.constants: '${k}' is a state input; give it in options.initialState`);
      constants.set(k, asTensor(v, `options.constants.${k}`));
    }
    this.constants = constants;
    this.feedNames = session.inputNames.filter((n) => !stateInputs.has(n) && !constants.has(n));
    const stateOutputs = new Set(this.pairs.map((p) => p.output));
    this.outputNames = session.outputNames.filter((n) => !stateOutputs.has(n));
    const initial = new Map<string, Tensor>();
    for (const [k, v] of Object.entries(options.initialState ?? {})) {
      if (!stateInputs.has(k)) throw new RnnxError(`options.initialState: '${k}' is not a state input (states: ${[...stateInputs].join(', ')})`);
      const t = asTensor(v, `options.initialState.${k}`);
      initial.set(k, new Tensor(t.type, t.data.slice(), t.dims)); // the spec's own: streams share it until they run
    }
    for (const p of this.pairs) if (!initial.has(p.input)) initial.set(p.input, zeroState(inputs.get(p.input)!));
    this.initial = initial;
  }

  /** The initial value of state `name`, shared: feed it, never modify it. */
  initialState(name: string): Tensor {
    return this.initial.get(name)!;
  }

  /** A fresh copy of the initial states. */
  initialStates(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.initial) out.set(k, new Tensor(t.type, (t.data as Float32Array).slice(), t.dims));
    return out;
  }

  /** Checks a call's feeds: every fed input present, no state or constant fed. */
  checkFeeds(feeds: Readonly<Record<string, TensorLike>>): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      if (this.pairs.some((p) => p.input === k)) throw new RnnxError(`Stream feed '${k}' is a state: the stream carries it (use initialState, reset or loadState to set it)`);
      if (this.constants.has(k)) throw new RnnxError(`Stream feed '${k}' is fixed by options.constants`);
      if (!this.inputInfo.has(k)) throw new RnnxError(`Stream feed '${k}' is not an input of the model (feeds: ${this.feedNames.join(', ') || 'none'})`);
      out[k] = asTensor(v, `Stream feed '${k}'`);
    }
    const missing = this.feedNames.filter((n) => !(n in out));
    if (missing.length) throw new RnnxError(`Stream: missing feed${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    return out;
  }

  /** The dtype and declared shape (symbolic dims null) of each state, for loadState's validation. */
  stateExpectations(): Map<string, { type?: Tensor['type']; shape?: (number | null)[] }> {
    return new Map(this.pairs.map((p) => {
      const v = this.inputInfo.get(p.input)!;
      return [p.input, { type: v.type, shape: v.shape?.map((d) => (typeof d === 'number' ? d : null)) }];
    }));
  }
}

function describe(v: ValueInfo): string {
  return `${v.type ?? '?'} [${v.shape?.map((d) => d ?? '?').join(', ') ?? '?'}]`;
}

function safeDetect(g: Graph, c: ReadonlyMap<string, Tensor>): readonly StatePair[] | undefined {
  try {
    return detectStatePairs(g, c).pairs;
  } catch {
    return undefined;
  }
}

/** Zeros of the declared shape, symbolic dims taken as 1 (one stream). */
function zeroState(v: ValueInfo): Tensor {
  if (!v.type || !v.shape) throw new RnnxError(`State input '${v.name}' has no declared dtype and shape: give options.initialState.${v.name}`);
  if (v.type === 'string') throw new RnnxError(`State input '${v.name}' is a string tensor: give options.initialState.${v.name}`);
  const dims = v.shape.map((d) => (typeof d === 'number' ? d : 1));
  return new Tensor(v.type, allocData(v.type, dims.reduce((a, b) => a * b, 1)), dims);
}

/**
 * A recurrent model run chunk by chunk: the stream feeds each state output back as the next
 * call's state input (the output tensor itself, no copy), and fixes the constant inputs once.
 */
export class Stream {
  private states: Map<string, Tensor>;

  constructor(readonly spec: StreamSpec) {
    this.states = spec.initialStates();
  }

  get pairs(): readonly StatePair[] { return this.spec.pairs; }
  /** The inputs run() takes. */
  get feedNames(): readonly string[] { return this.spec.feedNames; }

  /** The current states, by state input name (the tensors the next call feeds; do not modify). */
  get state(): Readonly<Record<string, Tensor>> {
    return Object.fromEntries(this.states);
  }

  runSync(feeds: Readonly<Record<string, TensorLike>>): Record<string, Tensor> {
    const all: Record<string, Tensor> = this.spec.checkFeeds(feeds);
    for (const [k, v] of this.spec.constants) all[k] = v;
    for (const [k, v] of this.states) all[k] = v;
    const out = this.spec.session.runSync(all);
    const next = new Map<string, Tensor>();
    for (const p of this.spec.pairs) next.set(p.input, out[p.output]);
    this.states = next;
    const result: Record<string, Tensor> = {};
    for (const n of this.spec.outputNames) result[n] = out[n];
    return result;
  }

  async run(feeds: Readonly<Record<string, TensorLike>>): Promise<Record<string, Tensor>> {
    return this.runSync(feeds);
  }

  /** Back to the initial state. */
  reset(): void {
    this.states = this.spec.initialStates();
  }

  /** The states as bytes (format: src/runtime/state-bytes.ts, version 1). */
  saveState(): Uint8Array {
    return encodeState(this.spec.pairs.map((p) => [p.input, this.states.get(p.input)!]));
  }

  /** Restores states saved by saveState (on this or another process); StateBytesError on bad bytes. */
  loadState(bytes: Uint8Array): void {
    this.states = decodeState(bytes, this.spec.stateExpectations());
  }
}

export function createStream(session: StreamSession, options: StreamOptions = {}): Stream {
  return new Stream(new StreamSpec(session, options));
}
