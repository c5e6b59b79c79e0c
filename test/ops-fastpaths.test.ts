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

  // Indices computed from a feed's shape (constIdx + 0, the zero taken from Shape(x)): shape-only
  // values the executor keeps between runs, so ScatterND keeps their offsets and Gather their ids.
  function shapeDerived(op: 'ScatterND' | 'Gather', idx: Tensor, attrs: Node['attributes'] = new Map()): Model {
    const n = (opType: string, inputs: string[], outputs: string[], a: Node['attributes'] = new Map()): Node => ({ name: outputs[0], opType, domain: '', inputs, outputs, attributes: a });
    const graph: Graph = {
      name: 'shape-derived',
      nodes: [
        n('Shape', ['x'], ['sh']), n('Sub', ['sh', 'sh'], ['zeros']), n('Slice', ['zeros', 'zero_i', 'one_i'], ['zero']),
        n('Add', ['cidx', 'zero'], ['idx']),
        op === 'ScatterND' ? n('ScatterND', ['x', 'idx', 'u'], ['y']) : n('Gather', ['x', 'idx'], ['y'], attrs),
      ],
      inputs: [{ name: 'x', type: 'float32' }, ...(op === 'ScatterND' ? [{ name: 'u', type: 'float32' as const }] : [])],
      outputs: [{ name: 'y', type: 'float32' }],
      initializers: new Map([['cidx', idx], ['zero_i', new Tensor('int64', [0n], [1])], ['one_i', new Tensor('int64', [1n], [1])]]),
      valueInfo: new Map(),
    };
    return { irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', 13]]), graph };
  }
  /** Element indices of x[:, a:b, :] for x of dims [2, 5, c], with some rows negative and a repeated row at the end. */
  function gridIndices(a: number, b: number, c: number): Tensor {
    const rows: bigint[] = [];
    for (let i = 0; i < 2; i++) for (let j = a; j < b; j++) for (let k = 0; k < c; k++) rows.push(BigInt(i === 1 ? i - 2 : i), BigInt(j), BigInt(k === c - 1 ? -1 : k));
    rows.push(0n, BigInt(a), 0n);
    return new Tensor('int64', rows, [rows.length / 3, 3]);
  }

  it('ScatterND with indices computed from shapes: kept offsets and merged runs match onnxruntime on every run and after a shape change', async () => {
    for (const [a, b] of [[1, 4], [0, 5], [3, 4]]) {
      const model = shapeDerived('ScatterND', gridIndices(a, b, 6));
      const session = InferenceSession.createSync(model);
      const rows = 2 * (b - a) * 6 + 1;
      for (let run = 0; run < 3; run++) {
        const feeds = { x: f([2, 5, 6]), u: f([rows]) };
        const theirs = await runOrt(model, feeds);
        expect(compareTensors(session.runSync(feeds).y, theirs.y, OP_TOL).message ?? '').toBe('');
      }
      // Another data shape: the shape arithmetic runs again, the offsets are computed for it.
      const feeds = { x: f([2, 6, 6]), u: f([rows]) };
      expect(compareTensors(session.runSync(feeds).y, (await runOrt(model, feeds)).y, OP_TOL).message ?? '').toBe('');
    }
  });

  it('Gather with indices computed from shapes (unfold along the last axis, negative indices) matches onnxruntime on every run', async () => {
    const ids = Array.from({ length: 3 * 9 }, (_, i) => BigInt((i % 9) + Math.floor(i / 9) - (i % 4 === 0 ? 11 : 0)));
    for (const axis of [-1, 1]) {
      const model = shapeDerived('Gather', new Tensor('int64', ids, [3, 9]), new Map([['axis', { type: 'int', value: axis }]]));
      const session = InferenceSession.createSync(model);
      for (let run = 0; run < 3; run++) {
        const feeds = { x: f([2, 11, 11]) };
        expect(compareTensors(session.runSync(feeds).y, (await runOrt(model, feeds)).y, OP_TOL).message ?? '').toBe('');
      }
    }
  });

  // Ops fed by an intermediate (x·1): it dies at the op, which may then write into its array; with
  // `keep` the intermediate is also a graph output, so it must come back unchanged.
  function fedByIntermediate(opType: string, x: Tensor, rest: { name: string; tensor: Tensor }[], attrs: Node['attributes'], keep: boolean, opset = 13): Model {
    const graph: Graph = {
      name: 'fed',
      nodes: [
        { name: 'mul', opType: 'Mul', domain: '', inputs: ['x', 'one'], outputs: ['t'], attributes: new Map() },
        { name: 'op', opType, domain: '', inputs: ['t', ...rest.map((q) => q.name)], outputs: ['y'], attributes: attrs },
      ],
      inputs: [{ name: 'x', type: x.type }],
      outputs: [{ name: 'y', type: x.type }, ...(keep ? [{ name: 't', type: x.type }] : [])],
      initializers: new Map([['one', new Tensor(x.type, x.type === 'int64' ? [1n] : [1], [])], ...rest.map((q) => [q.name, q.tensor] as [string, Tensor])]),
      valueInfo: new Map(),
    };
    return { irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', opset]]), graph };
  }
  const fed: [string, string, Tensor, { name: string; tensor: Tensor }[], Record<string, number | string>, number?][] = [];
  for (const op of ['Relu', 'Log', 'Sqrt', 'Exp', 'Tanh', 'Sigmoid', 'Abs', 'Neg']) {
    const pos = op === 'Log' || op === 'Sqrt';
    fed.push([op, op, randTensor(r, [2, 129, 5], 'float32', pos ? 0.01 : -3, 3), [], {}]);
  }
  fed.push(['Relu int32', 'Relu', randTensor(r, [3, 7], 'int32', -9, 9), [], {}, 14]);
  fed.push(['LeakyRelu', 'LeakyRelu', f([4, 9]), [], { alpha: 0.2 }]);
  fed.push(['Elu', 'Elu', f([4, 9]), [], { alpha: 0.7 }]);
  fed.push(['PRelu scalar slope', 'PRelu', f([1, 16, 1, 33]), [{ name: 's', tensor: f([1, 1, 1]) }], {}]);
  fed.push(['PRelu per channel', 'PRelu', f([2, 4, 3, 5]), [{ name: 's', tensor: f([4, 1, 1]) }], {}]);
  fed.push(['PRelu full slope', 'PRelu', f([3, 5]), [{ name: 's', tensor: f([3, 5]) }], {}]);
  fed.push(['PRelu last-axis slope', 'PRelu', f([3, 5]), [{ name: 's', tensor: f([5]) }], {}]);
  fed.push(['PRelu slope [3,1] (index map)', 'PRelu', f([2, 3, 5]), [{ name: 's', tensor: f([2, 1, 5]) }], {}]);
  fed.push(['Pow 2', 'Pow', f([5, 7]), [{ name: 'e', tensor: new Tensor('float32', [2], []) }], {}]);
  fed.push(['Pow 0.5', 'Pow', randTensor(r, [5, 7], 'float32', 0, 4), [{ name: 'e', tensor: new Tensor('float32', [0.5], [1]) }], {}]);
  fed.push(['Clip', 'Clip', f([5, 7]), [{ name: 'lo', tensor: new Tensor('float32', [-0.3], []) }, { name: 'hi', tensor: new Tensor('float32', [0.4], []) }], {}]);
  for (const [name, op, x, rest, attrs, opset] of fed) {
    for (const keep of [false, true]) {
      it(`${name} on a ${keep ? 'kept' : 'dying'} intermediate`, async () => {
        const attributes: Node['attributes'] = new Map(Object.entries(attrs).map(([k, v]) => [k, typeof v === 'string' ? { type: 'string', value: v } : Number.isInteger(v) && k !== 'alpha' ? { type: 'int', value: v } : { type: 'float', value: v }]));
        const res = await crossCheckModel(fedByIntermediate(op, x, rest, attributes, keep, opset), { x }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      });
    }
  }

  const pad = (v: number[]) => new Tensor('int64', v.map(BigInt), [v.length]);
  const padCases: [string, Tensor, Tensor, string, Tensor?, Tensor?, number?][] = [
    ['constant 0, last axis only (GTCRN)', f([1, 8, 1, 33]), pad([0, 0, 0, 1, 0, 0, 0, 1]), 'constant'],
    ['constant 0.5, every axis', f([2, 3, 4]), pad([1, 0, 2, 0, 2, 1]), 'constant', new Tensor('float32', [0.5], [])],
    ['constant -0', f([2, 3]), pad([1, 1, 1, 1]), 'constant', new Tensor('float32', [-0], [])],
    ['constant, negative pads crop', f([3, 6, 5]), pad([-1, 2, -2, 0, -1, 1]), 'constant', new Tensor('float32', [2], [])],
    ['constant, crop past a whole row', f([3, 4]), pad([0, -4, 0, 6]), 'constant'],
    ['reflect, last axis (Silero STFT)', f([1, 1, 1, 64]), pad([0, 0, 0, 16, 0, 0, 0, 16]), 'reflect'],
    ['reflect, two axes', f([3, 4, 5]), pad([0, 2, 3, 0, 3, 4]), 'reflect'],
    ['edge', f([2, 3, 4]), pad([1, 2, 3, 2, 1, 5]), 'edge'],
    ['edge, negative and positive', f([2, 5, 4]), pad([0, -2, 3, 0, 1, -1]), 'edge'],
    ['wrap', f([2, 3, 4]), pad([0, 2, 3, 0, 1, 2]), 'wrap', undefined, undefined, 19],
    ['int64 constant 7', i64([2, 3, 4], -50, 50), pad([1, 0, 2, 1, 1, 1]), 'constant', new Tensor('int64', [7n], [])],
    ['int64 reflect', i64([2, 3, 4], -50, 50), pad([0, 1, 2, 1, 1, 3]), 'reflect'],
    ['axes input, negative axis', f([2, 3, 4]), pad([1, 2, 3, 4]), 'constant', new Tensor('float32', [1.5], []), new Tensor('int64', [-1n, 1n], [2]), 18],
    ['1-D reflect', f([9]), pad([3, 4]), 'reflect'],
  ];
  for (const [name, x, pads, mode, value, axes, opset] of padCases) {
    it(`Pad ${name}`, async () => {
      const inputs = [X(x), C(pads, 'pads'), value ? C(value, 'v') : axes ? null : undefined, axes ? C(axes, 'axes') : undefined].filter((q) => q !== undefined);
      const res = await crossCheck({ opType: 'Pad', inputs, outputs: ['y'], attrs: { mode }, opset: opset ?? 13 }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }

  const reduceCases: [string, number[], number[], number][] = [
    ['last axis', [1, 8, 1, 33], [-1], 0], ['two trailing axes', [1, 1, 33, 16], [-2, -1], 1], ['middle axis', [1, 129, 25], [1], 1],
    ['first two axes', [3, 4, 5], [0, 1], 0], ['non-adjacent axes', [3, 4, 5, 2], [0, 2], 1], ['every axis', [3, 4, 5], [], 1],
  ];
  for (const [name, dims, axes, keepdims] of reduceCases) {
    for (const op of ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceL2']) {
      it(`${op} ${name} [${dims}] axes [${axes}]`, async () => {
        const inputs = [X(f(dims)), ...(axes.length ? [C(new Tensor('int64', axes.map(BigInt), [axes.length]), 'axes')] : [])];
        const res = await crossCheck({ opType: op, inputs, outputs: ['y'], attrs: { keepdims }, opset: 18 }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      });
    }
  }
  it('ReduceSum int32 over adjacent axes', async () => {
    const res = await crossCheck({ opType: 'ReduceSum', inputs: [X(randTensor(r, [3, 4, 5], 'int32', -99, 99)), C(new Tensor('int64', [1n, 2n], [2]), 'axes')], outputs: ['y'], opset: 13 }, OP_TOL);
    expect(res.messages.join('; ')).toBe('');
  });

  // General broadcasts (neither operand a block of the other): row plans instead of index maps.
  const general: [number[], number[]][] = [[[2, 3, 1], [1, 1, 4]], [[2, 1, 4], [2, 3, 4]], [[3, 1, 5], [1, 4, 1]], [[2, 3, 4], [2, 1, 4]], [[4, 1], [3]], [[1, 3, 1, 2], [2, 1, 5, 1]], [[2, 3, 4], [1, 3, 1]], [[0, 3], [2, 1, 3]]];
  for (const [a, b] of general) {
    for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
      it(`${op} general broadcast [${a}] [${b}]`, async () => {
        const res = await crossCheck({ opType: op, inputs: [X(f(a)), X(randTensor(r, b, 'float32', 0.5, 2), 'y')], outputs: ['z'] }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      });
    }
    it(`Less (bool out) and Max general broadcast [${a}] [${b}]`, async () => {
      for (const [op, outputTypes] of [['Less', ['bool']], ['Max', undefined]] as const) {
        const res = await crossCheck({ opType: op, inputs: [X(f(a)), X(f(b), 'y')], outputs: ['z'], ...(outputTypes ? { outputTypes: [...outputTypes] } : {}) }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      }
    });
    it(`Where general broadcast [${a}] [${b}]`, async () => {
      const res = await crossCheck({ opType: 'Where', inputs: [X(randTensor(r, b, 'bool'), 'c'), X(f(a)), X(f([a[a.length - 1]]), 'y')], outputs: ['z'], outputTypes: ['float32'] }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }
  it('Add int64 general broadcast', async () => {
    const res = await crossCheck({ opType: 'Add', inputs: [X(i64([2, 3, 1], -9, 9)), X(i64([1, 1, 4], -9, 9), 'y')], outputs: ['z'] }, OP_TOL);
    expect(res.messages.join('; ')).toBe('');
  });
  for (const keep of [false, true]) {
    it(`Mul general broadcast writing into a ${keep ? 'kept' : 'dying'} full-shaped intermediate`, async () => {
      const x = f([2, 3, 4]);
      const res = await crossCheckModel(fedByIntermediate('Mul', x, [{ name: 'b', tensor: f([2, 1, 4]) }], new Map(), keep), { x }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }
  const expands: [Tensor, number[]][] = [
    [f([3, 1]), [2, 3, 4]], [f([1, 4]), [3, 4]], [f([2, 1, 3]), [2, 5, 3]], [f([]), [2, 3]], [f([3, 1, 2]), [1, 3, 4, 2]],
    [i64([3, 1], -9, 9), [2, 3, 4]], [i64([1, 4], -9, 9), [3, 4]], [f([2, 3]), [2, 3]], [f([2, 3]), [1, 2, 3]], [f([1, 3]), [0, 3]],
  ];
  for (const [x, shape] of expands) {
    it(`Expand ${x.type} [${x.dims}] to [${shape}]`, async () => {
      const res = await crossCheck({ opType: 'Expand', inputs: [X(x), C(new Tensor('int64', shape.map(BigInt), [shape.length]), 's')], outputs: ['y'] }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }
});
