// The IR recurrent layer holds PyTorch's layout: proven by round trips and by a PyTorch export.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/import/model.js';
import { readNpz } from '../src/io/npy.js';
import { AttrReader } from '../src/ops/op.js';
import { parseRecAttrs } from '../src/ops/rec/common.js';
import { paramsFromOnnx, paramsToOnnx, torchParamNames, type RecMode } from '../src/ops/rec/layer.js';
import { randTensor, rng } from './helpers.js';

describe('ONNX -> IR -> ONNX gives back the same tensors', () => {
  const r = rng(99);
  for (const mode of ['LSTM', 'GRU', 'RNN'] as RecMode[]) {
    for (const D of [1, 2]) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`${mode} D=${D} ${dtype}`, () => {
          const G = { LSTM: 4, GRU: 3, RNN: 1 }[mode];
          const H = 3, I = 2;
          const W = randTensor(r, [D, G * H, I], dtype), R = randTensor(r, [D, G * H, H], dtype), B = randTensor(r, [D, 2 * G * H], dtype);
          const P = mode === 'LSTM' ? randTensor(r, [D, 3 * H], dtype) : undefined;
          const params = paramsFromOnnx(mode, { W, R, B, P }, D, H, I);
          const back = paramsToOnnx({
            mode, dtype, inputSize: I, hiddenSize: H, direction: D === 2 ? 'bidirectional' : 'forward', layout: 0, params,
            activations: [], inputForget: false, linearBeforeReset: false, hasBias: true,
          });
          for (const [a, b] of [[W, back.W], [R, back.R], [B, back.B], [P, back.P]] as [Tensor | undefined, Tensor | undefined][]) {
            expect(b?.dims).toEqual(a?.dims);
            expect(b && Array.from(b.data as Float32Array)).toEqual(a && Array.from(a.data as Float32Array));
          }
          // The gate permutation moves whole blocks: LSTM iofc -> ifgo puts ONNX block 2 (f) second.
          if (mode === 'LSTM') expect(params[0].weightIh.subarray(H * I, 2 * H * I)).toEqual((W.data as Float32Array).subarray(2 * H * I, 3 * H * I));
          if (mode === 'GRU') expect(params[0].weightIh.subarray(0, H * I)).toEqual((W.data as Float32Array).subarray(H * I, 2 * H * I));
        });
      }
    }
  }
});

describe('IR weights of a PyTorch export equal the module parameters', () => {
  it('lstm_seed: nn.LSTM(4, 5, batch_first=True)', () => {
    const dir = path.join(import.meta.dirname, 'fixtures', 'lstm_seed');
    const model = loadModel(path.join(dir, 'model.onnx'), { fuse: false });
    const state = readNpz(fs.readFileSync(path.join(dir, 'state_dict.npz')));
    const lstm = model.graph.nodes.find((n) => n.opType === 'LSTM')!;
    const ctx = { node: lstm, opset: 14, constant: (i: number) => model.graph.initializers.get(lstm.inputs[i]) };
    const attrs = parseRecAttrs('LSTM', ctx, new AttrReader(ctx));
    const p = attrs.layer!.params[0];
    const names = torchParamNames(0, false);
    for (const key of ['weightIh', 'weightHh', 'biasIh', 'biasHh'] as const) {
      const want = state.get(`rnn.${names[key]}`)!;
      expect(want, names[key]).toBeDefined();
      expect(Array.from(p[key])).toEqual(Array.from(want.data as Float32Array));
    }
  });
});
