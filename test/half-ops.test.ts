// float16 inputs to ops whose kernels are float32/float64 (registry HALF_VIA_FLOAT32): computed in
// float32 and rounded back, cross-checked against onnxruntime-node's float16 kernels.
import { describe, expect, it } from 'vitest';
import type { SingleNodeSpec } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { toHalfBits } from '../src/ops/half.js';
import { crossCheck, rng } from './helpers.js';

const r = rng(1616);
const h = (dims: number[], lo = -2, hi = 2) => {
  const n = dims.reduce((a, b) => a * b, 1);
  return new Tensor('float16', Uint16Array.from({ length: n }, () => toHalfBits(lo + (hi - lo) * r())), dims);
};
const X = (name: string, t: Tensor) => ({ name, tensor: t });
// one float16 ulp at 1 is 2^-10: results may differ by one rounding where the engines sum in another order
const HALF_TOL = { rtol: 2e-3, atol: 2e-3 };

const cases: [string, SingleNodeSpec][] = [
  ['Mul broadcast', { opType: 'Mul', inputs: [X('a', h([3, 4])), X('b', h([4]))], outputs: ['y'] }],
  ['Div', { opType: 'Div', inputs: [X('a', h([2, 5])), X('b', h([2, 5], 0.5, 2))], outputs: ['y'] }],
  ['Add', { opType: 'Add', inputs: [X('a', h([2, 3])), X('b', h([2, 3]))], outputs: ['y'] }],
  ['Sigmoid', { opType: 'Sigmoid', inputs: [X('x', h([6]))], outputs: ['y'] }],
  ['Softmax', { opType: 'Softmax', inputs: [X('x', h([3, 7]))], outputs: ['y'], opset: 13 }],
  ['MatMul', { opType: 'MatMul', inputs: [X('a', h([3, 8])), X('b', h([8, 5]))], outputs: ['y'] }],
  ['Conv', { opType: 'Conv', inputs: [X('x', h([1, 2, 5, 5])), X('w', h([3, 2, 3, 3]))], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
];

describe('float16 through float32 kernels, against onnxruntime-node', () => {
  it.each(cases)('%s', async (_n, spec) => {
    const res = await crossCheck(spec, HALF_TOL);
    expect(res.messages).toEqual([]);
  });
  it('IsNaN / IsInf on float16 (exact)', async () => {
    const x = new Tensor('float16', [0x7e00, 0x7c00, 0xfc00, 0x3c00, 0], [5]);
    for (const op of ['IsNaN', 'IsInf']) {
      const res = await crossCheck({ opType: op, inputs: [X('x', x)], outputs: ['y'], outputTypes: ['bool'], opset: 20 }, { rtol: 0, atol: 0 });
      expect(res.messages).toEqual([]);
    }
  });
});
