import { RnnxError } from '../ir/errors.js';
import { asTensor, Tensor, type DataType } from '../ir/tensor.js';
import type { GraphBuilder, Value } from '../builder/graph-builder.js';
import { castTensor } from '../ops/cast.js';
import { readNpz } from '../io/npy.js';
import { readSafetensors } from '../io/safetensors.js';
import { GATES, type RecMode } from '../ops/rec/layer.js';
import { stackParamNames } from '../ops/rec/stack.js';
import { RNNX_DOMAIN } from '../ops/registry.js';
import { platform } from '../platform/index.js';

export type StateDictSource = string | ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface LoadOptions {
  /** Strip this prefix from the source's keys (e.g. 'encoder.lstm.'). */
  readonly prefix?: string;
}

/** Reads a state_dict from a .safetensors or .npz file, a Map or a plain object of tensors. */
export function readStateDict(src: StateDictSource): Map<string, Tensor> {
  if (typeof src === 'string') {
    if (!src.endsWith('.safetensors') && !src.endsWith('.npz')) throw new RnnxError(`state dict '${src}': expected a .safetensors or .npz file`);
    const bytes = platform().readFile(src, 'state dict');
    return src.endsWith('.safetensors') ? readSafetensors(bytes, src) : readNpz(bytes, src);
  }
  if (src === null || typeof src !== 'object' || Array.isArray(src)) {
    throw new RnnxError(`state dict: expected a file path, a Map or an object of tensors, got ${src === null ? 'null' : Array.isArray(src) ? 'an array' : typeof src}`);
  }
  const entries = src instanceof Map ? [...src] : Object.entries(src);
  const out = new Map<string, Tensor>();
  for (const [k, t] of entries) {
    if (typeof k !== 'string') throw new RnnxError(`state dict: key ${String(k)} is not a string`);
    out.set(k, asTensor(t, `state dict '${k}'`));
  }
  return out;
}

/** The largest module rnnx builds: 2^28 parameters (1 GiB of float32), checked before anything is allocated. */
export const MAX_PARAMETERS = 2 ** 28;

/** A size argument: a positive integer (at most MAX_PARAMETERS). */
function sizeArg(module: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > MAX_PARAMETERS) {
    throw new RnnxError(`${module}: ${name} must be an integer from ${min} to ${MAX_PARAMETERS}, got ${typeof v === 'number' ? v : JSON.stringify(v) ?? String(v)}`);
  }
  return v;
}

function flagArg(module: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new RnnxError(`${module}: ${name} must be true or false, got ${JSON.stringify(v) ?? String(v)}`);
  return v;
}

function dtypeArg(module: string, v: unknown): 'float32' | 'float64' {
  if (v === undefined) return 'float32';
  if (v !== 'float32' && v !== 'float64') throw new RnnxError(`${module}: dtype must be 'float32' or 'float64', got ${JSON.stringify(v) ?? String(v)}`);
  return v;
}

function checkParameterCount(module: string, count: number): void {
  if (!(count <= MAX_PARAMETERS)) throw new RnnxError(`${module}: ${count} parameters, more than rnnx builds (${MAX_PARAMETERS})`);
}

function optionsArg<T>(module: string, o: T): T {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new RnnxError(`${module}: expected an options object, got ${o === null ? 'null' : typeof o}`);
  return o;
}

/** Deterministic uniform(-k, k) initial values (PyTorch's scheme for recurrent and linear layers). */
function initTensor(dims: number[], k: number, seed: number, dtype: 'float32' | 'float64'): Tensor {
  let a = seed >>> 0;
  const n = dims.reduce((p, q) => p * q, 1);
  const data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    data[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1) * k;
  }
  return new Tensor(dtype, data, dims);
}

/** A module with PyTorch's state_dict names. */
export abstract class Module {
  protected readonly params = new Map<string, Tensor>();
  constructor(readonly dtype: 'float32' | 'float64' = 'float32') {}

  protected declare_(name: string, dims: number[], k: number): void {
    this.params.set(name, initTensor(dims, k, this.params.size * 7919 + dims.length * 104729 + 1, this.dtype));
  }

  stateDict(): Map<string, Tensor> {
    return new Map(this.params);
  }

  /**
   * Loads parameters, strict like PyTorch's load_state_dict: missing, unexpected and mis-shaped
   * keys are all listed in one error. Values are cast to the module's dtype.
   */
  loadStateDict(src: StateDictSource, options: LoadOptions = {}): this {
    const raw = readStateDict(src);
    const sd = new Map<string, Tensor>();
    for (const [k, t] of raw) {
      if (options.prefix && !k.startsWith(options.prefix)) continue;
      sd.set(options.prefix ? k.slice(options.prefix.length) : k, t);
    }
    const missing = [...this.params.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !this.params.has(k));
    const misshaped: string[] = [];
    const badType: string[] = [];
    for (const [k, want] of this.params) {
      const got = sd.get(k);
      if (!got) continue;
      if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) misshaped.push(`${k}: expected [${want.dims}], got [${got.dims}]`);
      if (got.type !== 'float32' && got.type !== 'float64' && got.type !== 'float16') badType.push(`${k}: ${got.type}`);
    }
    if (missing.length || unexpected.length || misshaped.length || badType.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      if (misshaped.length) parts.push(`shape mismatches: ${misshaped.join('; ')}`);
      if (badType.length) parts.push(`non-float tensors: ${badType.join(', ')}`);
      throw new RnnxError(`${this.constructor.name}.loadStateDict: ${parts.join('. ')}`);
    }
    const ctx = { node: { name: 'loadStateDict', opType: 'Cast', domain: '', inputs: [], outputs: [], attributes: new Map() }, opset: 14 };
    for (const k of this.params.keys()) this.params.set(k, castTensor(sd.get(k)!, this.dtype as DataType, ctx));
    return this;
  }

  /** Adds the parameters to the graph as constants named `<prefix>.<name>`. */
  protected constants(b: GraphBuilder, prefix: string, names: readonly string[]): Value[] {
    return names.map((n) => b.constant(`${prefix}.${n}`, this.params.get(n)!));
  }
}

interface StackSpec {
  numLayers: number;
  inputSize: number;
  hiddenSize: number;
  bidirectional: boolean;
  batchFirst: boolean;
  bias: boolean;
  nonlinearity: 'tanh' | 'relu';
  projSize: number;
}

/** Adds one ai.rnnx stack node (inputs x, h0, c0, then the parameters in state_dict order). */
function addStack(b: GraphBuilder, mode: RecMode, spec: StackSpec, x: Value, h0: Value | undefined, c0: Value | undefined, params: Value[], prefix: string, outputs: string[] | number): Value[] {
  const attrs: Record<string, number | string> = {
    num_layers: spec.numLayers, input_size: spec.inputSize, hidden_size: spec.hiddenSize,
    bidirectional: spec.bidirectional ? 1 : 0, batch_first: spec.batchFirst ? 1 : 0, bias: spec.bias ? 1 : 0,
  };
  if (mode === 'RNN') attrs.nonlinearity = spec.nonlinearity;
  if (spec.projSize) attrs.proj_size = spec.projSize;
  return b.op(mode, [x, h0, mode === 'LSTM' ? c0 : null, ...params], attrs, { domain: RNNX_DOMAIN, outputs, name: prefix });
}

export interface RecurrentOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bias?: boolean;
  batchFirst?: boolean;
  bidirectional?: boolean;
  /** LSTM only. */
  projSize?: number;
  /** RNN only. */
  nonlinearity?: 'tanh' | 'relu';
  dtype?: 'float32' | 'float64';
}

export interface RecurrentOutputs {
  y: Value;
  hn: Value;
  cn?: Value;
}

/** nn.LSTM / nn.GRU / nn.RNN: one ai.rnnx stack node in the graph. */
export class RecurrentModule extends Module {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly bidirectional: boolean;
  readonly projSize: number;
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(readonly mode: RecMode, readonly options: RecurrentOptions) {
    super(dtypeArg(mode, optionsArg(mode, options).dtype));
    const I = sizeArg(mode, 'inputSize', options.inputSize);
    const H = sizeArg(mode, 'hiddenSize', options.hiddenSize);
    this.numLayers = options.numLayers === undefined ? 1 : sizeArg(mode, 'numLayers', options.numLayers);
    this.bias = flagArg(mode, 'bias', options.bias, true);
    this.batchFirst = flagArg(mode, 'batchFirst', options.batchFirst, false);
    this.bidirectional = flagArg(mode, 'bidirectional', options.bidirectional, false);
    this.projSize = options.projSize === undefined ? 0 : sizeArg(mode, 'projSize', options.projSize, 0);
    this.nonlinearity = options.nonlinearity ?? 'tanh';
    if (this.nonlinearity !== 'tanh' && this.nonlinearity !== 'relu') throw new RnnxError(`${mode}: nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(this.nonlinearity)}`);
    if (this.projSize && (mode !== 'LSTM' || this.projSize >= H || this.projSize < 0)) throw new RnnxError(`${mode}: proj_size must be 0 < proj_size < hidden_size, and LSTM only`);
    const D = this.bidirectional ? 2 : 1, G = GATES[mode] * H, S = this.projSize || H;
    const perDirection = (l: number) => G * ((l === 0 ? I : D * S) + S + (this.bias ? 2 : 0)) + (this.projSize ? this.projSize * H : 0);
    checkParameterCount(mode, D * (perDirection(0) + (this.numLayers - 1) * perDirection(1)));
    const k = 1 / Math.sqrt(H);
    for (let l = 0; l < this.numLayers; l++) {
      for (const rev of this.bidirectional ? ['', '_reverse'] : ['']) {
        const s = `l${l}${rev}`;
        this.declare_(`weight_ih_${s}`, [G, l === 0 ? I : D * S], k);
        this.declare_(`weight_hh_${s}`, [G, S], k);
        if (this.bias) {
          this.declare_(`bias_ih_${s}`, [G], k);
          this.declare_(`bias_hh_${s}`, [G], k);
        }
        if (this.projSize) this.declare_(`weight_hr_${s}`, [this.projSize, H], k);
      }
    }
  }

  /** x: [T, N, I] (batch_first: [N, T, I]); h0: [L·D, N, S]; c0: [L·D, N, H]. */
  forward(b: GraphBuilder, x: Value, state: { h0?: Value; c0?: Value } = {}, prefix = this.mode.toLowerCase()): RecurrentOutputs {
    const names = stackParamNames(this.numLayers, this.bidirectional, this.bias, this.projSize > 0);
    const params = this.constants(b, prefix, names);
    const outs = this.mode === 'LSTM' ? [`${prefix}_y`, `${prefix}_hn`, `${prefix}_cn`] : [`${prefix}_y`, `${prefix}_hn`];
    const spec: StackSpec = {
      numLayers: this.numLayers, inputSize: this.options.inputSize, hiddenSize: this.options.hiddenSize, bidirectional: this.bidirectional,
      batchFirst: this.batchFirst, bias: this.bias, nonlinearity: this.nonlinearity, projSize: this.projSize,
    };
    const [y, hn, cn] = addStack(b, this.mode, spec, x, state.h0, state.c0, params, prefix, outs);
    return { y, hn, cn };
  }
}

export class LSTM extends RecurrentModule {
  constructor(options: RecurrentOptions) { super('LSTM', options); }
}
export class GRU extends RecurrentModule {
  constructor(options: RecurrentOptions) { super('GRU', options); }
}
export class RNN extends RecurrentModule {
  constructor(options: RecurrentOptions) { super('RNN', options); }
}

export interface CellOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
  nonlinearity?: 'tanh' | 'relu';
  dtype?: 'float32' | 'float64';
}

/** nn.LSTMCell / nn.GRUCell / nn.RNNCell: a one-step, one-layer stack on [1, N, I]. */
export class CellModule extends Module {
  readonly bias: boolean;
  constructor(readonly mode: RecMode, readonly options: CellOptions) {
    super(dtypeArg(`${mode}Cell`, optionsArg(`${mode}Cell`, options).dtype));
    const I = sizeArg(`${mode}Cell`, 'inputSize', options.inputSize), H = sizeArg(`${mode}Cell`, 'hiddenSize', options.hiddenSize);
    this.bias = flagArg(`${mode}Cell`, 'bias', options.bias, true);
    if (options.nonlinearity !== undefined && options.nonlinearity !== 'tanh' && options.nonlinearity !== 'relu') throw new RnnxError(`${mode}Cell: nonlinearity must be 'tanh' or 'relu'`);
    const G = GATES[mode] * H, k = 1 / Math.sqrt(H);
    checkParameterCount(`${mode}Cell`, G * (I + H + (this.bias ? 2 : 0)));
    this.declare_('weight_ih', [G, options.inputSize], k);
    this.declare_('weight_hh', [G, options.hiddenSize], k);
    if (this.bias) {
      this.declare_('bias_ih', [G], k);
      this.declare_('bias_hh', [G], k);
    }
  }

  /** x: [N, I], h: [N, H] (c: [N, H] for LSTMCell). Returns h' (and c'). */
  forward(b: GraphBuilder, x: Value, h?: Value, c?: Value, prefix = `${this.mode.toLowerCase()}_cell`): { h: Value; c?: Value } {
    const names = this.bias ? ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] : ['weight_ih', 'weight_hh'];
    const params = this.constants(b, prefix, names);
    const spec: StackSpec = {
      numLayers: 1, inputSize: this.options.inputSize, hiddenSize: this.options.hiddenSize, bidirectional: false, batchFirst: false,
      bias: this.bias, nonlinearity: this.options.nonlinearity ?? 'tanh', projSize: 0,
    };
    const unsq = (v?: Value) => (v ? b.unsqueeze(v, [0]) : undefined);
    const r = addStack(b, this.mode, spec, b.unsqueeze(x, [0]), unsq(h), unsq(c), params, prefix, this.mode === 'LSTM' ? 3 : 2);
    return { h: b.squeeze(r[1], [0]), c: this.mode === 'LSTM' ? b.squeeze(r[2], [0]) : undefined };
  }
}

export class LSTMCell extends CellModule {
  constructor(options: CellOptions) { super('LSTM', options); }
}
export class GRUCell extends CellModule {
  constructor(options: CellOptions) { super('GRU', options); }
}
export class RNNCell extends CellModule {
  constructor(options: CellOptions) { super('RNN', options); }
}

/** nn.Linear: y = x·Wᵀ + b over the last axis. */
export class Linear extends Module {
  constructor(readonly inFeatures: number, readonly outFeatures: number, readonly bias = true, dtype: 'float32' | 'float64' = 'float32') {
    super(dtypeArg('Linear', dtype));
    sizeArg('Linear', 'inFeatures', inFeatures);
    sizeArg('Linear', 'outFeatures', outFeatures);
    flagArg('Linear', 'bias', bias, true);
    checkParameterCount('Linear', outFeatures * (inFeatures + 1));
    const k = 1 / Math.sqrt(inFeatures);
    this.declare_('weight', [outFeatures, inFeatures], k);
    if (bias) this.declare_('bias', [outFeatures], k);
  }
  forward(b: GraphBuilder, x: Value, prefix = 'linear'): Value {
    const [w, bias] = this.constants(b, prefix, this.bias ? ['weight', 'bias'] : ['weight']);
    const y = b.matmul(x, b.transpose(w, [1, 0]));
    return bias ? b.add(y, bias) : y;
  }
}

/** nn.Embedding: rows of `weight` gathered by int64 indices. */
export class Embedding extends Module {
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, dtype: 'float32' | 'float64' = 'float32') {
    super(dtypeArg('Embedding', dtype));
    sizeArg('Embedding', 'numEmbeddings', numEmbeddings);
    sizeArg('Embedding', 'embeddingDim', embeddingDim);
    checkParameterCount('Embedding', numEmbeddings * embeddingDim);
    this.params.set('weight', initTensor([numEmbeddings, embeddingDim], 1, 17, dtype));
  }
  forward(b: GraphBuilder, indices: Value, prefix = 'embedding'): Value {
    const [w] = this.constants(b, prefix, ['weight']);
    return b.gather(w, indices, 0);
  }
}
