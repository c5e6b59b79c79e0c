// The data-movement and broadcasting fast paths (block broadcasts, scalar Pow, run copies of
// int64 data, ScatterND/arith in place on dying inputs) against onnxruntime-node.
import { describe, expect, it } from 'vitest';
import type { Graph, Model, Node } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { singleNodeModel } from '../src/export/onnx.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { crossCheck, crossCheckModel, OP_TOL, randTensor, rng, runOrt } from './helpers.js';

const r = rng(77);
const f = (dims: number[]) => randTensor(r, dims);
const i64 = (dims: number[], lo: number, hi: number) => randTensor(r, dims, 'int64', lo, hi);
const X = (t: Tensor, name = 'x') => ({ name, tensor: t });
const C = (t: Tensor, name: string) => ({ name, tensor: t, constant: true });

describe('fast paths against onnxruntime-node', () => {
  const cases: [string, Parameters<typeof crossCheck>[0]][] = [];
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const [a, b] of [[[2, 3, 4, 5], [3, 1, 1]], [[2, 3, 4, 5], [1]], [[2, 3, 4, 5], []], [[3, 1, 1], [2, 3, 4, 5]], [[1, 5], [2, 3, 4, 5]], [[2, 3, 4, 5], [4, 1]], [[2, 3, 4, 5], [3, 4, 1]], [[2, 1, 4, 5], [3, 1, 1]]]) {
      cases.push([`${op} [${a}] [${b}]`, { opType: op, inputs: [X(f(a)), X(f(b).type === 'float32' ? randTensor(r, b, 'float32', 0.5, 2) : f(b), 'y')], outputs: ['z'] }]);
    }
    cases.push([`${op} int64 [2,3] [3,1]... scalar`, { opType: op, inputs: [X(i64([2, 3], 1, 9)), X(i64([1], 1, 5), 'y')], outputs: ['z'] }]);
  }
  cases.push(['PRelu per channel', { opType: 'PRelu', inputs: [X(f([1, 4, 3, 5])), X(f([4, 1, 1]), 's')], outputs: ['z'] }]);
  cases.push(['Where block', { opType: 'Where', inputs: [X(randTensor(r, [3, 1], 'bool'), 'c'), X(f([2, 3, 4])), X(f([4]), 'y')], outputs: ['z'], outputTypes: ['float32'] }]);
  for (const e of [2, 0.5, 3, -1]) cases.push([`Pow scalar ${e}`, { opType: 'Pow', inputs: [X(randTensor(r, [3, 7], 'float32', 0.1, 3)), X(new Tensor('float32', [e], []), 'e')], outputs: ['z'] }]);
  const big = i64([3, 4, 40], -50, 50);
  for (const [s, e, a, st] of [[[1], [3], [0], [1]], [[0, 1], [4, 3], [1, 2], [1, 1]], [[1], [40], [2], [2]], [[2, 3], [-1, -4], [0, 1], [-1, -1]], [[0], [2], [2], [1]]]) {
    cases.push([`Slice int64 ${s}:${e} axes ${a} steps ${st}`, {
      opType: 'Slice', inputs: [X(big), C(new Tensor('int64', s.map(BigInt), [s.length]), 's'), C(new Tensor('int64', e.map(BigInt), [e.length]), 'e'),
        C(new Tensor('int64', a.map(BigInt), [a.length]), 'a'), C(new Tensor('int64', st.map(BigInt), [st.length]), 'st')], outputs: ['y'], opset: 13,
    }]);
  }
  for (const axis of [0, 1, 2]) {
    cases.push([`Concat int64 axis ${axis}`, { opType: 'Concat', inputs: [X(big), X(i64([3, 4, 40], -9, 9), 'y')], outputs: ['z'], attrs: { axis } }]);
    cases.push([`Gather int64 axis ${axis}`, { opType: 'Gather', inputs: [X(big), C(new Tensor('int64', [2n, -1n, 0n, 1n], [2, 2]), 'i')], outputs: ['z'], attrs: { axis } }]);
  }
  cases.push(['Gather float rows', { opType: 'Gather', inputs: [X(f([50, 64])), C(new Tensor('int64', [49n, 0n, -3n], [3]), 'i')], outputs: ['z'] }]);
  cases.push(['ScatterND rows', { opType: 'ScatterND', inputs: [X(f([6, 40])), C(new Tensor('int64', [5n, 0n, -2n], [3, 1]), 'i'), X(f([3, 40]), 'u')], outputs: ['y'], opset: 13 }]);
  cases.push(['ScatterND elements int64', { opType: 'ScatterND', inputs: [X(i64([3, 4], 0, 9)), C(new Tensor('int64', [0n, 1n, 2n, 3n, -1n, 0n], [3, 2]), 'i'), X(i64([3], 10, 20), 'u')], outputs: ['y'], opset: 13 }]);
  for (const [dims, perm] of [[[1, 100, 64], [1, 0, 2]], [[2, 3, 4, 5], [0, 2, 1, 3]], [[2, 3, 4, 5], [3, 2, 1, 0]], [[2, 1, 4, 1], [3, 2, 0, 1]], [[7, 9], [1, 0]], [[2, 3, 40], [2, 0, 1]]]) {
    cases.push([`Transpose float [${dims}] perm ${perm}`, { opType: 'Transpose', inputs: [X(f(dims))], outputs: ['y'], attrs: { perm } }]);
    cases.push([`Transpose int64 [${dims}] perm ${perm}`, { opType: 'Transpose', inputs: [X(i64(dims, -99, 99))], outputs: ['y'], attrs: { perm } }]);
  }
  for (const [name, spec] of cases) {
    it(name, async () => {
      const res = await crossCheck(spec, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }

  it('ScatterND with constant indices gives the same as onnxruntime on every run (offsets kept between runs)', async () => {
    const spec = { opType: 'ScatterND', inputs: [X(f([5, 3, 8])), C(new Tensor('int64', [4n, 1n, 0n, 2n, -1n, 0n], [3, 2]), 'i'), X(f([3, 8]), 'u')], outputs: ['y'], opset: 13 };
    const model = singleNodeModel(spec);
    const session = InferenceSession.createSync(model);
    for (let run = 0; run < 3; run++) {
      const feeds = { x: f([5, 3, 8]), u: f([3, 8]) };
      const theirs = await runOrt(model, feeds);
      expect(compareTensors(session.runSync(feeds).y, theirs.y, OP_TOL).message ?? '').toBe('');
    }
  });

  it('chains that reuse dying inputs in place (Mul → Add → ScatterND → Sub with block broadcasts)', async () => {
    const n = (opType: string, inputs: string[], outputs: string[]): Node => ({ name: outputs[0], opType, domain: '', inputs, outputs, attributes: new Map() });
    const graph: Graph = {
      name: 'chain',
      nodes: [
        n('Mul', ['x', 'c'], ['m']), n('Add', ['bias', 'm'], ['a']), n('ScatterND', ['a', 'idx', 'u'], ['s']),
        n('ScatterND', ['s', 'idx2', 'u'], ['s2']), n('Sub', ['s2', 'row'], ['y']), n('Mul', ['y', 'y'], ['z']),
      ],
      inputs: [{ name: 'x', type: 'float32', shape: [2, 3, 4] }, { name: 'u', type: 'float32', shape: [1, 4] }],
      outputs: [{ name: 'z', type: 'float32' }, { name: 'm', type: 'float32' }],
      initializers: new Map([
        ['c', f([3, 1])], ['bias', f([2, 3, 4])], ['row', f([4])],
        ['idx', new Tensor('int64', [1n, 2n], [1, 2])], ['idx2', new Tensor('int64', [0n, 0n], [1, 2])],
      ]),
      valueInfo: new Map(),
    };
    const model: Model = { irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', 13]]), graph };
    const res = await crossCheckModel(model, { x: f([2, 3, 4]), u: f([1, 4]) }, OP_TOL);
    expect(res.messages.join('; ')).toBe('');
  });
});
