// Bad input gets an RnnxError naming what is wrong: never a crash, a hang or a wrong number.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeModel, singleNodeModel } from '../src/export/onnx.js';
import { RnnxError } from '../src/ir/errors.js';
import type { Graph, Model, Node } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { TensorSequence } from '../src/ir/value.js';
import { onnx } from '../src/import/proto.js';
import { InferenceSession } from '../src/runtime/session.js';
import { rng } from './helpers.js';

const seedModel = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'lstm_seed', 'model.onnx'));

function node(name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attributes'] = new Map()): Node {
  return { name, opType, domain: '', inputs, outputs, attributes: attrs };
}
function model(nodes: Node[], extra: Partial<Graph> = {}, opset = 14): Model {
  return {
    irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', opset]]),
    graph: {
      name: 'g', nodes, inputs: [{ name: 'x', type: 'float32', shape: [2, 3] }], outputs: [{ name: 'y', type: 'float32' }],
      initializers: new Map(), valueInfo: new Map(), ...extra,
    },
  };
}
const x = new Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]);

function expectRnnxError(f: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(RnnxError);
  expect((err as Error).message).toMatch(pattern);
}

describe('malformed models', () => {
  it('truncated bytes', () => {
    for (const cut of [1, 10, 100, Math.floor(seedModel.length / 2), seedModel.length - 3]) {
      expectRnnxError(() => InferenceSession.createSync(seedModel.subarray(0, cut)), /ONNX model|Tensor|Graph|Node|opset/);
    }
  });
  it('random bytes', () => {
    const r = rng(7);
    for (let k = 0; k < 50; k++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(r() * 2000) }, () => Math.floor(r() * 256));
      expectRnnxError(() => InferenceSession.createSync(bytes), /./);
    }
  });
  it('mutated copies of a real model either run or fail with an RnnxError', () => {
    const r = rng(11);
    const feeds = {
      x: new Tensor('float32', new Float32Array(24), [2, 3, 4]),
      h0: new Tensor('float32', new Float32Array(10), [1, 2, 5]),
      c0: new Tensor('float32', new Float32Array(10), [1, 2, 5]),
    };
    let ran = 0;
    for (let k = 0; k < 300; k++) {
      const bytes = Uint8Array.from(seedModel);
      for (let j = 0; j < 1 + Math.floor(r() * 4); j++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      try {
        InferenceSession.createSync(bytes).runSync(feeds);
        ran++;
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(RnnxError);
      }
    }
    expect(ran).toBeGreaterThan(0);
  });
  it('map values and unknown element types are refused at load with the value named', () => {
    const proto = onnx.ModelProto.decode(encodeModel(model([node('r', 'Identity', ['x'], ['y'])])));
    proto.graph!.input![0].type = { mapType: { keyType: 7, valueType: { tensorType: { elemType: 1 } } } };
    expectRnnxError(() => InferenceSession.createSync(onnx.ModelProto.encode(proto).finish()), /Value 'x': map values are not supported/);
    proto.graph!.input![0].type = { tensorType: { elemType: 14 } };
    expectRnnxError(() => InferenceSession.createSync(onnx.ModelProto.encode(proto).finish()), /Value 'x': data type complex64 is not supported/);
  });
  it('a sequence reaching a tensor op, or a tensor fed as a sequence, is a clear error', () => {
    const proto = onnx.ModelProto.decode(encodeModel(model([node('r', 'Relu', ['x'], ['y'])])));
    proto.graph!.input![0].type = { sequenceType: { elemType: { tensorType: { elemType: 1 } } } };
    const s = InferenceSession.createSync(onnx.ModelProto.encode(proto).finish());
    expectRnnxError(() => s.runValues({ x: [x, x] }), /Node r \(Relu\): input 'x' is a sequence of 2 float32 tensors; this op takes tensors/);
    expectRnnxError(() => s.runValues({ x }), /Feed 'x': expected a sequence/);
    const ints = new Tensor('int64', [1n], [1]);
    expectRnnxError(() => s.runValues({ x: [x, ints] }), /Feed 'x'\[1\]: expected float32, got int64/);
    expectRnnxError(() => s.runValues({ x: new TensorSequence('int64', [ints]) }), /Feed 'x'\[0\]: expected float32, got int64/);
  });
  it('a file that does not exist', () => {
    expectRnnxError(() => InferenceSession.createSync('/nonexistent/model.onnx'), /Cannot read model/);
  });
});

describe('graph validation', () => {
  it('a node reading a value nobody produces', () => {
    expectRnnxError(() => InferenceSession.createSync(model([node('relu_1', 'Relu', ['ghost'], ['y'])])), /Node relu_1 \(Relu\): input 'ghost' is not produced/);
  });
  it('a cycle', () => {
    const m = model([node('a', 'Relu', ['x2'], ['x1']), node('b', 'Relu', ['x1'], ['x2']), node('c', 'Identity', ['x1'], ['y'])]);
    expectRnnxError(() => InferenceSession.createSync(m), /cycle through: a \(Relu\), b \(Relu\)/);
  });
  it('a cycle through a recurrent chain is reported, not looped on by layer recovery', () => {
    // 3-layer bidirectional LSTM: make layer 1 read layer 2's output (both take D·H inputs).
    const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'lstm_l3_bi', 'model.onnx')));
    const lstms = proto.graph!.node!.filter((n) => n.opType === 'LSTM');
    const reshapes = proto.graph!.node!.filter((n) => n.opType === 'Reshape');
    lstms[1].input![0] = reshapes[2].output![0]; // 'y', no longer a graph output
    proto.graph!.output = proto.graph!.output!.filter((o) => o.name !== reshapes[2].output![0]);
    expectRnnxError(() => InferenceSession.createSync(onnx.ModelProto.encode(proto).finish()), /cycle/);
  });
  it('a value produced twice', () => {
    expectRnnxError(() => InferenceSession.createSync(model([node('a', 'Relu', ['x'], ['y']), node('b', 'Neg', ['x'], ['y'])])), /Node b \(Neg\): output 'y' is already produced by node a/);
  });
  it('every unsupported op in one error with counts and opset', () => {
    const m = model([node('a', 'Foo', ['x'], ['t1']), node('b', 'Foo', ['t1'], ['t2']), node('c', 'Bar', ['t2'], ['y'])]);
    expectRnnxError(() => InferenceSession.createSync(m), /Unsupported ops in this model: Foo \(opset 14\) x2, Bar \(opset 14\) x1/);
  });
  it('an unsupported attribute is refused, not ignored', () => {
    const m = model([node('s', 'Softmax', ['x'], ['y'], new Map([['axis', { type: 'int', value: 1 }], ['bogus', { type: 'int', value: 3 }]]))]);
    expectRnnxError(() => InferenceSession.createSync(m), /Node s \(Softmax\): attribute 'bogus' not supported/);
  });
  it('an attribute of the wrong type names node and attribute', () => {
    const m = model([node('s', 'Softmax', ['x'], ['y'], new Map([['axis', { type: 'string', value: 'one' }]]))]);
    expectRnnxError(() => InferenceSession.createSync(m), /Node s \(Softmax\): attribute 'axis': expected int, got string/);
  });
});

describe('feeds', () => {
  const m = model([node('r', 'Relu', ['x'], ['y'])]);
  const s = InferenceSession.createSync(m);
  it('wrong dtype', () => expectRnnxError(() => s.runSync({ x: new Tensor('float64', [1, 2, 3, 4, 5, 6], [2, 3]) }), /Feed 'x': expected float32, got float64/));
  it('wrong shape', () => expectRnnxError(() => s.runSync({ x: new Tensor('float32', [1, 2, 3], [3]) }), /Feed 'x': expected shape \[2, 3\], got \[3\]/));
  it('missing feed', () => expectRnnxError(() => s.runSync({}), /Missing feed: x/));
  it('unknown feed', () => expectRnnxError(() => s.runSync({ x, z: x }), /Feed 'z' is not an input/));
  it('not a tensor', () => expectRnnxError(() => s.runSync({ x: 5 as never }), /Feed 'x': expected a Tensor/));
  it('onnxruntime tensors work as feeds', async () => {
    const ort = await import('onnxruntime-node');
    const out = s.runSync({ x: new ort.Tensor('float32', Float32Array.from([-1, 2, -3, 4, -5, 6]), [2, 3]) as never });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, 2, 0, 4, 0, 6]);
  });
});

describe('kernel errors name the node', () => {
  it('MatMul with mismatched inner dimensions', () => {
    const mm = singleNodeModel({ opType: 'MatMul', inputs: [{ name: 'a', tensor: x }, { name: 'b', tensor: x }], outputs: ['y'] });
    expectRnnxError(() => InferenceSession.createSync(mm).runSync({ a: x, b: x }), /Node MatMul_0 \(MatMul\): inner dimensions differ/);
  });
  it('integer division by zero', () => {
    const a = new Tensor('int32', [4, 5], [2]), b = new Tensor('int32', [2, 0], [2]);
    const m2 = singleNodeModel({ opType: 'Div', inputs: [{ name: 'a', tensor: a }, { name: 'b', tensor: b }], outputs: ['y'] });
    expectRnnxError(() => InferenceSession.createSync(m2).runSync({ a, b }), /Node Div_0 \(Div\): kernel failed: integer division by zero/);
  });
  it('LSTM with a W of the wrong shape', () => {
    const W = new Tensor('float32', new Float32Array(12), [1, 12, 1]);
    const R = new Tensor('float32', new Float32Array(4 * 3 * 4), [1, 12, 4]);
    const X = new Tensor('float32', new Float32Array(2), [1, 1, 2]);
    const m2 = singleNodeModel({ opType: 'LSTM', inputs: [{ name: 'X', tensor: X }, { name: 'W', tensor: W, constant: true }, { name: 'R', tensor: R, constant: true }], outputs: ['Y'], attrs: { hidden_size: 3 } });
    expectRnnxError(() => InferenceSession.createSync(m2), /Node LSTM_0 \(LSTM\): input 2 \(R\): expected shape \[1,12,3\]/);
  });
  it('LSTM with hidden_size disagreeing with W, bad activations and sequence_lens', () => {
    const W = new Tensor('float32', new Float32Array(4 * 3 * 2), [1, 12, 2]);
    const R = new Tensor('float32', new Float32Array(4 * 3 * 3), [1, 12, 3]);
    const X = new Tensor('float32', new Float32Array(4), [2, 1, 2]);
    const mk = (attrs: Record<string, never>, lens?: Tensor) => singleNodeModel({
      opType: 'LSTM', outputs: ['Y'], attrs,
      inputs: [{ name: 'X', tensor: X }, { name: 'W', tensor: W, constant: true }, { name: 'R', tensor: R, constant: true }, null, lens ? { name: 'L', tensor: lens } : null],
    });
    expectRnnxError(() => InferenceSession.createSync(mk({ hidden_size: 4 as never })), /attribute 'hidden_size' is 4 but W \[1,12,2\] implies 3/);
    expectRnnxError(() => InferenceSession.createSync(mk({ activations: ['Sigmoid', 'Tanh'] as never })), /attribute 'activations': expected 3 names/);
    expectRnnxError(() => InferenceSession.createSync(mk({ activations: ['Sigmoid', 'Tanh', 'Swish'] as never })), /unknown activation 'Swish'/);
    expectRnnxError(() => InferenceSession.createSync(mk({ direction: 'sideways' as never })), /attribute 'direction'/);
    const s1 = InferenceSession.createSync(mk({}, new Tensor('int32', [3], [1])));
    expectRnnxError(() => s1.runSync({ X, L: new Tensor('int32', [3], [1]) }), /sequence_lens\): entry 0 is 3, expected 0..2/);
    const s2 = InferenceSession.createSync(mk({}, new Tensor('int64', [1n], [1])));
    expectRnnxError(() => s2.runSync({ X, L: new Tensor('int64', [1n], [1]) }), /sequence_lens\): expected int32, got int64/);
  });
});

describe('external data', () => {
  function withExternal(location: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-ext-'));
    fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
    const m = model([node('add', 'Add', ['x', 'w'], ['y'])]);
    const proto = onnx.ModelProto.decode(encodeModel(m));
    proto.graph!.initializer = [{ name: 'w', dims: [2, 3], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: location }] }];
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
    return file;
  }
  it('is read relative to the model folder', () => {
    const out = InferenceSession.createSync(withExternal('w.bin')).runSync({ x });
    expect(Array.from(out.y.data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
  });
  it('refuses a path that leaves the folder', () => {
    expectRnnxError(() => InferenceSession.createSync(withExternal('../w.bin')), /external data '..\/w.bin' leaves the model's folder/);
    expectRnnxError(() => InferenceSession.createSync(withExternal('/etc/passwd')), /leaves the model's folder/);
  });
  it('refuses external data when the model came as bytes', () => {
    const file = withExternal('w.bin');
    expectRnnxError(() => InferenceSession.createSync(fs.readFileSync(file)), /needs the model to be loaded from a file path/);
  });
});
