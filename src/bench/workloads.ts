import { dynamoBenchModel } from '../builder/dynamo-form.js';
import { GraphBuilder } from '../builder/graph-builder.js';
import { encodeModel, exportOnnx } from '../export/onnx.js';
import { Tensor } from '../ir/tensor.js';
import { Embedding, GRU, LSTM, Linear } from '../nn/modules.js';

export interface Workload {
  readonly name: string;
  readonly shape: string;
  /** ONNX bytes as PyTorch would export the module (per-layer LSTM/GRU nodes, PyTorch's layout around them). */
  readonly onnx: Uint8Array;
  readonly feeds: Record<string, Tensor>;
  /** For another export form of a workload: the TorchScript-form bytes of the same module, timed beside it. */
  readonly baseline?: Uint8Array;
}

function rand(dims: number[], seed: number): Tensor {
  let a = seed >>> 0;
  const n = dims.reduce((p, q) => p * q, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    d[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  }
  return new Tensor('float32', d, dims);
}

function recurrent(name: string, shape: string, m: LSTM | GRU, T: number, N: number, I: number): Workload {
  const b = new GraphBuilder({ opset: 14 });
  const x = b.input('x', 'float32', ['time', 'batch', I]);
  const o = m.forward(b, x, {}, 'rnn');
  b.output(o.y, 'y');
  b.output(o.hn, 'hn');
  return { name, shape, onnx: exportOnnx(b.build()), feeds: { x: rand([T, N, I], 1) } };
}

/** The six workloads of the speed issue, built with the graph API and exported to ONNX. */
export function workloads(): Workload[] {
  const lm = (() => {
    const b = new GraphBuilder({ opset: 14 });
    const tokens = b.input('tokens', 'int64', ['batch', 'time']);
    const e = new Embedding(10000, 256).forward(b, tokens, 'embed');
    const o = new LSTM({ inputSize: 256, hiddenSize: 512, numLayers: 2, batchFirst: true }).forward(b, e, {}, 'lstm');
    const logits = new Linear(512, 10000).forward(b, o.y, 'proj');
    b.output(b.logSoftmax(logits, -1), 'logprobs');
    const ids = new BigInt64Array(8 * 35).map((_, i) => BigInt((i * 7919) % 10000));
    return { name: 'w6_lm_b8', shape: 'Embedding 10000x256 -> LSTM 2x512 -> Linear 512->10000 -> LogSoftmax, N=8, T=35', onnx: exportOnnx(b.build()), feeds: { tokens: new Tensor('int64', ids, [8, 35]) } };
  })();
  // The same modules as torch.onnx.export(dynamo=True) writes them (src/builder/dynamo-form.ts):
  // the gate reorder as Slice/Concat chains, Transpose+Reshape after each layer, zeros by Expand.
  const w2 = new LSTM({ inputSize: 256, hiddenSize: 512, numLayers: 2 });
  const w2dyn: Workload = {
    name: 'w2d_dynamo_form', shape: 'w2 as the dynamo exporter writes it', baseline: recurrent('', '', w2, 200, 1, 256).onnx,
    onnx: encodeModel(dynamoBenchModel('LSTM', { inputSize: 256, hiddenSize: 512, numLayers: 2 }, w2.stateDict())), feeds: { x: rand([200, 1, 256], 1) },
  };
  const w6dyn: Workload = {
    name: 'w6d_dynamo_form', shape: 'w6 as the dynamo exporter writes it', baseline: lm.onnx, feeds: lm.feeds,
    onnx: encodeModel(dynamoBenchModel('LSTM', { inputSize: 256, hiddenSize: 512, numLayers: 2, batchFirst: true },
      new LSTM({ inputSize: 256, hiddenSize: 512, numLayers: 2, batchFirst: true }).stateDict(),
      { vocab: 10000, embed: new Embedding(10000, 256).stateDict(), linear: new Linear(512, 10000).stateDict() })),
  };
  return [
    recurrent('w1_lstm_b1_h128', 'LSTM I=64 H=128, N=1, T=100', new LSTM({ inputSize: 64, hiddenSize: 128 }), 100, 1, 64),
    recurrent('w2_lstm_b1_h512_l2', 'LSTM I=256 H=512, 2 layers, N=1, T=200', new LSTM({ inputSize: 256, hiddenSize: 512, numLayers: 2 }), 200, 1, 256),
    recurrent('w3_lstm_b32_h256_bi', 'bidirectional LSTM I=128 H=256, N=32, T=50', new LSTM({ inputSize: 128, hiddenSize: 256, bidirectional: true }), 50, 32, 128),
    recurrent('w4_lstm_step_h512', 'LSTM I=256 H=512, N=1, T=1 (one streaming step per call)', new LSTM({ inputSize: 256, hiddenSize: 512 }), 1, 1, 256),
    recurrent('w5_gru_b16_h256', 'GRU I=128 H=256, N=16, T=100', new GRU({ inputSize: 128, hiddenSize: 256 }), 100, 16, 128),
    lm,
    w2dyn,
    w6dyn,
  ];
}
