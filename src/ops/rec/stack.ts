import { nodeError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpContext } from '../op.js';
import type { Activation } from './activations.js';
import { prepareLayer, runLayer, stateSize } from './kernels.js';
import { GATES, torchParamNames, type DirectionParams, type FloatArray, type RecMode, type RecurrentLayer } from './layer.js';

/**
 * The rnnx recurrent stack (domain ai.rnnx): a whole PyTorch nn.LSTM / nn.GRU / nn.RNN
 * (num_layers, bidirectional, batch_first, bias, proj_size) as one node, with PyTorch's state
 * layout. Inputs: x, h0 ('' = zeros), c0 (LSTM), then the parameters in state_dict order.
 * Outputs: y [T, N, D·S] (batch_first: [N, T, D·S]), h_n [L·D, N, S], c_n [L·D, N, H].
 */
export interface StackAttrs {
  readonly mode: RecMode;
  readonly numLayers: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly projSize: number;
  readonly bidirectional: boolean;
  readonly batchFirst: boolean;
  readonly bias: boolean;
  readonly nonlinearity: 'tanh' | 'relu';
  readonly layers: readonly RecurrentLayer[];
}

/** Names of the parameters of a stack in PyTorch's state_dict order (without the module prefix). */
export function stackParamNames(numLayers: number, bidirectional: boolean, bias: boolean, proj: boolean): string[] {
  const out: string[] = [];
  for (let k = 0; k < numLayers; k++) {
    for (const rev of bidirectional ? [false, true] : [false]) {
      const n = torchParamNames(k, rev);
      out.push(n.weightIh, n.weightHh);
      if (bias) out.push(n.biasIh, n.biasHh);
      if (proj) out.push(`weight_hr_l${k}${rev ? '_reverse' : ''}`);
    }
  }
  return out;
}

const ACTS: Record<RecMode, (nl: string) => Activation[]> = {
  LSTM: () => [{ name: 'Sigmoid' }, { name: 'Tanh' }, { name: 'Tanh' }],
  GRU: () => [{ name: 'Sigmoid' }, { name: 'Tanh' }],
  RNN: (nl) => [{ name: nl === 'relu' ? 'Relu' : 'Tanh' }],
};

function parseStack(mode: RecMode, ctx: OpContext, a: import('../op.js').AttrReader): StackAttrs {
  const numLayers = a.int('num_layers', 1);
  const inputSize = a.int('input_size');
  const hiddenSize = a.int('hidden_size');
  const projSize = mode === 'LSTM' ? a.int('proj_size', 0) : 0;
  const bidirectional = a.int('bidirectional', 0) !== 0;
  const batchFirst = a.int('batch_first', 0) !== 0;
  const bias = a.int('bias', 1) !== 0;
  const nonlinearity = (mode === 'RNN' ? a.string('nonlinearity', 'tanh') : 'tanh') as 'tanh' | 'relu';
  if (inputSize === undefined || inputSize < 1) throw a.error('input_size', 'is required (>= 1)');
  if (hiddenSize === undefined || hiddenSize < 1) throw a.error('hidden_size', 'is required (>= 1)');
  if (numLayers < 1) throw a.error('num_layers', `expected >= 1, got ${numLayers}`);
  if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize)) throw a.error('proj_size', `expected 0 <= proj_size < hidden_size, got ${projSize}`);
  if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw a.error('nonlinearity', `expected tanh or relu, got '${nonlinearity}'`);
  const D = bidirectional ? 2 : 1;
  const G = GATES[mode];
  const H = hiddenSize;
  const S = projSize || H;
  const names = stackParamNames(numLayers, bidirectional, bias, projSize > 0);
  if (ctx.node.inputs.length !== 3 + names.length) {
    throw nodeError(ctx.node, `expected ${3 + names.length} inputs (x, h0, c0, ${names.join(', ')}), got ${ctx.node.inputs.length}`);
  }
  let i = 3;
  let dtype: 'float32' | 'float64' | undefined;
  const take = (what: string, dims: number[]): FloatArray => {
    const t = ctx.constant?.(i);
    const idx = i++;
    if (!t) throw nodeError(ctx.node, `input ${idx} (${what}) must be a constant initializer`);
    if (t.type !== 'float32' && t.type !== 'float64') throw nodeError(ctx.node, `input ${idx} (${what}): expected float32 or float64, got ${t.type}`);
    dtype ??= t.type;
    if (t.type !== dtype) throw nodeError(ctx.node, `input ${idx} (${what}): expected ${dtype}, got ${t.type}`);
    if (t.dims.length !== dims.length || t.dims.some((d, j) => d !== dims[j])) {
      throw nodeError(ctx.node, `input ${idx} (${what}): expected shape [${dims}], got [${t.dims}]`);
    }
    return t.data as FloatArray;
  };
  const layers: RecurrentLayer[] = [];
  for (let k = 0; k < numLayers; k++) {
    const I = k === 0 ? inputSize : D * S;
    const params: DirectionParams[] = [];
    for (let d = 0; d < D; d++) {
      const n = names.slice(i - 3);
      const weightIh = take(n[0], [G * H, I]);
      const weightHh = take(n[1], [G * H, S]);
      const zeros = () => new (weightIh.constructor as new (m: number) => FloatArray)(G * H);
      const biasIh = bias ? take(n[2], [G * H]) : zeros();
      const biasHh = bias ? take(n[3], [G * H]) : zeros();
      const weightHr = projSize ? take(n[bias ? 4 : 2], [S, H]) : undefined;
      params.push({ weightIh, weightHh, biasIh, biasHh, weightHr });
    }
    layers.push({
      mode, dtype: dtype!, inputSize: I, hiddenSize: H, direction: bidirectional ? 'bidirectional' : 'forward',
      layout: batchFirst ? 1 : 0, params, activations: params.map(() => ACTS[mode](nonlinearity)),
      inputForget: false, linearBeforeReset: true, hasBias: bias, projSize: projSize || undefined,
    });
  }
  for (const l of layers) prepareLayer(l, ctx.pool); // pack once per session
  return { mode, numLayers, inputSize, hiddenSize, projSize, bidirectional, batchFirst, bias, nonlinearity, layers };
}

function recurrentStack(mode: RecMode) {
  return defineOp<StackAttrs>({
    parse: (ctx, a) => parseStack(mode, ctx, a),
    run(inputs, p, ctx) {
      const x = inputs[0];
      if (!x) throw nodeError(ctx.node, 'input 0 (x) is required');
      const dtype = p.layers[0].dtype;
      if (x.type !== dtype) throw nodeError(ctx.node, `input 0 (x): expected ${dtype}, got ${x.type}`);
      if (x.dims.length !== 3 || x.dims[2] !== p.inputSize) {
        throw nodeError(ctx.node, `input 0 (x): expected shape ${p.batchFirst ? '[batch, seq' : '[seq, batch'}, ${p.inputSize}], got [${x.dims}]`);
      }
      const [T, N] = p.batchFirst ? [x.dims[1], x.dims[0]] : [x.dims[0], x.dims[1]];
      const D = p.bidirectional ? 2 : 1;
      const L = p.numLayers;
      const H = p.hiddenSize;
      const S = stateSize(p.layers[0]);
      const state = (i: number, width: number, what: string): FloatArray | undefined => {
        const t = inputs[i];
        if (!t) return undefined;
        const want = [L * D, N, width];
        if (t.type !== dtype || t.dims.length !== 3 || t.dims.some((d, j) => d !== want[j])) {
          throw nodeError(ctx.node, `input ${i} (${what}): expected ${dtype} [${want}], got ${t.type} [${t.dims}]`);
        }
        return t.data as FloatArray;
      };
      const h0 = state(1, S, 'h0');
      const c0 = mode === 'LSTM' ? state(2, H, 'c0') : undefined;
      const make = (n: number): FloatArray => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
      const hn = make(L * D * N * S);
      const cn = mode === 'LSTM' ? make(L * D * N * H) : null;
      let X = x.data as FloatArray;
      const row = p.batchFirst ? (t: number, n: number) => n * T + t : (t: number, n: number) => t * N + n;
      const yAt = (t: number, d: number, n: number) => (row(t, n) * D + d) * S;
      for (let k = 0; k < L; k++) {
        const Y = make(T * N * D * S);
        const sh = k * D * N * S, sc = k * D * N * H;
        runLayer(p.layers[k], {
          T, N, X, lens: null, stateLayout: 0,
          h0: h0?.subarray(sh, sh + D * N * S), c0: c0?.subarray(sc, sc + D * N * H),
        }, { Y, Yh: hn.subarray(sh, sh + D * N * S), Yc: cn ? cn.subarray(sc, sc + D * N * H) : null, yAt }, ctx.pool);
        X = Y;
      }
      const yDims = p.batchFirst ? [N, T, D * S] : [T, N, D * S];
      return [new Tensor(dtype, X, yDims), new Tensor(dtype, hn, [L * D, N, S]), cn ? new Tensor(dtype, cn, [L * D, N, H]) : undefined];
    },
  });
}

export const LSTMStack = recurrentStack('LSTM');
export const GRUStack = recurrentStack('GRU');
export const RNNStack = recurrentStack('RNN');

/** PyTorch's constructor call for a stack, as `rnnx inspect` prints it. */
export function describeStack(p: Pick<StackAttrs, 'mode' | 'inputSize' | 'hiddenSize' | 'numLayers' | 'bias' | 'batchFirst' | 'bidirectional' | 'projSize' | 'nonlinearity'>): string {
  const parts = [`input_size=${p.inputSize}`, `hidden_size=${p.hiddenSize}`, `num_layers=${p.numLayers}`];
  if (p.mode === 'RNN' && p.nonlinearity === 'relu') parts.push("nonlinearity='relu'");
  if (!p.bias) parts.push('bias=False');
  parts.push(`bidirectional=${p.bidirectional ? 'True' : 'False'}`, `batch_first=${p.batchFirst ? 'True' : 'False'}`);
  if (p.projSize) parts.push(`proj_size=${p.projSize}`);
  return `${p.mode}(${parts.join(', ')})`;
}
