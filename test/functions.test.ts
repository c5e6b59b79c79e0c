// Model-local functions (ModelProto.functions) are expanded at import; models that import no
// ai.onnx opset load and name what they cannot run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/import/model.js';
import { onnx, type OnnxNs } from '../src/import/proto.js';
import { InferenceSession } from '../src/runtime/session.js';

const AT = onnx.AttributeProto.AttributeType;
const f32 = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const floatAttr = (name: string, f: number): OnnxNs.IAttributeProto => ({ name, type: AT.FLOAT, f });
const ref = (name: string, refAttrName: string, type = AT.FLOAT): OnnxNs.IAttributeProto => ({ name, refAttrName, type });

function model(nodes: OnnxNs.INodeProto[], functions: OnnxNs.IFunctionProto[], opsets: [string, number][] = [['', 17], ['local', 1]]): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: opsets.map(([domain, version]) => ({ domain, version })),
    graph: { name: 'g', node: nodes, input: [f32('x', [4])], output: [f32('y', [4])] },
    functions,
  }).finish();
}

// y = LeakyRelu(x * 2, alpha = ref 'a' (default 0.5))
const scaleLeaky: OnnxNs.IFunctionProto = {
  name: 'ScaleLeaky', domain: 'local', input: ['X'], output: ['Y'],
  attributeProto: [floatAttr('a', 0.5)],
  opsetImport: [{ domain: '', version: 17 }],
  node: [
    { opType: 'Constant', output: ['two'], attribute: [floatAttr('value_float', 2)] },
    { opType: 'Mul', input: ['X', 'two'], output: ['t'] },
    { opType: 'LeakyRelu', input: ['t'], output: ['Y'], attribute: [ref('alpha', 'a')] },
  ],
};
const x = new Tensor('float32', new Float32Array([-1, -2, 3, 0.5]), [4]);
const run = (bytes: Uint8Array) => Array.from(InferenceSession.createSync(bytes).runSync({ x }).y.data as Float32Array);

describe('model-local functions', () => {
  it('expands a call with a default attribute and with one given by the caller', () => {
    expect(run(model([{ opType: 'ScaleLeaky', domain: 'local', input: ['x'], output: ['y'] }], [scaleLeaky]))).toEqual([-1, -2, 6, 1]);
    expect(run(model([{ opType: 'ScaleLeaky', domain: 'local', input: ['x'], output: ['y'], attribute: [floatAttr('a', 0.25)] }], [scaleLeaky]))).toEqual([-0.5, -1, 6, 1]);
  });

  it('expands nested calls and gives every call its own internal names', () => {
    const twice: OnnxNs.IFunctionProto = {
      name: 'Twice', domain: 'local', input: ['X'], output: ['Y'], attribute: ['a'], opsetImport: [{ domain: 'local', version: 1 }],
      node: [
        { opType: 'ScaleLeaky', domain: 'local', input: ['X'], output: ['t'], attribute: [ref('a', 'a')] },
        { opType: 'ScaleLeaky', domain: 'local', input: ['t'], output: ['Y'], attribute: [ref('a', 'a')] },
      ],
    };
    const m = model([{ opType: 'Twice', domain: 'local', input: ['x'], output: ['y'], attribute: [floatAttr('a', 0.5)] }], [twice, scaleLeaky]);
    expect(run(m)).toEqual([-1, -2, 12, 2]);
    const names = loadModel(m, { fuse: false }).graph.nodes.flatMap((n) => n.outputs);
    expect(new Set(names).size).toBe(names.length);
  });

  it('picks the overload the node names', () => {
    const neg: OnnxNs.IFunctionProto = { ...scaleLeaky, overload: 'neg', attributeProto: [], node: [{ opType: 'Neg', input: ['X'], output: ['Y'] }] };
    expect(run(model([{ opType: 'ScaleLeaky', domain: 'local', overload: 'neg', input: ['x'], output: ['y'] }], [scaleLeaky, neg]))).toEqual([1, 2, -3, -0.5]);
  });

  it('copies a formal input that is also an output', () => {
    const pass: OnnxNs.IFunctionProto = { name: 'Pass', domain: 'local', input: ['X'], output: ['X'], opsetImport: [{ domain: '', version: 17 }], node: [] };
    expect(run(model([{ opType: 'Pass', domain: 'local', input: ['x'], output: ['y'] }], [pass]))).toEqual([-1, -2, 3, 0.5]);
  });

  it('refuses recursion, undeclared attributes and conflicting opsets by name', () => {
    const self: OnnxNs.IFunctionProto = { name: 'Loop1', domain: 'local', input: ['X'], output: ['Y'], node: [{ opType: 'Loop1', domain: 'local', input: ['X'], output: ['Y'] }] };
    expect(() => loadModel(model([{ opType: 'Loop1', domain: 'local', input: ['x'], output: ['y'] }], [self]))).toThrow(/recursive call \(local\.Loop1 → local\.Loop1\)/);
    expect(() => loadModel(model([{ opType: 'ScaleLeaky', domain: 'local', input: ['x'], output: ['y'], attribute: [floatAttr('b', 1)] }], [scaleLeaky])))
      .toThrow(/attribute 'b' is not an attribute of the function/);
    const old = { ...scaleLeaky, opsetImport: [{ domain: '', version: 13 }] };
    expect(() => loadModel(model([{ opType: 'ScaleLeaky', domain: 'local', input: ['x'], output: ['y'] }], [old])))
      .toThrow(/imports ai\.onnx version 13, but the model uses version 17/);
  });

  it('a function-expanded PyTorch nn.LSTM is still recovered into one recurrent stack', () => {
    const m = loadModel(path.join(import.meta.dirname, 'fixtures', 'fn_lstm_l2', 'model.onnx'));
    expect(m.graph.nodes.filter((n) => n.domain === 'ai.rnnx').map((n) => n.opType)).toEqual(['LSTM']);
    expect(m.graph.nodes.some((n) => n.opType === 'LSTM' && n.domain === '')).toBe(false);
  });
});

describe('models without an ai.onnx opset', () => {
  it('load, and the session lists each op it cannot run', () => {
    const bytes = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: 'ai.onnx.ml', version: 3 }],
      graph: { name: 'g', node: [{ opType: 'Normalizer', domain: 'ai.onnx.ml', input: ['x'], output: ['y'], attribute: [{ name: 'norm', type: AT.STRING, s: new TextEncoder().encode('L2') }] }], input: [f32('x', [4])], output: [f32('y', [4])] },
    }).finish();
    expect(loadModel(bytes).opsets.has('')).toBe(false);
    expect(() => InferenceSession.createSync(bytes)).toThrow('Unsupported ops in this model: ai.onnx.ml.Normalizer (opset 3) x1');
  });
});

it('fixtures of PyTorch functions exist (they are checked against PyTorch in pytorch-fixtures)', () => {
  for (const d of ['fn_lstmcell_loop', 'fn_lstm_l2']) expect(fs.existsSync(path.join(import.meta.dirname, 'fixtures', d, 'meta.json'))).toBe(true);
});

describe('registry versions', () => {
  const dft = (opset: number, inputs: string[]) => onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: [{ opType: 'DFT', input: inputs, output: ['y'] }], input: [f32('x', [1, 4, 1]), { name: 'axis', type: { tensorType: { elemType: 7, shape: { dim: [] } } } }], output: [{ name: 'y' }] },
  }).finish();
  it('refuses an input that the op version in effect does not define (DFT-17 has no axis input)', () => {
    expect(() => InferenceSession.createSync(dft(17, ['x', '', 'axis']))).toThrow('DFT-17 (opset 17) takes at most 2 inputs, the node has 3');
    expect(() => InferenceSession.createSync(dft(20, ['x', '', 'axis']))).not.toThrow();
  });
  it('refuses opsets past the version table by name', () => {
    expect(() => InferenceSession.createSync(dft(29, ['x']))).toThrow(/Unsupported ops in this model: DFT \(opset 29; supported: 17-28\)/);
  });
});
