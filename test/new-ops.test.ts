// New ops of opsets 18–28 cross-checked against onnxruntime-node on random inputs (the ops
// onnxruntime-node 1.30 runs; the others are covered by the ONNX backend node tests).
import { describe, expect, it } from 'vitest';
import type { SingleNodeSpec } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { crossCheck, randTensor, rng } from './helpers.js';

const r = rng(2718);
const f = (dims: number[], lo = -2, hi = 2) => randTensor(r, dims, 'float32', lo, hi);
const i64 = (v: number[]) => new Tensor('int64', v.map(BigInt), [v.length]);
const X = (name: string, t: Tensor) => ({ name, tensor: t });
const C = (name: string, t: Tensor) => ({ name, tensor: t, constant: true });
const TOL = { rtol: 1e-4, atol: 1e-5 };

const cases: [string, SingleNodeSpec][] = [
  ['RMSNormalization axis -1', { opType: 'RMSNormalization', inputs: [X('x', f([2, 3, 8])), X('s', f([8]))], outputs: ['y'], opset: 23 }],
  ['RMSNormalization axis 1', { opType: 'RMSNormalization', inputs: [X('x', f([2, 3, 4])), X('s', f([3, 4]))], outputs: ['y'], attrs: { axis: 1, epsilon: { f: 1e-3 } }, opset: 23 }],
  ['RotaryEmbedding 4-D with position_ids', { opType: 'RotaryEmbedding', inputs: [X('x', f([2, 3, 4, 8])), X('cos', f([10, 4])), X('sin', f([10, 4])), X('pos', new Tensor('int64', Array.from({ length: 8 }, (_, i) => BigInt((i * 3) % 10)), [2, 4]))], outputs: ['y'], opset: 23 }],
  ['RotaryEmbedding 3-D interleaved partial', { opType: 'RotaryEmbedding', inputs: [X('x', f([1, 5, 16])), X('cos', f([1, 5, 2])), X('sin', f([1, 5, 2]))], outputs: ['y'], attrs: { num_heads: 2, interleaved: 1, rotary_embedding_dim: 4 }, opset: 23 }],
  ['Gelu', { opType: 'Gelu', inputs: [X('x', f([3, 7], -4, 4))], outputs: ['y'], opset: 20 }],
  ['Gelu tanh', { opType: 'Gelu', inputs: [X('x', f([3, 7], -4, 4))], outputs: ['y'], attrs: { approximate: 'tanh' }, opset: 20 }],
  ['Mish', { opType: 'Mish', inputs: [X('x', f([4, 5], -5, 5))], outputs: ['y'], opset: 18 }],
  ['BitwiseAnd int32', { opType: 'BitwiseAnd', inputs: [X('a', randTensor(r, [3, 4], 'int32', -1000, 1000)), X('b', randTensor(r, [4], 'int32', -1000, 1000))], outputs: ['y'], opset: 18 }],
  ['BitwiseNot uint8', { opType: 'BitwiseNot', inputs: [X('a', randTensor(r, [5], 'uint8', 0, 255))], outputs: ['y'], opset: 18 }],
  ['LpPool 2-D p=3 pads', { opType: 'LpPool', inputs: [X('x', f([1, 2, 5, 5]))], outputs: ['y'], attrs: { kernel_shape: [3, 3], p: 3, pads: [1, 1, 1, 1], strides: [2, 2] }, opset: 18 }],
  ['MaxPool 3-D', { opType: 'MaxPool', inputs: [X('x', f([1, 2, 4, 5, 4]))], outputs: ['y'], attrs: { kernel_shape: [2, 3, 2], strides: [1, 2, 1], pads: [0, 1, 1, 1, 1, 0] }, opset: 12 }],
  ['AveragePool 3-D count_include_pad', { opType: 'AveragePool', inputs: [X('x', f([1, 2, 4, 4, 4]))], outputs: ['y'], attrs: { kernel_shape: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1], count_include_pad: 1 }, opset: 19 }],
  ['ConvTranspose 3-D groups strides', { opType: 'ConvTranspose', inputs: [X('x', f([1, 4, 3, 3, 2])), X('w', f([4, 1, 2, 3, 2])), X('b', f([2]))], outputs: ['y'], attrs: { group: 2, strides: [2, 1, 2], pads: [0, 1, 0, 0, 1, 1] }, opset: 11 }],
  ['GroupNormalization-21', { opType: 'GroupNormalization', inputs: [X('x', f([2, 6, 3, 2])), X('s', f([6])), X('b', f([6]))], outputs: ['y'], attrs: { num_groups: 3 }, opset: 21 }],
  ['LpNormalization p=1', { opType: 'LpNormalization', inputs: [X('x', f([3, 4]))], outputs: ['y'], attrs: { p: 1, axis: 0 }, opset: 22 }],
  ['CenterCropPad crop and pad', { opType: 'CenterCropPad', inputs: [X('x', f([5, 4, 3])), C('shape', i64([3, 7]))], outputs: ['y'], attrs: { axes: [0, 1] }, opset: 18 }],
  ['AffineGrid 2-D', { opType: 'AffineGrid', inputs: [X('theta', f([2, 2, 3])), C('size', i64([2, 1, 4, 5]))], outputs: ['y'], attrs: { align_corners: 0 }, opset: 20 }],
  ['Col2Im pads strides', { opType: 'Col2Im', inputs: [X('x', f([1, 8, 9])), C('img', i64([5, 5])), C('blk', i64([2, 2]))], outputs: ['y'], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, opset: 18 }],
  ['GridSample-20 linear 3-D', { opType: 'GridSample', inputs: [X('x', f([1, 2, 3, 4, 5])), X('g', f([1, 2, 3, 2, 3], -1.2, 1.2))], outputs: ['y'], attrs: { mode: 'linear' }, opset: 20 }],
  ['GridSample-20 cubic border', { opType: 'GridSample', inputs: [X('x', f([1, 2, 4, 5])), X('g', f([1, 3, 3, 2], -1.2, 1.2))], outputs: ['y'], attrs: { mode: 'cubic', padding_mode: 'border' }, opset: 20 }],
  ['GridSample-20 cubic reflection', { opType: 'GridSample', inputs: [X('x', f([1, 2, 4, 5])), X('g', f([1, 3, 3, 2], -1.4, 1.4))], outputs: ['y'], attrs: { mode: 'cubic', padding_mode: 'reflection', align_corners: 1 }, opset: 20 }],
  ['GridSample-20 nearest reflection', { opType: 'GridSample', inputs: [X('x', f([1, 2, 4, 5])), X('g', f([1, 3, 3, 2], -1.4, 1.4))], outputs: ['y'], attrs: { mode: 'nearest', padding_mode: 'reflection' }, opset: 20 }],
  ['Resize-19 linear antialias', { opType: 'Resize', inputs: [X('x', f([1, 1, 8, 8])), null, C('scales', new Tensor('float32', [1, 1, 0.45, 0.6], [4]))], outputs: ['y'], attrs: { mode: 'linear', antialias: 1 }, opset: 19 }],
  ['Resize-18 sizes axes not_larger', { opType: 'Resize', inputs: [X('x', f([1, 2, 6, 4])), null, null, C('sizes', i64([9, 9]))], outputs: ['y'], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger', mode: 'nearest' }, opset: 18 }],
  ['DeformConv groups, offset groups, mask, bias', { opType: 'DeformConv', inputs: [X('x', f([1, 4, 5, 5])), X('w', f([4, 2, 3, 3])), X('off', f([1, 2 * 9 * 2, 3, 3], -1.5, 1.5)), X('b', f([4])), X('m', f([1, 2 * 9, 3, 3], 0, 1))], outputs: ['y'], attrs: { group: 2, offset_group: 2 }, opset: 22 }],
];

describe('new ops against onnxruntime-node', () => {
  it.each(cases)('%s', async (_n, spec) => {
    const res = await crossCheck(spec, TOL);
    expect(res.messages).toEqual([]);
  });
});
