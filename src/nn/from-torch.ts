import { RnnxError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { GraphBuilder } from '../builder/graph-builder.js';
import type { RecMode } from '../ops/rec/layer.js';
import { RecurrentModule, type StateDictSource } from './modules.js';

/** PyTorch constructor arguments of nn.LSTM / nn.GRU / nn.RNN, under PyTorch's names. */
export interface TorchHparams {
  input_size: number;
  hidden_size: number;
  num_layers?: number;
  bias?: boolean;
  batch_first?: boolean;
  bidirectional?: boolean;
  proj_size?: number;
  nonlinearity?: 'tanh' | 'relu';
  dropout?: number;
}

const KNOWN = ['input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first', 'bidirectional', 'proj_size', 'nonlinearity', 'dropout'];

/**
 * The graph of one PyTorch recurrent module with its weights: inputs `x` (and `h0`, `c0` with
 * initialState, shaped as PyTorch's), outputs `y`, `hn` (and `cn`).
 */
export function modelFromTorch(kind: RecMode, state: StateDictSource, hp: TorchHparams, options: { initialState?: boolean; opset?: number; prefix?: string } = {}): Model {
  if (!['LSTM', 'GRU', 'RNN'].includes(kind)) throw new RnnxError(`from-torch: expected LSTM, GRU or RNN, got '${kind}'`);
  if (hp === null || typeof hp !== 'object' || Array.isArray(hp)) {
    throw new RnnxError(`from-torch: the hyperparameters must be a JSON object, got ${hp === null ? 'null' : Array.isArray(hp) ? 'an array' : typeof hp}`);
  }
  const unknown = Object.keys(hp).filter((k) => !KNOWN.includes(k));
  if (unknown.length) throw new RnnxError(`from-torch: unknown hyperparameters ${unknown.join(', ')} (known: ${KNOWN.join(', ')})`);
  if (hp.dropout !== undefined && !(typeof hp.dropout === 'number' && hp.dropout >= 0 && hp.dropout <= 1)) throw new RnnxError(`from-torch: dropout must be a number from 0 to 1 (it is not applied at inference), got ${JSON.stringify(hp.dropout)}`);
  if (hp.proj_size && kind !== 'LSTM') throw new RnnxError('from-torch: proj_size is only valid for LSTM');
  if (hp.nonlinearity && kind !== 'RNN') throw new RnnxError('from-torch: nonlinearity is only valid for RNN');
  const m = new RecurrentModule(kind, {
    inputSize: hp.input_size, hiddenSize: hp.hidden_size, numLayers: hp.num_layers, bias: hp.bias, batchFirst: hp.batch_first,
    bidirectional: hp.bidirectional, projSize: hp.proj_size, nonlinearity: hp.nonlinearity,
  }).loadStateDict(state, { prefix: options.prefix });
  const b = new GraphBuilder({ opset: options.opset ?? 14, name: kind.toLowerCase() });
  const D = m.bidirectional ? 2 : 1;
  const LD = m.numLayers * D;
  const S = m.projSize || hp.hidden_size;
  const x = b.input('x', m.dtype, m.batchFirst ? ['batch', 'time', hp.input_size] : ['time', 'batch', hp.input_size]);
  const h0 = options.initialState ? b.input('h0', m.dtype, [LD, 'batch', S]) : undefined;
  const c0 = options.initialState && kind === 'LSTM' ? b.input('c0', m.dtype, [LD, 'batch', hp.hidden_size]) : undefined;
  const out = m.forward(b, x, { h0, c0 }, kind.toLowerCase());
  b.output(out.y, 'y', m.dtype, m.batchFirst ? ['batch', 'time', D * S] : ['time', 'batch', D * S]);
  b.output(out.hn, 'hn', m.dtype, [LD, 'batch', S]);
  if (out.cn) b.output(out.cn, 'cn', m.dtype, [LD, 'batch', hp.hidden_size]);
  return b.build();
}
