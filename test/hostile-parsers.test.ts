// Parsers and API arguments from strangers (issue 15, item 4): one RnnxError naming what is wrong,
// never a TypeError, a hang or garbage accepted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RnnxError } from '../src/ir/errors.js';
import { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/import/model.js';
import { onnx } from '../src/import/proto.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { Embedding, GRU, Linear, LSTM, LSTMCell, RNN } from '../src/nn/modules.js';
import { modelFromTorch } from '../src/nn/from-torch.js';
import { InferenceSession } from '../src/runtime/session.js';

const fixtures = path.join(import.meta.dirname, 'fixtures');

function rnnxError(f: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an RnnxError').toBeInstanceOf(RnnxError);
  expect((err as Error).message).toMatch(pattern);
}

/** A .npy file with the given header text (version 1 or 2) and data bytes. */
function npy(header: string, data = new Uint8Array(0), major = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

describe('npy', () => {
  const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  it('reads a good file (the control)', () => {
    expect(readNpy(npy(ok, new Uint8Array(24))).dims).toEqual([2, 3]);
    expect(readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(12))).dims).toEqual([3]);
    expect(readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new Uint8Array(4))).dims).toEqual([]);
  });
  it('a truncated v2 header, an unknown version', () => {
    const v2 = npy(ok, new Uint8Array(24), 2);
    expect(readNpy(v2).dims).toEqual([2, 3]);
    rnnxError(() => readNpy(v2.subarray(0, 11)), /truncated header/);
    rnnxError(() => readNpy(v2.subarray(0, 30)), /truncated header/);
    const v9 = npy(ok, new Uint8Array(24));
    v9[6] = 9;
    rnnxError(() => readNpy(v9), /format version 9.0 is not supported/);
  });
  it("descr 'constructor', '__proto__', 'toString'", () => {
    for (const d of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      rnnxError(() => readNpy(npy(`{'descr': '${d}', 'fortran_order': False, 'shape': (2,), }`, new Uint8Array(8))), new RegExp(`dtype '${d}' is not supported`));
    }
  });
  it('negative, fractional, exponent and huge dims', () => {
    for (const s of ['(-2, 3)', '(1.5, 2)', '(1e3,)', '(0x10,)', '(2, , 3)', '(99999999999999999999,)']) {
      rnnxError(() => readNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${s}, }`, new Uint8Array(24))), /invalid shape|needs/);
    }
    rnnxError(() => readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", new Uint8Array(24))), /data holds 24 bytes/);
  });
  it('not bytes at all', () => {
    rnnxError(() => readNpy(null as never), /expected the file's bytes/);
  });
});

describe('safetensors', () => {
  const good = writeSafetensors(new Map([['a', new Tensor('float32', [1, 2], [2])], ['b', new Tensor('float32', [3], [1])]]));
  /** A safetensors file with this header object and `data` bytes. */
  const st = (header: unknown, data = new Uint8Array(16)) => {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  it('reads a good file (the control)', () => {
    const m = readSafetensors(good);
    expect(Array.from(m.get('a')!.data as Float32Array)).toEqual([1, 2]);
  });
  it('a null header, an array, a string', () => {
    rnnxError(() => readSafetensors(st(null)), /the header is not a JSON object/);
    rnnxError(() => readSafetensors(st([1])), /the header is not a JSON object/);
    rnnxError(() => readSafetensors(st('x')), /the header is not a JSON object/);
  });
  it('missing data_offsets, dtype constructor, shape not a list, entry not an object', () => {
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [2] } })), /tensor 'w': data_offsets undefined is not \[begin, end\]/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'constructor', shape: [2], data_offsets: [0, 8] } })), /tensor 'w': unsupported dtype "constructor"/);
    rnnxError(() => readSafetensors(st({ w: { dtype: '__proto__', shape: [2], data_offsets: [0, 8] } })), /unsupported dtype/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } })), /shape 2 is not a list/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } })), /shape \[-2\] is not a list of non-negative integers/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } })), /shape/);
    rnnxError(() => readSafetensors(st({ w: null })), /tensor 'w': its entry is not an object/);
  });
  it('negative, reversed, out-of-range and overlapping offsets', () => {
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } })), /data_offsets \[-8,0\] is not/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } })), /is not \[begin, end\]/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } })), /run past the data \(16 bytes\)/);
    rnnxError(() => readSafetensors(st({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } })), /hold 12 bytes, shape \[2\] of float32 needs 8/);
    rnnxError(() => readSafetensors(st({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } })), /tensors 'a' and 'b' overlap/);
  });
  it('a negative offset in the header cannot make from-torch read header bytes as a bias', () => {
    // the attack of the issue: a bias range pointing back into the JSON header
    const h = { bias: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } };
    rnnxError(() => readSafetensors(st(h)), /data_offsets/);
  });
});

describe('graph API and from-torch arguments', () => {
  it('absurd sizes are refused before anything is allocated', () => {
    rnnxError(() => new LSTM({ inputSize: 4, hiddenSize: 1e9 }), /LSTM: hiddenSize must be an integer from 1 to 268435456, got 1000000000/);
    rnnxError(() => new LSTM({ inputSize: 4096, hiddenSize: 4096, numLayers: 1000 }), /LSTM: \d+ parameters, more than rnnx builds/);
    rnnxError(() => new GRU({ inputSize: 0, hiddenSize: 3 }), /GRU: inputSize must be an integer from 1/);
    rnnxError(() => new RNN({ inputSize: 2, hiddenSize: 3, numLayers: 1.5 }), /numLayers must be an integer/);
    rnnxError(() => new LSTM({ inputSize: 2, hiddenSize: 3, bidirectional: 'yes' as never }), /bidirectional must be true or false, got "yes"/);
    rnnxError(() => new LSTM(null as never), /LSTM: expected an options object, got null/);
    rnnxError(() => new LSTM({ inputSize: 2, hiddenSize: 3, dtype: 'int8' as never }), /dtype must be 'float32' or 'float64'/);
    rnnxError(() => new RNN({ inputSize: 2, hiddenSize: 3, nonlinearity: 'sigmoid' as never }), /nonlinearity must be 'tanh' or 'relu'/);
    rnnxError(() => new LSTMCell({ inputSize: 2, hiddenSize: -1 }), /LSTMCell: hiddenSize must be an integer/);
    rnnxError(() => new Linear(-1, 5), /Linear: inFeatures must be an integer from 1/);
    rnnxError(() => new Linear(5, NaN), /Linear: outFeatures must be an integer/);
    rnnxError(() => new Linear(65536, 65536), /Linear: \d+ parameters, more than rnnx builds/);
    rnnxError(() => new Embedding(1e6, 1e6), /Embedding: \d+ parameters/);
  });
  it('loadStateDict(null), a non-tensor value, an array', () => {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3 });
    rnnxError(() => m.loadStateDict(null as never), /state dict: expected a file path, a Map or an object of tensors, got null/);
    rnnxError(() => m.loadStateDict([] as never), /got an array/);
    rnnxError(() => m.loadStateDict({ weight_ih_l0: 5 } as never), /state dict 'weight_ih_l0': expected a Tensor/);
    rnnxError(() => m.loadStateDict('weights.pt'), /expected a .safetensors or .npz file/);
  });
  it('from-torch: hparams null, an array, num_layers 1e9, bad dropout', () => {
    const state = path.join(import.meta.dirname, 'torch-modules', 'lstmp_l3_bf_state', 'state_dict.safetensors');
    rnnxError(() => modelFromTorch('LSTM', state, null as never), /hyperparameters must be a JSON object, got null/);
    rnnxError(() => modelFromTorch('LSTM', state, [] as never), /got an array/);
    const t0 = performance.now();
    rnnxError(() => modelFromTorch('LSTM', state, { input_size: 4, hidden_size: 8, num_layers: 1e9 }), /numLayers must be an integer from 1 to 268435456, got 1000000000/);
    rnnxError(() => modelFromTorch('LSTM', state, { input_size: 4, hidden_size: 8, num_layers: 1e8 }), /parameters, more than rnnx builds/);
    expect(performance.now() - t0).toBeLessThan(5000); // refused up front, not after building 1e9 layers
    rnnxError(() => modelFromTorch('LSTM', state, { input_size: 4, hidden_size: 8, dropout: 'x' as never }), /dropout must be a number/);
    rnnxError(() => modelFromTorch('LSTM', state, { input_size: 4, hidden_size: 8, constructor: 1 } as never), /unknown hyperparameters constructor/);
  });
});

describe('feeds and tensors', () => {
  it('dims [-2, -2] and [1.5, 2] are refused at construction', () => {
    rnnxError(() => new Tensor('float32', new Float32Array(4), [-2, -2]), /dims \[-2,-2\] must be non-negative integers/);
    rnnxError(() => new Tensor('float32', new Float32Array(3), [1.5, 2]), /must be non-negative integers/);
    rnnxError(() => new Tensor('float32', new Float32Array(0), [NaN]), /must be non-negative integers/);
  });
  it('a typed array of another element type is refused', () => {
    rnnxError(() => new Tensor('float32', new Int32Array(4), [4]), /type 'float32' needs Float32Array, got Int32Array/);
    rnnxError(() => new Tensor('int64', new Float64Array(4), [4]), /needs BigInt64Array/);
    rnnxError(() => new Tensor('string', new Float32Array(4) as never, [4]), /an Array of strings/);
    rnnxError(() => new Tensor('constructor' as never, [1], [1]), /unknown type 'constructor'/);
    rnnxError(() => new Tensor('__proto__' as never, [1], [1]), /unknown type '__proto__'/);
  });
  it('a feed of the wrong array type never runs', () => {
    const s = InferenceSession.createSync(path.join(fixtures, 'lstm_seed', 'model.onnx'));
    const state = Object.fromEntries(['h0', 'c0'].map((n) => [n, readNpy(fs.readFileSync(path.join(fixtures, 'lstm_seed', `in_${n}.npy`)))]));
    rnnxError(() => s.runSync({ ...state, x: { type: 'float32', data: new Int32Array(24), dims: [2, 3, 4] } as never }), /needs Float32Array, got Int32Array/);
    rnnxError(() => s.runSync({ ...state, x: { type: 'float32', data: new Float32Array(24), dims: [-2, -3, 4] } as never }), /must be non-negative integers/);
  });
  it('a written .npy of a refused feed cannot exist: numpy-readable headers only', () => {
    const t = new Tensor('float32', new Float32Array(6), [2, 3]);
    expect(readNpy(writeNpy(t)).dims).toEqual([2, 3]);
  });
  it('bool bytes other than 0/1 are true, stored as 1, and the caller\'s array is left alone', () => {
    const raw = new Uint8Array([0, 7, 1, 255]);
    const t = new Tensor('bool', raw, [4]);
    expect(Array.from(t.data as Uint8Array)).toEqual([0, 1, 1, 1]);
    expect(Array.from(raw)).toEqual([0, 7, 1, 255]);
  });
});

describe('fuser', () => {
  it('an int64 LSTM bias is the same named error fused and unfused, never a TypeError', () => {
    const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(fixtures, 'lstm_seed', 'model.onnx')));
    const lstm = proto.graph!.node!.find((n) => n.opType === 'LSTM')!;
    const b = proto.graph!.initializer!.find((t) => t.name === lstm.input![3])!;
    const count = b.rawData!.length / 4;
    b.dataType = 7;
    b.rawData = new Uint8Array(new BigInt64Array(count).buffer);
    const bytes = onnx.ModelProto.encode(proto).finish();
    rnnxError(() => InferenceSession.createSync(loadModel(bytes, { fuse: false })), /Node \/rnn\/LSTM \(LSTM\): input 3: expected float32 like W, got int64/);
    rnnxError(() => InferenceSession.createSync(loadModel(bytes)), /Node \/rnn\/LSTM \(LSTM\): input 3: expected float32 like W, got int64/);
  });
  it('float64 R and B with a float32 W, and an opset-3 LSTM, are refused fused as unfused', () => {
    const base = () => onnx.ModelProto.decode(fs.readFileSync(path.join(fixtures, 'lstm_seed', 'model.onnx')));
    const proto = base();
    const lstm = proto.graph!.node!.find((n) => n.opType === 'LSTM')!;
    for (const i of [2, 3]) {
      const t = proto.graph!.initializer!.find((x) => x.name === lstm.input![i])!;
      t.dataType = 11;
      t.rawData = new Uint8Array(Float64Array.from(new Float32Array(new Uint8Array(t.rawData!).buffer)).buffer);
    }
    const bytes = onnx.ModelProto.encode(proto).finish();
    for (const fuse of [false, true]) rnnxError(() => InferenceSession.createSync(loadModel(bytes, { fuse })), /Node \/rnn\/LSTM \(LSTM\): input 2: expected float32 like W, got float64/);
    const old = base();
    old.opsetImport = [{ domain: '', version: 3 }];
    // Squeeze-1 takes its axes as an attribute: keep the LSTM the only node opset 3 cannot run.
    const squeeze = old.graph!.node!.find((n) => n.opType === 'Squeeze')!;
    squeeze.input = [squeeze.input![0]];
    squeeze.attribute = [onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] })];
    const oldBytes = onnx.ModelProto.encode(old).finish();
    // Refused either way: the opset-3 Squeeze (axes as an input) is met before the LSTM now that Squeeze-1 checks its inputs.
    for (const fuse of [false, true]) rnnxError(() => InferenceSession.createSync(loadModel(oldBytes, { fuse })), /LSTM|Squeeze-1 \(opset 3\)/);
  });
});

describe('fast paths check what slow paths check', () => {
  it('MaxPool and AveragePool with kernel_shape [0], strides [0] or negative pads are refused, not NaN', async () => {
    const { GraphBuilder } = await import('../src/builder/graph-builder.js');
    for (const [op, attrs, pattern] of [
      ['MaxPool', { kernel_shape: [0] }, /attribute 'kernel_shape'.*integers >= 1, got \[0\]/],
      ['AveragePool', { kernel_shape: [2], strides: [0] }, /attribute 'strides'.*>= 1/],
      ['MaxPool', { kernel_shape: [2], pads: [-1, 0] }, /attribute 'pads'.*>= 0/],
    ] as const) {
      const b = new GraphBuilder({ opset: 13 });
      const x = b.input('x', 'float32', [1, 1, 4]);
      b.output(b.op(op, [x], attrs as never)[0], 'y');
      rnnxError(() => InferenceSession.createSync(b.build()).runSync({ x: new Tensor('float32', new Float32Array(4), [1, 1, 4]) }), pattern);
    }
  });
  it('a bool byte of 7 in a model is true: Cast gives 1, Equal with true gives true', () => {
    const bool = (name: string, bytes: number[]) => ({ name, dims: [bytes.length], dataType: 9, rawData: new Uint8Array(bytes) });
    const graph = {
      name: 'g',
      initializer: [bool('b', [7, 0, 1, 255]), bool('t', [1, 1, 1, 1])],
      node: [
        { opType: 'Cast', input: ['b'], output: ['f'], attribute: [{ name: 'to', type: 2, i: 1 }] },
        { opType: 'Equal', input: ['b', 't'], output: ['e'] },
      ],
      output: [{ name: 'f', type: { tensorType: { elemType: 1 } } }, { name: 'e', type: { tensorType: { elemType: 9 } } }],
    };
    const bytes = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph }).finish();
    const out = InferenceSession.createSync(bytes).runSync({});
    expect(Array.from(out.f.data as Float32Array)).toEqual([1, 0, 1, 1]);
    expect(Array.from(out.e.data as Uint8Array)).toEqual([1, 0, 1, 1]);
  });
});
