import { nodeError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type AttrReader, type OpContext } from '../op.js';
import { prepareLayer, runLayer } from './kernels.js';
import { GATES, type FloatArray, type RecurrentLayer } from './layer.js';

/**
 * The rnnx recurrent cell (domain ai.rnnx): a PyTorch nn.LSTMCell / nn.GRUCell / nn.RNNCell as one node, one
 * step of the recurrent kernels. Inputs: x [N, I], h ('' = zeros) [N, H], c ('' = zeros; LSTM
 * only), then weight_ih [G·H, I], weight_hh [G·H, H] and, with bias, bias_ih, bias_hh [G·H].
 * Outputs: h' [N, H] (and c' [N, H] for LSTMCell). Made by the importer's recovery of the
 * decomposed cells torch.onnx.export(dynamo=True) writes; lowered back to ONNX LSTM/GRU nodes
 * with T = 1 by `src/export/lower.ts`.
 */
export interface CellAttrs {
  readonly mode: 'LSTM' | 'GRU' | 'RNN';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  readonly layer: RecurrentLayer;
}

export const cellParamNames = (bias: boolean): string[] => (bias ? ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] : ['weight_ih', 'weight_hh']);

function parseCell(mode: 'LSTM' | 'GRU' | 'RNN', ctx: OpContext, a: AttrReader): CellAttrs {
  const inputSize = a.int('input_size');
  const nonlinearity = mode === 'RNN' ? a.string('nonlinearity', 'tanh') : 'tanh';
  if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw a.error('nonlinearity', `expected tanh or relu, got '${nonlinearity}'`);
  const hiddenSize = a.int('hidden_size');
  const bias = a.int('bias', 1) !== 0;
  if (inputSize === undefined || inputSize < 1) throw a.error('input_size', 'is required (>= 1)');
  if (hiddenSize === undefined || hiddenSize < 1) throw a.error('hidden_size', 'is required (>= 1)');
  const names = cellParamNames(bias);
  if (ctx.node.inputs.length !== 3 + names.length) {
    throw nodeError(ctx.node, `expected ${3 + names.length} inputs (x, h, c, ${names.join(', ')}), got ${ctx.node.inputs.length}`);
  }
  const G = GATES[mode] * hiddenSize;
  let dtype: 'float32' | 'float64' | undefined;
  const take = (i: number, dims: number[]): FloatArray => {
    const t = ctx.constant?.(i);
    const what = names[i - 3];
    if (!t) throw nodeError(ctx.node, `input ${i} (${what}) must be a constant initializer`);
    if (t.type !== 'float32' && t.type !== 'float64') throw nodeError(ctx.node, `input ${i} (${what}): expected float32 or float64, got ${t.type}`);
    dtype ??= t.type;
    if (t.type !== dtype) throw nodeError(ctx.node, `input ${i} (${what}): expected ${dtype}, got ${t.type}`);
    if (t.dims.length !== dims.length || t.dims.some((d, j) => d !== dims[j])) throw nodeError(ctx.node, `input ${i} (${what}): expected shape [${dims}], got [${t.dims}]`);
    return t.data as FloatArray;
  };
  const weightIh = take(3, [G, inputSize]);
  const weightHh = take(4, [G, hiddenSize]);
  const zeros = () => new (weightIh.constructor as new (m: number) => FloatArray)(G);
  const biasIh = bias ? take(5, [G]) : zeros();
  const biasHh = bias ? take(6, [G]) : zeros();
  const layer: RecurrentLayer = {
    mode, dtype: dtype!, inputSize, hiddenSize, direction: 'forward', layout: 0,
    params: [{ weightIh, weightHh, biasIh, biasHh }],
    activations: [mode === 'LSTM' ? [{ name: 'Sigmoid' }, { name: 'Tanh' }, { name: 'Tanh' }] : mode === 'GRU' ? [{ name: 'Sigmoid' }, { name: 'Tanh' }] : [{ name: nonlinearity === 'relu' ? 'Relu' : 'Tanh' }]],
    inputForget: false, linearBeforeReset: true, hasBias: bias,
  };
  prepareLayer(layer, ctx.pool); // pack once per session
  return { mode, inputSize, hiddenSize, bias, layer };
}

function recurrentCell(mode: 'LSTM' | 'GRU' | 'RNN') {
  return defineOp<CellAttrs>({
    parse: (ctx, a) => parseCell(mode, ctx, a),
    run(inputs, p, ctx) {
      const x = inputs[0];
      const dtype = p.layer.dtype;
      if (!x) throw nodeError(ctx.node, 'input 0 (x) is required');
      if (x.type !== dtype || x.dims.length !== 2 || x.dims[1] !== p.inputSize) {
        throw nodeError(ctx.node, `input 0 (x): expected ${dtype} [batch, ${p.inputSize}], got ${x.type} [${x.dims}]`);
      }
      const N = x.dims[0], H = p.hiddenSize;
      const state = (i: number, what: string): FloatArray | undefined => {
        const t = inputs[i];
        if (!t) return undefined;
        if (t.type !== dtype || t.dims.length !== 2 || t.dims[0] !== N || t.dims[1] !== H) {
          throw nodeError(ctx.node, `input ${i} (${what}): expected ${dtype} [${N}, ${H}], got ${t.type} [${t.dims}]`);
        }
        return t.data as FloatArray;
      };
      const h0 = state(1, 'h'), c0 = mode === 'LSTM' ? state(2, 'c') : undefined;
      const make = (n: number): FloatArray => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
      // One step of a one-layer forward stack: [N, I] is [1, N, I], [N, H] is [1, N, H].
      const hy = make(N * H), cy = mode === 'LSTM' ? make(N * H) : null;
      runLayer(p.layer, { T: 1, N, X: x.data as FloatArray, lens: null, stateLayout: 0, h0, c0 }, { Y: null, Yh: hy, Yc: cy }, ctx.pool);
      return cy ? [new Tensor(dtype, hy, [N, H]), new Tensor(dtype, cy, [N, H])] : [new Tensor(dtype, hy, [N, H])];
    },
  });
}

export const LSTMCell = recurrentCell('LSTM');
export const GRUCell = recurrentCell('GRU');
export const RNNCell = recurrentCell('RNN');

/** PyTorch's constructor call for a cell, as `rnnx inspect` prints it. */
export function describeCell(mode: string, inputSize: number, hiddenSize: number, bias: boolean, nonlinearity = 'tanh'): string {
  return `${mode}(input_size=${inputSize}, hidden_size=${hiddenSize}${bias ? '' : ', bias=False'}${nonlinearity === 'relu' ? ", nonlinearity='relu'" : ''})`;
}
