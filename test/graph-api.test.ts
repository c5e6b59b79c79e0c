// Graph API, ONNX export and LSTM with projection end to end: PyTorch modules (run by PyTorch
// itself, since torch.onnx.export refuses proj_size) rebuilt in rnnx, exported to ONNX, imported
// back, and run by onnxruntime-node.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import { exportOnnx } from '../src/export/onnx.js';
import { RnnxError } from '../src/ir/errors.js';
import type { Model } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { fuseRecurrent } from '../src/import/fuse.js';
import { loadModel } from '../src/import/model.js';
import { readNpy, readNpz } from '../src/io/npy.js';
import { modelFromTorch, type TorchHparams } from '../src/nn/from-torch.js';
import { Embedding, GRUCell, LSTM, LSTMCell, Linear, RNNCell, GRU, RNN } from '../src/nn/modules.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';

/** rnnx / onnxruntime vs PyTorch's float32 outputs. */
const TORCH_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** Weights recovered by import after export: W_hh = (W_hh·W_hr)·pinv(W_hr) in float64, rounded to float32. */
const WEIGHT_TOL: Tolerance = { rtol: 1e-4, atol: 1e-6 };

const root = path.join(import.meta.dirname, 'torch-modules');
const modules = fs.readdirSync(root).sort();

function load(name: string) {
  const dir = path.join(root, name);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { class: 'LSTM' | 'GRU' | 'RNN'; inputs: string[]; outputs: string[] };
  const hp = JSON.parse(fs.readFileSync(path.join(dir, 'hparams.json'), 'utf8')) as TorchHparams;
  const feeds = Object.fromEntries(meta.inputs.map((n) => [n, readNpy(fs.readFileSync(path.join(dir, `in_${n}.npy`)))])) as Record<string, Tensor>;
  const want = Object.fromEntries(meta.outputs.map((n) => [n, readNpy(fs.readFileSync(path.join(dir, `out_${n}.npy`)))])) as Record<string, Tensor>;
  return { dir, meta, hp, feeds, want };
}

function expectClose(got: Record<string, Tensor>, want: Record<string, Tensor>, tol: Tolerance, what: string) {
  for (const k of Object.keys(want)) expect(compareTensors(got[k], want[k], tol).message ?? '', `${what} ${k}`).toBe('');
}

describe.each(modules)('%s', (name) => {
  const { dir, meta, hp, feeds, want } = load(name);
  const built = modelFromTorch(meta.class, path.join(dir, 'state_dict.npz'), hp, { initialState: 'h0' in feeds });
  const bytes = exportOnnx(built);

  it('rnnx on the built graph matches PyTorch', () => {
    expectClose(InferenceSession.createSync(built).runSync(feeds), want, TORCH_TOL, 'built');
  });
  it('rnnx on the exported ONNX matches PyTorch (imported back as one stack)', () => {
    const imported = loadModel(bytes);
    expect(imported.graph.nodes.map((n) => `${n.domain}.${n.opType}`)).toEqual([`ai.rnnx.${meta.class}`]);
    expectClose(InferenceSession.createSync(imported).runSync(feeds), want, TORCH_TOL, 'imported');
    expectClose(InferenceSession.createSync(bytes, { fuse: false }).runSync(feeds), want, TORCH_TOL, 'unfused');
  });
  it('onnxruntime-node on the exported ONNX matches PyTorch', async () => {
    expectClose(await runOrt(bytes, feeds), want, TORCH_TOL, 'onnxruntime');
  });
  it('import(export(graph)) gives back the weights and hyperparameters', () => {
    const a = built.graph.nodes.find((n) => n.domain === 'ai.rnnx')!;
    const b = loadModel(bytes).graph.nodes[0];
    expect(Object.fromEntries([...b.attributes].map(([k, v]) => [k, v.value]))).toEqual(Object.fromEntries([...a.attributes].map(([k, v]) => [k, v.value])));
    const sd = readNpz(fs.readFileSync(path.join(dir, 'state_dict.npz')));
    b.inputs.slice(3).forEach((n, i) => {
      const key = a.inputs[3 + i].replace(/^[^.]+\./, '');
      expect(n.endsWith(key), `${n} vs ${key}`).toBe(true);
      const got = loadModel(bytes).graph.initializers.get(n)!;
      expect(compareTensors(got, sd.get(key)!, WEIGHT_TOL).message ?? '', key).toBe('');
    });
  });
});

describe('LSTMP recovery under taps', () => {
  it('exposing any intermediate of an exported LSTMP graph never changes a number', () => {
    const r = rng(12);
    let checked = 0;
    for (const name of modules.filter((n) => n.startsWith('lstmp'))) {
      const { dir, meta, hp, feeds } = load(name);
      const base = loadModel(exportOnnx(modelFromTorch(meta.class, path.join(dir, 'state_dict.npz'), hp, { initialState: 'h0' in feeds })), { fuse: false });
      const produced = base.graph.nodes.flatMap((n) => n.outputs.filter((o) => o && !base.graph.outputs.some((g) => g.name === o)));
      for (let k = 0; k < 10; k++) {
        const tap = produced[Math.floor(r() * produced.length)];
        const tapped: Model = { ...base, graph: { ...base.graph, outputs: [...base.graph.outputs, { name: tap }] } };
        const want = InferenceSession.createSync(tapped).runSync(feeds);
        const got = InferenceSession.createSync(fuseRecurrent(tapped)).runSync(feeds);
        for (const o of Object.keys(want)) expect(compareTensors(got[o], want[o], { rtol: 1e-5, atol: 1e-6 }).message ?? '', `${name} tap ${tap}: ${o}`).toBe('');
        checked++;
      }
    }
    expect(checked).toBe(80);
  });
});

describe('graph builder and modules', () => {
  const r = rng(5);
  async function roundTrip(model: Model, feeds: Record<string, Tensor>) {
    const direct = InferenceSession.createSync(model).runSync(feeds);
    const bytes = exportOnnx(model);
    const viaOnnx = InferenceSession.createSync(bytes).runSync(feeds);
    const ort = await runOrt(bytes, feeds);
    for (const k of Object.keys(direct)) {
      expect(compareTensors(viaOnnx[k], direct[k], { rtol: 1e-6, atol: 1e-7 }).message ?? '', k).toBe('');
      expect(compareTensors(ort[k], direct[k], TORCH_TOL).message ?? '', k).toBe('');
    }
  }

  it('cells, Linear and Embedding round-trip through ONNX and run in onnxruntime', async () => {
    const b = new GraphBuilder({ opset: 14 });
    const tokens = b.input('tokens', 'int64', ['batch']);
    const emb = new Embedding(20, 3).forward(b, tokens, 'embed');
    const h = b.input('h', 'float32', ['batch', 4]);
    const c = b.input('c', 'float32', ['batch', 4]);
    const l = new LSTMCell({ inputSize: 3, hiddenSize: 4 }).forward(b, emb, h, c, 'lstm_cell');
    const g = new GRUCell({ inputSize: 4, hiddenSize: 4 }).forward(b, l.h, h, undefined, 'gru_cell');
    const rr = new RNNCell({ inputSize: 4, hiddenSize: 4, nonlinearity: 'relu' }).forward(b, g.h, undefined, undefined, 'rnn_cell');
    const y = new Linear(4, 6).forward(b, rr.h, 'head');
    b.output(b.logSoftmax(y), 'logprobs');
    b.output(l.c!, 'c_next');
    const model = b.build();
    await roundTrip(model, { tokens: new Tensor('int64', [1n, 7n, 19n], [3]), h: randTensor(r, [3, 4]), c: randTensor(r, [3, 4]) });
  });

  it('every recurrent module kind round-trips (GRU, RNN relu, LSTM bidirectional batch_first)', async () => {
    for (const m of [
      new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 }),
      new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu', bidirectional: true, bias: false }),
      new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, batchFirst: true, projSize: 2 }),
    ]) {
      const b = new GraphBuilder();
      const x = b.input('x', 'float32', m.batchFirst ? ['batch', 'time', 3] : ['time', 'batch', 3]);
      const o = m.forward(b, x);
      b.output(o.y, 'y');
      b.output(o.hn, 'hn');
      await roundTrip(b.build(), { x: randTensor(r, m.batchFirst ? [2, 4, 3] : [4, 2, 3]) });
    }
  });

  it.each([9, 11, 13, 17, 22])('exports at opset %i where the ops allow, and onnxruntime runs it', async (opset) => {
    const { dir, meta, hp, feeds, want } = load('lstmp_l2_bi_bf_state');
    const model = modelFromTorch(meta.class, path.join(dir, 'state_dict.npz'), hp, { initialState: true, opset });
    const bytes = exportOnnx(model);
    expect(loadModel(bytes).opsets.get('')).toBe(opset);
    expectClose(InferenceSession.createSync(bytes).runSync(feeds), want, TORCH_TOL, `rnnx opset ${opset}`);
    expectClose(await runOrt(bytes, feeds), want, TORCH_TOL, `onnxruntime opset ${opset}`);
  });

  it('a built graph is validated like an imported one', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    b.output(b.op1('Softmax', [x], { axis: 1, bogus: 2 }), 'y');
    expect(() => b.build()).toThrow(/Node Softmax_0 \(Softmax\): attribute 'bogus' not supported/);
    const b2 = new GraphBuilder();
    b2.input('x', 'float32', [2]);
    b2.output(b2.relu({ name: 'nowhere' }), 'y');
    expect(() => b2.build()).toThrow(/input 'nowhere' is not produced/);
  });

  it('loadStateDict is strict and lists every problem at once', () => {
    const m = new LSTM({ inputSize: 3, hiddenSize: 4 });
    const sd = m.stateDict();
    sd.delete('bias_hh_l0');
    sd.set('weight_ih_l0', new Tensor('float32', new Float32Array(12), [4, 3]));
    sd.set('extra', new Tensor('float32', [1], [1]));
    let err: unknown;
    try { m.loadStateDict(sd); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(RnnxError);
    expect((err as Error).message).toBe('LSTM.loadStateDict: missing keys: bias_hh_l0. unexpected keys: extra. shape mismatches: weight_ih_l0: expected [16,3], got [4,3]');
  });

});
