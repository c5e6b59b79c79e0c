// Single-node cross-checks: every core op against onnxruntime-node on random inputs, several
// shapes and attribute settings each.
import { describe, expect, it } from 'vitest';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import type { SingleNodeSpec } from '../src/export/onnx.js';
import { crossCheck, OP_TOL, OP_TOL_F64, randTensor, rng } from './helpers.js';

const r = rng(1234);
const f = (dims: number[], lo = -2, hi = 2) => randTensor(r, dims, 'float32', lo, hi);
const i64 = (vals: number[]) => new Tensor('int64', vals.map(BigInt), [vals.length]);
const X = (t: Tensor, name = 'x') => ({ name, tensor: t });
const C = (t: Tensor, name: string) => ({ name, tensor: t, constant: true });

type Case = [string, SingleNodeSpec];
const cases: Case[] = [];
const add = (name: string, spec: SingleNodeSpec) => cases.push([name, spec]);

// Unary
for (const op of ['Abs', 'Neg', 'Exp', 'Relu', 'Sigmoid', 'Tanh', 'Erf']) {
  for (const dims of [[7], [3, 5], [2, 3, 4]]) add(`${op} [${dims}]`, { opType: op, inputs: [X(f(dims, -4, 4))], outputs: ['y'] });
  if (op !== 'Erf') add(`${op} float64`, { opType: op, inputs: [X(randTensor(r, [4, 5], 'float64', -4, 4))], outputs: ['y'] });
}
for (const op of ['Log', 'Sqrt']) for (const dims of [[6], [4, 5]]) add(`${op} [${dims}]`, { opType: op, inputs: [X(f(dims, 0.01, 5))], outputs: ['y'] });
for (const alpha of [0.01, 0.3]) add(`LeakyRelu alpha=${alpha}`, { opType: 'LeakyRelu', inputs: [X(f([3, 4]))], outputs: ['y'], attrs: { alpha: { f: alpha } } });
add('Not', { opType: 'Not', inputs: [X(randTensor(r, [3, 4], 'bool'))], outputs: ['y'] });
add('Clip inputs', { opType: 'Clip', inputs: [X(f([4, 5])), C(new Tensor('float32', [-0.5], []), 'lo'), C(new Tensor('float32', [0.7], []), 'hi')], outputs: ['y'] });
add('Clip max only', { opType: 'Clip', inputs: [X(f([4, 5])), null, C(new Tensor('float32', [0.2], []), 'hi')], outputs: ['y'] });
add('Clip opset 6', { opType: 'Clip', inputs: [X(f([4, 5]))], outputs: ['y'], attrs: { min: { f: -0.3 }, max: { f: 0.4 } }, opset: 6 });

// Binary with broadcasting
const bshapes: [number[], number[]][] = [[[3, 4], [3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[1], [2, 3]]];
for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  for (const [a, b] of bshapes) add(`${op} [${a}]x[${b}]`, { opType: op, inputs: [X(f(a), 'a'), X(f(b, 0.5, 2), 'b')], outputs: ['y'] });
  add(`${op} int32`, { opType: op, inputs: [X(randTensor(r, [3, 4], 'int32', -50, 50), 'a'), X(randTensor(r, [4], 'int32', 1, 9), 'b')], outputs: ['y'] });
  add(`${op} int64`, { opType: op, inputs: [X(randTensor(r, [3, 4], 'int64', -50, 50), 'a'), X(randTensor(r, [3, 1], 'int64', 1, 9), 'b')], outputs: ['y'] });
}
add('Pow', { opType: 'Pow', inputs: [X(f([3, 4], 0.1, 3), 'a'), X(f([4], -2, 2), 'b')], outputs: ['y'] });
add('Pow int exponent', { opType: 'Pow', inputs: [X(f([3, 4]), 'a'), X(randTensor(r, [1], 'int64', 0, 3), 'b')], outputs: ['y'] });
for (const op of ['Equal', 'Less', 'Greater']) {
  for (const [a, b] of bshapes.slice(0, 3)) {
    add(`${op} [${a}]x[${b}]`, { opType: op, inputs: [X(randTensor(r, a, 'int64', 0, 3), 'a'), X(randTensor(r, b, 'int64', 0, 3), 'b')], outputs: ['y'], outputTypes: ['bool'] });
  }
  add(`${op} float`, { opType: op, inputs: [X(f([3, 4]), 'a'), X(f([4]), 'b')], outputs: ['y'], outputTypes: ['bool'] });
}
add('And', { opType: 'And', inputs: [X(randTensor(r, [3, 4], 'bool'), 'a'), X(randTensor(r, [4], 'bool'), 'b')], outputs: ['y'] });
for (const op of ['Min', 'Max']) {
  add(`${op} 2`, { opType: op, inputs: [X(f([3, 4]), 'a'), X(f([4]), 'b')], outputs: ['y'] });
  add(`${op} 3`, { opType: op, inputs: [X(f([2, 3, 4]), 'a'), X(f([3, 1]), 'b'), X(f([1]), 'c')], outputs: ['y'] });
}
add('Where', { opType: 'Where', inputs: [X(randTensor(r, [3, 1], 'bool'), 'c'), X(f([3, 4]), 'a'), X(f([4]), 'b')], outputs: ['y'], outputTypes: ['float32'] });
add('Where int64', { opType: 'Where', inputs: [X(randTensor(r, [2, 3], 'bool'), 'c'), X(randTensor(r, [2, 3], 'int64', -9, 9), 'a'), X(randTensor(r, [3], 'int64', -9, 9), 'b')], outputs: ['y'], outputTypes: ['int64'] });

// MatMul / Gemm
for (const [a, b] of [[[3, 4], [4, 5]], [[4], [4, 3]], [[2, 3, 4], [4]], [[2, 1, 3, 4], [3, 4, 2]], [[5, 16], [16, 33]]]) {
  add(`MatMul [${a}]x[${b}]`, { opType: 'MatMul', inputs: [X(f(a), 'a'), X(f(b), 'b')], outputs: ['y'] });
}
add('MatMul float64', { opType: 'MatMul', inputs: [X(randTensor(r, [3, 7], 'float64'), 'a'), X(randTensor(r, [7, 2], 'float64'), 'b')], outputs: ['y'] });
for (const [tA, tB, cd] of [[0, 0, [5]], [1, 0, [3, 5]], [0, 1, [1, 5]], [1, 1, [3, 1]], [0, 0, []]] as [number, number, number[]][]) {
  const A = tA ? f([4, 3]) : f([3, 4]);
  const B = tB ? f([5, 4]) : f([4, 5]);
  add(`Gemm transA=${tA} transB=${tB} C[${cd}]`, {
    opType: 'Gemm', inputs: [X(A, 'a'), X(B, 'b'), X(f(cd), 'c')], outputs: ['y'],
    attrs: { transA: tA, transB: tB, alpha: { f: 0.7 }, beta: { f: 1.3 } },
  });
}
add('Gemm no C', { opType: 'Gemm', inputs: [X(f([2, 3]), 'a'), X(f([3, 4]), 'b')], outputs: ['y'] });

// Conv
const convs: [string, number[], number[], Record<string, number[] | number | string>][] = [
  ['1-D', [2, 3, 10], [4, 3, 3], {}],
  ['1-D pads strides', [1, 2, 11], [3, 2, 4], { pads: [1, 2], strides: [2] }],
  ['1-D dilations groups', [2, 4, 12], [6, 2, 3], { dilations: [2], group: 2 }],
  ['2-D', [1, 3, 6, 7], [2, 3, 3, 3], {}],
  ['2-D pads strides dilations', [2, 2, 9, 8], [4, 2, 3, 2], { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] }],
  ['2-D depthwise', [1, 4, 5, 5], [4, 1, 3, 3], { group: 4, pads: [1, 1, 1, 1] }],
  ['2-D SAME_UPPER', [1, 2, 7, 6], [3, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }],
  ['2-D SAME_LOWER', [1, 2, 6, 6], [3, 2, 4, 4], { auto_pad: 'SAME_LOWER' }],
  ['2-D VALID', [1, 2, 6, 6], [3, 2, 2, 3], { auto_pad: 'VALID' }],
];
for (const [name, xd, wd, attrs] of convs) {
  add(`Conv ${name}`, { opType: 'Conv', inputs: [X(f(xd)), C(f(wd), 'w'), C(f([wd[0]]), 'b')], outputs: ['y'], attrs });
}
add('Conv no bias', { opType: 'Conv', inputs: [X(f([1, 2, 5, 5])), C(f([3, 2, 3, 3]), 'w')], outputs: ['y'] });

// Softmax family and reductions
for (const op of ['Softmax', 'LogSoftmax']) {
  for (const [dims, axis, opset] of [[[3, 5], -1, 13], [[2, 3, 4], 1, 13], [[2, 3, 4], 0, 13], [[2, 3, 4], 1, 11], [[4, 6], 1, 11]] as [number[], number, number][]) {
    add(`${op} [${dims}] axis=${axis} opset ${opset}`, { opType: op, inputs: [X(f(dims, -30, 30))], outputs: ['y'], attrs: { axis }, opset });
  }
}
for (const op of ['ReduceMean', 'ReduceMax', 'ReduceSum']) {
  for (const [axes, keepdims] of [[[1], 1], [[0, 2], 0], [[-1], 1], [undefined, 0]] as [number[] | undefined, number][]) {
    const useInput = op === 'ReduceSum';
    const spec: SingleNodeSpec = useInput
      ? { opType: op, inputs: [X(f([2, 3, 4])), ...(axes ? [C(i64(axes), 'axes')] : [])], outputs: ['y'], attrs: { keepdims }, opset: 13 }
      : { opType: op, inputs: [X(f([2, 3, 4]))], outputs: ['y'], attrs: axes ? { axes, keepdims } : { keepdims }, opset: 13 };
    add(`${op} axes=${axes} keepdims=${keepdims}`, spec);
  }
}
for (const [axis, keepdims, last] of [[0, 1, 0], [1, 0, 0], [-1, 1, 1]]) {
  add(`ArgMax axis=${axis} keepdims=${keepdims} last=${last}`, {
    opType: 'ArgMax', inputs: [X(randTensor(r, [3, 4, 5], 'int32', 0, 3))], outputs: ['y'], outputTypes: ['int64'],
    attrs: { axis, keepdims, select_last_index: last }, opset: 13,
  });
}

// Shape ops
add('Transpose default', { opType: 'Transpose', inputs: [X(f([2, 3, 4]))], outputs: ['y'] });
add('Transpose perm', { opType: 'Transpose', inputs: [X(f([2, 3, 4, 5]))], outputs: ['y'], attrs: { perm: [0, 2, 1, 3] } });
for (const shape of [[4, -1], [0, 0, -1], [24], [2, 0, 2, 2]]) {
  add(`Reshape [${shape}]`, { opType: 'Reshape', inputs: [X(f([2, 3, 4])), C(i64(shape), 's')], outputs: ['y'] });
}
for (const axis of [0, 1, 2, -1]) add(`Flatten axis=${axis}`, { opType: 'Flatten', inputs: [X(f([2, 3, 4]))], outputs: ['y'], attrs: { axis } });
add('Squeeze axes input', { opType: 'Squeeze', inputs: [X(f([1, 3, 1, 2])), C(i64([0, -2]), 'a')], outputs: ['y'], opset: 13 });
add('Squeeze all', { opType: 'Squeeze', inputs: [X(f([1, 3, 1, 2]))], outputs: ['y'], opset: 13 });
add('Squeeze opset 11', { opType: 'Squeeze', inputs: [X(f([1, 3, 1, 2]))], outputs: ['y'], attrs: { axes: [2] }, opset: 11 });
add('Unsqueeze input', { opType: 'Unsqueeze', inputs: [X(f([3, 2])), C(i64([0, 3]), 'a')], outputs: ['y'], opset: 13 });
add('Unsqueeze opset 11', { opType: 'Unsqueeze', inputs: [X(f([3, 2]))], outputs: ['y'], attrs: { axes: [-1] }, opset: 11 });
for (const axis of [0, 1, -1]) add(`Concat axis=${axis}`, { opType: 'Concat', inputs: [X(f([2, 3, 2]), 'a'), X(f([2, 3, 2]), 'b'), X(f([2, 3, 2]), 'c')], outputs: ['y'], attrs: { axis } });
add('Split equal', { opType: 'Split', inputs: [X(f([6, 4]))], outputs: ['y0', 'y1', 'y2'], attrs: { axis: 0 }, opset: 13 });
add('Split sizes input', { opType: 'Split', inputs: [X(f([2, 7])), C(i64([3, 4]), 's')], outputs: ['y0', 'y1'], attrs: { axis: 1 }, opset: 13 });
add('Split opset 11', { opType: 'Split', inputs: [X(f([2, 7]))], outputs: ['y0', 'y1'], attrs: { axis: -1, split: [5, 2] }, opset: 11 });
const slices: [number[], number[], number[] | null, number[] | null][] = [
  [[1, 0], [3, 2], null, null], [[0], [-1], [1], null], [[-1], [-1000], [2], [-1]], [[0, 1], [100, 4], [0, 2], [2, 2]], [[2], [0], [0], [-1]],
];
for (const [s, e, a, st] of slices) {
  const inputs = [X(f([4, 5, 6])), C(i64(s), 'starts'), C(i64(e), 'ends'), a ? C(i64(a), 'axes') : null, st ? C(i64(st), 'steps') : null];
  while (inputs[inputs.length - 1] === null) inputs.pop();
  add(`Slice starts=${s} ends=${e} axes=${a} steps=${st}`, { opType: 'Slice', inputs, outputs: ['y'] });
}
add('Slice opset 9', { opType: 'Slice', inputs: [X(f([4, 5]))], outputs: ['y'], attrs: { starts: [1], ends: [10], axes: [1] }, opset: 9 });
for (const axis of [0, 1, -1]) {
  add(`Gather axis=${axis}`, { opType: 'Gather', inputs: [X(f([4, 5, 3])), C(new Tensor('int64', [0n, 2n, -1n, 1n], [2, 2]), 'i')], outputs: ['y'], attrs: { axis } });
}
add('Gather scalar index', { opType: 'Gather', inputs: [X(f([4, 5])), C(new Tensor('int64', [2n], []), 'i')], outputs: ['y'] });
add('Expand', { opType: 'Expand', inputs: [X(f([3, 1])), C(i64([2, 3, 4]), 's')], outputs: ['y'] });
add('Expand smaller shape', { opType: 'Expand', inputs: [X(f([2, 3, 1])), C(i64([3, 5]), 's')], outputs: ['y'] });
add('Tile', { opType: 'Tile', inputs: [X(f([2, 3])), C(i64([2, 3]), 'r')], outputs: ['y'] });
add('Shape', { opType: 'Shape', inputs: [X(f([2, 3, 4]))], outputs: ['y'], outputTypes: ['int64'] });
add('Shape start end', { opType: 'Shape', inputs: [X(f([2, 3, 4]))], outputs: ['y'], outputTypes: ['int64'], attrs: { start: 1, end: -1 }, opset: 15 });
add('Size', { opType: 'Size', inputs: [X(f([2, 3, 4]))], outputs: ['y'], outputTypes: ['int64'] });
add('ConstantOfShape', { opType: 'ConstantOfShape', inputs: [X(i64([2, 3]), 's')], outputs: ['y'], outputTypes: ['float32'], attrs: { value: new Tensor('float32', [1.5], [1]) } });
add('ConstantOfShape int64', { opType: 'ConstantOfShape', inputs: [X(i64([4]), 's')], outputs: ['y'], outputTypes: ['int64'], attrs: { value: new Tensor('int64', [7n], [1]) } });
add('Constant value_floats', { opType: 'Constant', inputs: [], outputs: ['y'], attrs: { value_floats: { floats: [1.5, -2.25, 3] } } });
add('Identity', { opType: 'Identity', inputs: [X(f([3]))], outputs: ['y'] });
add('Dropout inference', { opType: 'Dropout', inputs: [X(f([3, 4]))], outputs: ['y'] });
add('Range float', { opType: 'Range', inputs: [X(new Tensor('float32', [1], []), 's'), X(new Tensor('float32', [7.5], []), 'l'), X(new Tensor('float32', [1.5], []), 'd')], outputs: ['y'] });
add('Range int64 negative', { opType: 'Range', inputs: [X(new Tensor('int64', [10n], []), 's'), X(new Tensor('int64', [-3n], []), 'l'), X(new Tensor('int64', [-4n], []), 'd')], outputs: ['y'] });
const castPairs: [DataType, DataType, number][] = [
  ['float32', 'int64', 13], ['float32', 'int32', 13], ['int64', 'float32', 13], ['float32', 'float64', 13], ['float64', 'float32', 13],
  ['float32', 'bool', 13], ['bool', 'float32', 13], ['int32', 'int64', 13], ['float32', 'float16', 13], ['float32', 'uint8', 13],
];
for (const [from, to, opset] of castPairs) {
  const code = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 }[to as string]!;
  add(`Cast ${from} -> ${to}`, { opType: 'Cast', inputs: [X(randTensor(r, [3, 4], from, -9, 9))], outputs: ['y'], outputTypes: [to], attrs: { to: code }, opset });
}

// The ops beyond the core list
for (const op of ['Reciprocal', 'Floor', 'Ceil']) add(`${op}`, { opType: op, inputs: [X(f([3, 4], 0.2, 5))], outputs: ['y'] });
for (const op of ['LessOrEqual', 'GreaterOrEqual']) {
  add(`${op}`, { opType: op, inputs: [X(randTensor(r, [3, 4], 'int64', 0, 3), 'a'), X(randTensor(r, [4], 'int64', 0, 3), 'b')], outputs: ['y'], outputTypes: ['bool'] });
}
for (const op of ['Or', 'Xor']) add(`${op}`, { opType: op, inputs: [X(randTensor(r, [3, 4], 'bool'), 'a'), X(randTensor(r, [3, 1], 'bool'), 'b')], outputs: ['y'] });
add('Sum 3', { opType: 'Sum', inputs: [X(f([2, 3]), 'a'), X(f([3]), 'b'), X(f([2, 1]), 'c')], outputs: ['y'] });
for (const op of ['ReduceMin', 'ReduceProd']) {
  add(`${op} axes=[1] keepdims=0`, { opType: op, inputs: [X(f([2, 3, 4], 0.5, 1.5))], outputs: ['y'], attrs: { axes: [1], keepdims: 0 }, opset: 13 });
}
add('CastLike float32 -> int64', { opType: 'CastLike', inputs: [X(f([3, 4], -9, 9)), X(new Tensor('int64', [0n], [1]), 'like')], outputs: ['y'], outputTypes: ['int64'], opset: 15 });

for (const op of ['Cos', 'Sin', 'Softsign', 'Softplus', 'Sign']) add(op, { opType: op, inputs: [X(f([3, 5], -4, 4))], outputs: ['y'] });
add('Elu', { opType: 'Elu', inputs: [X(f([3, 5], -4, 4))], outputs: ['y'], attrs: { alpha: { f: 0.7 } } });
add('Selu defaults', { opType: 'Selu', inputs: [X(f([3, 5], -4, 4))], outputs: ['y'] });
add('HardSigmoid', { opType: 'HardSigmoid', inputs: [X(f([3, 5], -6, 6))], outputs: ['y'], attrs: { alpha: { f: 0.3 }, beta: { f: 0.4 } } });
add('ThresholdedRelu', { opType: 'ThresholdedRelu', inputs: [X(f([3, 5], -2, 2))], outputs: ['y'], attrs: { alpha: { f: 0.5 } } });
add('Mod int32', { opType: 'Mod', inputs: [X(randTensor(r, [3, 4], 'int32', -20, 20), 'a'), X(new Tensor('int32', [3, -4, 5, -7], [4]), 'b')], outputs: ['y'], opset: 13 });
add('Mod fmod float', { opType: 'Mod', inputs: [X(f([3, 4], -9, 9), 'a'), X(f([4], 0.5, 3), 'b')], outputs: ['y'], attrs: { fmod: 1 }, opset: 13 });
for (const op of ['ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp']) {
  add(`${op} axes=[-1]`, { opType: op, inputs: [X(f([2, 3, 4], 0.1, 2))], outputs: ['y'], attrs: { axes: [-1], keepdims: 1 }, opset: 13 });
}
add('ArgMin', { opType: 'ArgMin', inputs: [X(randTensor(r, [3, 5], 'int32', 0, 3))], outputs: ['y'], outputTypes: ['int64'], attrs: { axis: 1, keepdims: 0 }, opset: 13 });
add('LayerNormalization axis=-1', { opType: 'LayerNormalization', inputs: [X(f([2, 3, 6])), C(f([6]), 's'), C(f([6]), 'b')], outputs: ['y', 'mean', 'inv'], attrs: { axis: -1, epsilon: { f: 1e-3 } }, opset: 17 });
add('LayerNormalization axis=1 no bias', { opType: 'LayerNormalization', inputs: [X(f([2, 3, 4])), C(f([3, 4]), 's')], outputs: ['y'], attrs: { axis: 1 }, opset: 17 });
add('BatchNormalization', { opType: 'BatchNormalization', inputs: [X(f([2, 3, 4, 5])), C(f([3]), 's'), C(f([3]), 'b'), C(f([3]), 'm'), C(f([3], 0.5, 2), 'v')], outputs: ['y'], opset: 15 });
add('GatherElements axis=1', { opType: 'GatherElements', inputs: [X(f([3, 4])), C(new Tensor('int64', [0n, 3n, -1n, 2n, 1n, 1n], [3, 2]), 'i')], outputs: ['y'], attrs: { axis: 1 }, opset: 13 });
for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
  add(`CumSum exclusive=${exclusive} reverse=${reverse}`, { opType: 'CumSum', inputs: [X(f([3, 4])), C(new Tensor('int64', [1n], []), 'axis')], outputs: ['y'], attrs: { exclusive, reverse }, opset: 14 });
}
for (const [upper, k] of [[1, 0], [0, 1], [1, -1]]) {
  add(`Trilu upper=${upper} k=${k}`, { opType: 'Trilu', inputs: [X(f([2, 4, 5])), C(new Tensor('int64', [BigInt(k)], []), 'k')], outputs: ['y'], attrs: { upper }, opset: 14 });
}

const pools: [string, number[], Record<string, number[] | number | string>][] = [
  ['1-D', [2, 3, 11], { kernel_shape: [3] }],
  ['2-D strides pads', [1, 2, 7, 8], { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 1, 1] }],
  ['2-D ceil_mode', [1, 2, 7, 7], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }],
  ['2-D SAME_UPPER', [1, 1, 6, 5], { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', strides: [2, 2] }],
];
for (const [name, dims, attrs] of pools) {
  add(`MaxPool ${name}`, { opType: 'MaxPool', inputs: [X(f(dims))], outputs: ['y'], attrs, opset: 13 });
  add(`AveragePool ${name}`, { opType: 'AveragePool', inputs: [X(f(dims))], outputs: ['y'], attrs, opset: 13 });
}
add('AveragePool count_include_pad', { opType: 'AveragePool', inputs: [X(f([1, 2, 5, 5]))], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }, opset: 13 });
add('MaxPool dilations + indices', { opType: 'MaxPool', inputs: [X(f([2, 2, 8, 8]))], outputs: ['y', 'i'], outputTypes: ['float32', 'int64'], attrs: { kernel_shape: [2, 2], dilations: [2, 2] }, opset: 13 });
for (const mode of ['constant', 'reflect', 'edge']) {
  add(`Pad ${mode}`, { opType: 'Pad', inputs: [X(f([2, 3, 4])), C(i64([0, 1, 2, 0, 2, 1]), 'pads'), ...(mode === 'constant' ? [C(new Tensor('float32', [0.5], []), 'v')] : [])], outputs: ['y'], attrs: { mode }, opset: 13 });
}
add('Pad negative (crop)', { opType: 'Pad', inputs: [X(f([3, 5])), C(i64([-1, 1, 0, -2]), 'pads')], outputs: ['y'], opset: 13 });
add('Hardmax', { opType: 'Hardmax', inputs: [X(f([3, 4, 5]))], outputs: ['y'], attrs: { axis: 1 }, opset: 13 });

for (const reduction of ['none', 'sum', 'mean']) {
  const tgt = new Tensor('int64', [0n, 2n, 1n, 2n, 0n, 1n], [2, 3]);
  add(`NegativeLogLikelihoodLoss ${reduction}`, { opType: 'NegativeLogLikelihoodLoss', inputs: [X(f([2, 3, 3])), X(tgt, 't'), C(f([3], 0.2, 2), 'w')], outputs: ['y'], attrs: { reduction, ignore_index: 1 }, opset: 13 });
  add(`SoftmaxCrossEntropyLoss ${reduction}`, { opType: 'SoftmaxCrossEntropyLoss', inputs: [X(f([2, 3, 3])), X(tgt, 't')], outputs: ['y', 'logp'], attrs: { reduction }, opset: 13 });
}

add('GatherND', { opType: 'GatherND', inputs: [X(f([2, 3, 4])), C(new Tensor('int64', [0n, 1n, 1n, 2n, 1n, 0n], [3, 2]), 'i')], outputs: ['y'], opset: 13 });
add('GatherND batch_dims=1', { opType: 'GatherND', inputs: [X(f([2, 3, 4])), C(new Tensor('int64', [2n, 0n], [2, 1]), 'i')], outputs: ['y'], attrs: { batch_dims: 1 }, opset: 13 });
add('ScatterElements add', { opType: 'ScatterElements', inputs: [X(f([3, 4])), C(new Tensor('int64', [1n, 0n, 3n, 3n], [1, 4]), 'i'), X(f([1, 4]), 'u')], outputs: ['y'], attrs: { axis: 1, reduction: 'add' }, opset: 16 });
add('OneHot', { opType: 'OneHot', inputs: [X(new Tensor('int64', [0n, 2n, -1n, 1n], [2, 2]), 'i'), C(new Tensor('int64', [4n], []), 'd'), C(new Tensor('float32', [0, 3], [2]), 'v')], outputs: ['y'], outputTypes: ['float32'], attrs: { axis: 1 }, opset: 11 });
add('EyeLike k=1', { opType: 'EyeLike', inputs: [X(f([3, 4]))], outputs: ['y'], attrs: { k: 1 } });
add('Compress axis=1', { opType: 'Compress', inputs: [X(f([3, 4])), C(new Tensor('bool', [1, 0, 1, 1], [4]), 'c')], outputs: ['y'], attrs: { axis: 1 }, opset: 11 });
add('BitShift LEFT uint32', { opType: 'BitShift', inputs: [X(new Tensor('uint32', [1, 7, 255, 4096], [4]), 'a'), X(new Tensor('uint32', [0, 3, 8, 20], [4]), 'b')], outputs: ['y'], attrs: { direction: 'LEFT' }, opset: 11 });

for (const op of ['Tan', 'Atan', 'Cosh', 'Sinh', 'Asinh']) add(op, { opType: op, inputs: [X(f([3, 4], -1.2, 1.2))], outputs: ['y'] });
for (const op of ['Acos', 'Asin', 'Atanh']) add(op, { opType: op, inputs: [X(f([3, 4], -0.95, 0.95))], outputs: ['y'] });
add('Acosh', { opType: 'Acosh', inputs: [X(f([3, 4], 1, 5))], outputs: ['y'] });
add('Round half to even', { opType: 'Round', inputs: [X(new Tensor('float32', [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7], [8]))], outputs: ['y'] });
add('IsNaN', { opType: 'IsNaN', inputs: [X(new Tensor('float32', [NaN, 1, -Infinity, 0], [4]))], outputs: ['y'], outputTypes: ['bool'] });
add('IsInf negative only', { opType: 'IsInf', inputs: [X(new Tensor('float32', [Infinity, 1, -Infinity, NaN], [4]))], outputs: ['y'], outputTypes: ['bool'], attrs: { detect_positive: 0 } });
add('Mean 3', { opType: 'Mean', inputs: [X(f([2, 3]), 'a'), X(f([3]), 'b'), X(f([2, 1]), 'c')], outputs: ['y'] });
for (const [largest, axis] of [[1, -1], [0, 0]]) {
  add(`TopK largest=${largest} axis=${axis}`, { opType: 'TopK', inputs: [X(randTensor(r, [4, 6], 'float32', 0, 5)), C(i64([3]), 'k')], outputs: ['v', 'i'], outputTypes: ['float32', 'int64'], attrs: { largest, axis }, opset: 11 });
}
add('GlobalAveragePool', { opType: 'GlobalAveragePool', inputs: [X(f([2, 3, 4, 5]))], outputs: ['y'] });
add('GlobalMaxPool 1-D', { opType: 'GlobalMaxPool', inputs: [X(f([2, 3, 7]))], outputs: ['y'] });

const convTs: [string, number[], number[], Record<string, number[] | number | string>][] = [
  ['1-D', [2, 3, 6], [3, 2, 3], {}],
  ['2-D strides pads', [1, 2, 4, 5], [2, 3, 3, 3], { strides: [2, 2], pads: [1, 0, 1, 1] }],
  ['2-D groups dilations output_padding', [1, 4, 3, 3], [4, 1, 2, 2], { group: 2, dilations: [2, 1], strides: [2, 2], output_padding: [1, 0] }],
  ['2-D output_shape', [1, 1, 3, 3], [1, 2, 3, 3], { strides: [3, 2], output_shape: [10, 8] }],
  ['2-D SAME_UPPER', [1, 2, 3, 4], [2, 2, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }],
];
for (const [name, xd, wd, attrs] of convTs) {
  add(`ConvTranspose ${name}`, { opType: 'ConvTranspose', inputs: [X(f(xd)), C(f(wd), 'w'), C(f([wd[1] * ((attrs.group as number) ?? 1)]), 'b')], outputs: ['y'], attrs });
}

add('QuantizeLinear uint8', { opType: 'QuantizeLinear', inputs: [X(f([3, 4], -3, 3)), C(new Tensor('float32', [0.02], []), 's'), C(new Tensor('uint8', [128], []), 'z')], outputs: ['y'], outputTypes: ['uint8'], opset: 13 });
add('QuantizeLinear int8 per-axis', { opType: 'QuantizeLinear', inputs: [X(f([2, 3, 4], -3, 3)), C(new Tensor('float32', [0.02, 0.05, 0.1], [3]), 's'), C(new Tensor('int8', [0, -3, 5], [3]), 'z')], outputs: ['y'], outputTypes: ['int8'], opset: 13 });
add('DequantizeLinear', { opType: 'DequantizeLinear', inputs: [X(randTensor(r, [3, 4], 'uint8', 0, 255)), C(new Tensor('float32', [0.03], []), 's'), C(new Tensor('uint8', [100], []), 'z')], outputs: ['y'], outputTypes: ['float32'], opset: 13 });
add('QuantizeLinear int8 per-tensor saturating', { opType: 'QuantizeLinear', inputs: [X(f([2, 7], -5, 5)), C(new Tensor('float32', [0.03], []), 's'), C(new Tensor('int8', [-4], []), 'z')], outputs: ['y'], outputTypes: ['int8'], opset: 13 });
add('QuantizeLinear no zero point', { opType: 'QuantizeLinear', inputs: [X(f([9], -1, 4)), C(new Tensor('float32', [0.015], []), 's')], outputs: ['y'], outputTypes: ['uint8'], opset: 13 });
add('QuantizeLinear scale fed', { opType: 'QuantizeLinear', inputs: [X(f([1, 3], -1, 1)), X(new Tensor('float32', [0.01], []), 's'), X(new Tensor('int8', [3], []), 'z')], outputs: ['y'], outputTypes: ['int8'], opset: 13 });
add('DequantizeLinear int8', { opType: 'DequantizeLinear', inputs: [X(randTensor(r, [1, 3], 'int8', -128, 127)), C(new Tensor('float32', [0.07], []), 's'), C(new Tensor('int8', [-5], []), 'z')], outputs: ['y'], outputTypes: ['float32'], opset: 13 });
add('DequantizeLinear int32 no zero point', { opType: 'DequantizeLinear', inputs: [X(randTensor(r, [2, 3], 'int32', -100000, 100000)), C(new Tensor('float32', [0.0007], []), 's')], outputs: ['y'], outputTypes: ['float32'], opset: 13 });
{
  const q = (type: 'uint8' | 'int8', dims: number[]) => randTensor(r, dims, type, type === 'uint8' ? 0 : -128, type === 'uint8' ? 255 : 127);
  const sc = (v: number[]) => new Tensor('float32', v, v.length > 1 ? [v.length] : []);
  const qconv = (name: string, xt: 'uint8' | 'int8', wt: 'uint8' | 'int8', xd: number[], wd: number[], perChannel: boolean, fedW: boolean, attrs: Record<string, number[] | number | string>) => {
    const M = wd[0];
    const W = fedW ? X : C;
    add(`QLinearConv ${name}`, {
      opType: 'QLinearConv', outputs: ['y'], outputTypes: [xt], opset: 10, attrs,
      inputs: [X(q(xt, xd)), C(sc([0.05]), 'sx'), C(new Tensor(xt, [xt === 'uint8' ? 120 : -3], []), 'zx'),
        // uint8 x with int8 w: onnxruntime's x86 kernel sums pairs of products in saturating int16,
        // exact only for |w| <= 64 or so (see DEVELOPERS.md); rnnx is exact either way.
        W(xt === 'uint8' && wt === 'int8' ? randTensor(r, wd, 'int8', -64, 63) : q(wt, wd), 'w'), C(sc(perChannel ? Array.from({ length: M }, (_, i) => 0.002 + 0.001 * i) : [0.004]), 'sw'), C(new Tensor(wt, [wt === 'uint8' ? 130 : 0], []), 'zw'),
        C(sc([0.11]), 'sy'), C(new Tensor(xt, [xt === 'uint8' ? 128 : 2], []), 'zy'), C(randTensor(r, [M], 'int32', -3000, 3000), 'b')],
    });
  };
  qconv('uint8 1-D k3 pads', 'uint8', 'uint8', [1, 5, 9], [6, 5, 3], false, false, { pads: [1, 1] });
  qconv('uint8 x int8 w per-channel', 'uint8', 'int8', [2, 4, 7], [5, 4, 2], true, false, { strides: [2] });
  qconv('int8 P=1 VALID', 'int8', 'int8', [1, 5, 1], [12, 5, 1], false, false, { auto_pad: 'VALID' });
  qconv('int8 weights fed', 'int8', 'int8', [1, 3, 6], [4, 3, 3], true, true, { pads: [1, 1] });
}
add('DynamicQuantizeLinear', { opType: 'DynamicQuantizeLinear', inputs: [X(f([3, 5], -2, 4))], outputs: ['y', 's', 'z'], outputTypes: ['uint8', 'float32', 'uint8'], opset: 11 });

const resizes: [string, Record<string, number | string>, number[] | null, number[] | null][] = [
  ['nearest half_pixel up', { mode: 'nearest' }, [1, 1, 2, 1.5], null],
  ['nearest asymmetric floor sizes', { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, null, [1, 2, 7, 5]],
  ['linear half_pixel down', { mode: 'linear' }, [1, 1, 0.5, 0.75], null],
  ['linear align_corners sizes', { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, null, [1, 2, 6, 9]],
  ['linear pytorch_half_pixel', { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, null, [1, 2, 1, 7]],
  ['cubic half_pixel', { mode: 'cubic' }, [1, 1, 1.5, 2], null],
  ['cubic exclude_outside A=-0.5', { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: { f: -0.5 } as never }, null, [1, 2, 3, 5]],
];
for (const [name, attrs, scales, sizes] of resizes) {
  const inputs = [X(f([1, 2, 4, 6])), null, scales ? C(new Tensor('float32', scales, [4]), 'scales') : null, sizes ? C(i64(sizes), 'sizes') : null];
  while (inputs[inputs.length - 1] === null) inputs.pop();
  add(`Resize ${name}`, { opType: 'Resize', inputs, outputs: ['y'], attrs: attrs as never, opset: 13 });
}

for (const op of ['HannWindow', 'HammingWindow', 'BlackmanWindow']) {
  for (const periodic of [1, 0]) add(`${op} periodic=${periodic}`, { opType: op, inputs: [C(new Tensor('int64', [10n], []), 'n')], outputs: ['y'], outputTypes: ['float32'], attrs: { periodic }, opset: 17 });
}
add('DFT real onesided', { opType: 'DFT', inputs: [X(f([2, 8, 1]))], outputs: ['y'], attrs: { onesided: 1 }, opset: 17 });
add('DFT complex inverse, dft_length 6', { opType: 'DFT', inputs: [X(f([2, 5, 2])), C(new Tensor('int64', [6n], []), 'n')], outputs: ['y'], attrs: { inverse: 1 }, opset: 17 });
add('STFT with window', { opType: 'STFT', inputs: [X(f([2, 32, 1])), C(new Tensor('int64', [4n], []), 'step'), C(f([8], 0, 1), 'w')], outputs: ['y'], opset: 17 });
add('MelWeightMatrix', { opType: 'MelWeightMatrix', inputs: [C(new Tensor('int64', [10n], []), 'm'), C(new Tensor('int64', [64n], []), 'd'), C(new Tensor('int64', [16000n], []), 'r'), C(new Tensor('float32', [20], []), 'l'), C(new Tensor('float32', [7600], []), 'h')], outputs: ['y'], outputTypes: ['float32'], opset: 17 });

add('PRelu per channel', { opType: 'PRelu', inputs: [X(f([2, 3, 4])), C(f([3, 1], 0, 0.5), 's')], outputs: ['y'] });
add('Celu', { opType: 'Celu', inputs: [X(f([3, 4], -3, 3))], outputs: ['y'], attrs: { alpha: { f: 0.8 } }, opset: 12 });
add('HardSwish', { opType: 'HardSwish', inputs: [X(f([3, 4], -5, 5))], outputs: ['y'], opset: 14 });
add('Shrink', { opType: 'Shrink', inputs: [X(f([3, 4], -2, 2))], outputs: ['y'], attrs: { lambd: { f: 0.7 }, bias: { f: 0.2 } } });
add('ScatterND', { opType: 'ScatterND', inputs: [X(f([4, 3])), C(new Tensor('int64', [2n, 0n], [2, 1]), 'i'), X(f([2, 3]), 'u')], outputs: ['y'], opset: 13 });
add('DepthToSpace CRD', { opType: 'DepthToSpace', inputs: [X(f([1, 8, 2, 3]))], outputs: ['y'], attrs: { blocksize: 2, mode: 'CRD' }, opset: 13 });
add('DepthToSpace DCR', { opType: 'DepthToSpace', inputs: [X(f([1, 8, 2, 3]))], outputs: ['y'], attrs: { blocksize: 2 }, opset: 13 });
add('SpaceToDepth', { opType: 'SpaceToDepth', inputs: [X(f([1, 2, 4, 6]))], outputs: ['y'], attrs: { blocksize: 2 }, opset: 13 });
add('NonZero', { opType: 'NonZero', inputs: [X(new Tensor('float32', [0, 1, 0, 2, 3, 0], [2, 3]))], outputs: ['y'], outputTypes: ['int64'], opset: 13 });
add('ReverseSequence time-major', { opType: 'ReverseSequence', inputs: [X(f([5, 3, 2])), C(new Tensor('int64', [5n, 2n, 0n], [3]), 'l')], outputs: ['y'], attrs: { batch_axis: 1, time_axis: 0 } });
add('InstanceNormalization', { opType: 'InstanceNormalization', inputs: [X(f([2, 3, 5])), C(f([3]), 's'), C(f([3]), 'b')], outputs: ['y'] });
add('MeanVarianceNormalization', { opType: 'MeanVarianceNormalization', inputs: [X(f([2, 3, 2, 2]))], outputs: ['y'], opset: 13 });
add('LRN', { opType: 'LRN', inputs: [X(f([1, 5, 2, 2]))], outputs: ['y'], attrs: { size: 3, alpha: { f: 0.01 }, beta: { f: 0.7 }, bias: { f: 1.5 } } });

for (const [eq, shapes] of [['ij,jk->ik', [[3, 4], [4, 5]]], ['bij,bjk->bik', [[2, 3, 4], [2, 4, 2]]], ['ij->ji', [[3, 4]]], ['ii->i', [[4, 4]]], ['...ij,...jk', [[2, 3, 4], [2, 4, 3]]], ['i,i', [[5], [5]]]] as [string, number[][]][]) {
  add(`Einsum ${eq}`, { opType: 'Einsum', inputs: shapes.map((d, i) => X(f(d), `x${i}`)), outputs: ['y'], attrs: { equation: eq }, opset: 12 });
}
add('MatMulInteger', { opType: 'MatMulInteger', inputs: [X(randTensor(r, [3, 4], 'uint8', 0, 255), 'a'), X(randTensor(r, [4, 5], 'uint8', 0, 255), 'b'), C(new Tensor('uint8', [12], []), 'za'), C(new Tensor('uint8', [100], []), 'zb')], outputs: ['y'], outputTypes: ['int32'] });
add('QLinearMatMul', { opType: 'QLinearMatMul', inputs: [X(randTensor(r, [3, 4], 'uint8', 0, 255), 'a'), C(new Tensor('float32', [0.02], []), 'sa'), C(new Tensor('uint8', [120], []), 'za'), X(randTensor(r, [4, 2], 'uint8', 0, 255), 'b'), C(new Tensor('float32', [0.03], []), 'sb'), C(new Tensor('uint8', [128], []), 'zb'), C(new Tensor('float32', [0.05], []), 'sy'), C(new Tensor('uint8', [128], []), 'zy')], outputs: ['y'], outputTypes: ['uint8'] });

add('Det batched', { opType: 'Det', inputs: [X(f([2, 3, 3]))], outputs: ['y'], opset: 13 });
add('Unique sorted flat', { opType: 'Unique', inputs: [X(new Tensor('float32', [2, 1, 1, 3, 4, 3, 2], [7]))], outputs: ['y', 'i', 'inv', 'c'], outputTypes: ['float32', 'int64', 'int64', 'int64'], opset: 11 });
add('Unique axis=0 unsorted', { opType: 'Unique', inputs: [X(new Tensor('float32', [1, 2, 0, 1, 1, 2], [3, 2]))], outputs: ['y', 'i', 'inv', 'c'], outputTypes: ['float32', 'int64', 'int64', 'int64'], attrs: { axis: 0, sorted: 0 }, opset: 11 });
add('NonMaxSuppression', {
  opType: 'NonMaxSuppression', outputs: ['y'], outputTypes: ['int64'], opset: 11,
  inputs: [X(new Tensor('float32', [0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, -0.1, 1, 0.9, 0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101], [1, 6, 4]), 'boxes'),
    X(new Tensor('float32', [0.9, 0.75, 0.6, 0.95, 0.5, 0.3], [1, 1, 6]), 'scores'), C(new Tensor('int64', [3n], [1]), 'm'), C(new Tensor('float32', [0.5], [1]), 'iou'), C(new Tensor('float32', [0.1], [1]), 'st')],
});
add('ConvInteger', { opType: 'ConvInteger', inputs: [X(randTensor(r, [1, 2, 5, 5], 'uint8', 0, 255), 'x'), C(randTensor(r, [3, 2, 3, 3], 'uint8', 0, 255), 'w'), C(new Tensor('uint8', [120], []), 'zx')], outputs: ['y'], outputTypes: ['int32'], opset: 10 });

// StringNormalizer: onnxruntime-node cannot construct its en_US.UTF-8 locale on this machine; the six
// ONNX node tests check it instead.
add('MaxUnpool', { opType: 'MaxUnpool', inputs: [X(new Tensor('float32', [1, 2, 3, 4], [1, 1, 2, 2])), C(new Tensor('int64', [5n, 7n, 13n, 15n], [1, 1, 2, 2]), 'i')], outputs: ['y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, opset: 11 });

for (const [mode, padding_mode, align_corners] of [['bilinear', 'zeros', 0], ['bilinear', 'border', 1], ['nearest', 'reflection', 0], ['bicubic', 'zeros', 1], ['bicubic', 'border', 0], ['bilinear', 'reflection', 1]] as [string, string, number][]) {
  add(`GridSample ${mode} ${padding_mode} align=${align_corners}`, { opType: 'GridSample', inputs: [X(f([1, 2, 4, 5])), X(f([1, 3, 3, 2], -1.3, 1.3), 'grid')], outputs: ['y'], attrs: { mode, padding_mode, align_corners }, opset: 16 });
}
add('Upsample nearest opset 9', { opType: 'Upsample', inputs: [X(f([1, 1, 2, 3])), C(new Tensor('float32', [1, 1, 2, 1.5], [4]), 's')], outputs: ['y'], opset: 9 });

for (const [coordinate_transformation_mode, sampling_ratio] of [['half_pixel', 2], ['output_half_pixel', 0]] as [string, number][]) {
  add(`RoiAlign ${coordinate_transformation_mode} ratio=${sampling_ratio}`, {
    opType: 'RoiAlign', outputs: ['y'], opset: 16,
    inputs: [X(f([2, 2, 8, 9])), C(new Tensor('float32', [0, 0, 4, 4, 1.5, 2.2, 7.7, 6.1, 3, 1, 8, 7.5], [3, 4]), 'rois'), C(new Tensor('int64', [0n, 1n, 1n], [3]), 'b')],
    attrs: { coordinate_transformation_mode, sampling_ratio, output_height: 3, output_width: 2, spatial_scale: { f: 0.9 } },
  });
}

add('TfIdfVectorizer TFIDF uni+bigrams skip 1', {
  opType: 'TfIdfVectorizer', inputs: [X(new Tensor('int32', [1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8], [2, 6]))], outputs: ['y'], outputTypes: ['float32'], opset: 9,
  attrs: { mode: 'TFIDF', min_gram_length: 1, max_gram_length: 2, max_skip_count: 1, ngram_counts: [0, 4], ngram_indexes: [0, 1, 2, 3, 4, 5, 6], pool_int64s: [2, 3, 5, 4, 5, 6, 7, 8, 6, 7], weights: { floats: [0.5, 1.5, 2, 1, 3, 0.25, 1] } },
});

describe('single-node cross-checks against onnxruntime-node', () => {
  it.each(cases)('%s', async (_name, spec) => {
    const f64 = spec.inputs.some((i) => i?.tensor.type === 'float64');
    const res = await crossCheck(spec, f64 ? OP_TOL_F64 : OP_TOL);
    expect(res.messages).toEqual([]);
  });
  it('covers every core op', () => {
    const ops = new Set(cases.map(([, s]) => s.opType));
    expect(ops.size).toBeGreaterThanOrEqual(45);
  });
});
