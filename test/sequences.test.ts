// Sequence values through the public API: built in code, run with runValues, and round-tripped
// through ONNX. Tensor results of sequence graphs are checked against onnxruntime-node; the
// sequence-valued results themselves are checked by the ONNX backend node tests (onnx-node.test.ts).
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import type { Graph, Model } from '../src/ir/graph.js';
import { encodeModel } from '../src/export/onnx.js';
import { RnnxError } from '../src/ir/errors.js';
import { Tensor } from '../src/ir/tensor.js';
import { TensorSequence } from '../src/ir/value.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';

const r = rng(33);
const TOL = { rtol: 1e-6, atol: 1e-7 };

function splitConcat() {
  const b = new GraphBuilder({ opset: 14 });
  const x = b.input('x', 'float32', [5, 3]);
  const [seq] = b.op('SplitToSequence', [x], { axis: 0, keepdims: 0 });
  const [n] = b.op('SequenceLength', [seq]);
  const [last] = b.op('SequenceAt', [seq, b.constant('minus1', new Tensor('int64', [-1n], []))]);
  const [rev] = b.op('ConcatFromSequence', [seq], { axis: 1, new_axis: 1 });
  b.output(n, 'n');
  b.output(last, 'last');
  b.output(rev, 'stacked');
  b.sequenceOutput(seq, 'rows', 'float32');
  return b.build();
}

/** Runs a model with tensor outputs in rnnx and onnxruntime-node and compares every output. */
async function agree(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ours = InferenceSession.createSync(model).runSync(feeds);
  const theirs = await runOrt(encodeModel(model), feeds);
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  for (const k of Object.keys(theirs)) expect(compareTensors(ours[k], theirs[k], TOL).message ?? '', k).toBe('');
  return ours;
}
const i64 = (v: number) => new Tensor('int64', [BigInt(v)], []);

describe('sequence values', () => {
  it('SequenceConstruct / SequenceInsert / SequenceErase / SequenceEmpty agree with onnxruntime-node', async () => {
    const b = new GraphBuilder({ opset: 17 });
    const a = b.input('a', 'float32', [2, 3]);
    const c = b.input('c', 'float32', [1, 3]);
    const [seq] = b.op('SequenceConstruct', [a, c, a]);
    const [ins] = b.op('SequenceInsert', [seq, c, b.constant('p1', i64(1))]);     // a c c a
    const [back] = b.op('SequenceInsert', [ins, a]);                               // a c c a a
    const [er] = b.op('SequenceErase', [back, b.constant('m2', i64(-2))]);         // a c c a
    const [er2] = b.op('SequenceErase', [er]);                                     // a c c
    const [empty] = b.op('SequenceEmpty', [], { dtype: 1 });
    const [one] = b.op('SequenceInsert', [empty, c]);
    b.output(b.op('ConcatFromSequence', [er2], { axis: 0 })[0], 'cat');
    b.output(b.op('SequenceLength', [back])[0], 'n_back');
    b.output(b.op('SequenceLength', [empty])[0], 'n_empty');
    b.output(b.op('SequenceAt', [one, b.constant('z', i64(0))])[0], 'only');
    const out = await agree(b.build(), { a: randTensor(r, [2, 3]), c: randTensor(r, [1, 3]) });
    expect(out.cat.dims).toEqual([4, 3]);
    expect(Number((out.n_back.data as BigInt64Array)[0])).toBe(5);
  });

  it('SequenceMap and Optional / OptionalHasElement / OptionalGetElement agree with onnxruntime-node', async () => {
    const body: Graph = {
      name: 'map_body',
      nodes: [{ name: 'sq', opType: 'Mul', domain: '', inputs: ['e', 'e'], outputs: ['e2'], attributes: new Map() },
        { name: 'sum', opType: 'ReduceSum', domain: '', inputs: ['e2'], outputs: ['s'], attributes: new Map([['keepdims', { type: 'int', value: 0 }]]) }],
      inputs: [{ name: 'e', type: 'float32', shape: [null] }], outputs: [{ name: 's', type: 'float32', shape: [] }],
      initializers: new Map(), valueInfo: new Map(),
    };
    const b = new GraphBuilder({ opset: 18 });
    const x = b.input('x', 'float32', [4, 3]);
    const [seq] = b.op('SplitToSequence', [x], { axis: 0, keepdims: 0 });
    const [sums] = b.op('SequenceMap', [seq], { body: { type: 'graph', value: body } });
    b.output(b.op('ConcatFromSequence', [sums], { axis: 0, new_axis: 1 })[0], 'norms2');
    const [opt] = b.op('Optional', [x]);
    b.output(b.op('OptionalHasElement', [opt])[0], 'has');
    b.output(b.op('OptionalGetElement', [opt])[0], 'got');
    const model = b.build();
    const x0 = randTensor(r, [4, 3]);
    const out = await agree(model, { x: x0 });
    expect(out.norms2.dims).toEqual([4]);
    expect(Array.from(out.has.data as Uint8Array)).toEqual([1]);
  });

  it('SplitToSequence / SequenceAt / ConcatFromSequence agree with onnxruntime-node', async () => {
    const model = splitConcat();
    const x = randTensor(r, [5, 3]);
    const ours = InferenceSession.createSync(model).runValues({ x });
    // onnxruntime-node returns tensors only, so ask it for the tensor outputs
    const tensorOnly = { ...model, graph: { ...model.graph, outputs: model.graph.outputs.filter((o) => o.kind !== 'sequence') } };
    const theirs = await runOrt(encodeModel(tensorOnly), { x });
    for (const k of ['n', 'last', 'stacked']) {
      expect(compareTensors(ours[k] as Tensor, theirs[k], TOL).message ?? '', k).toBe('');
    }
    const rows = ours.rows;
    expect(rows).toBeInstanceOf(TensorSequence);
    const items = (rows as TensorSequence).items;
    expect(items.length).toBe(5);
    for (let i = 0; i < 5; i++) {
      expect(items[i].dims).toEqual([3]);
      expect(Array.from(items[i].data as Float32Array)).toEqual(Array.from((x.data as Float32Array).subarray(i * 3, i * 3 + 3)));
    }
  });

  it('runSync refuses a sequence output and names runValues; encodeModel keeps the sequence type', () => {
    const model = splitConcat();
    const s = InferenceSession.createSync(encodeModel(model));
    expect(s.outputMetadata.find((o) => o.name === 'rows')?.kind).toBe('sequence');
    const x = randTensor(r, [5, 3]);
    expect(() => s.runSync({ x })).toThrow(RnnxError);
    expect(() => s.runSync({ x })).toThrow(/Output 'rows' is a sequence of 5 float32 tensors: use runValues/);
    expect(Object.keys(s.runSync({ x }, ['n', 'stacked']))).toEqual(['n', 'stacked']);
  });

  it('a sequence input fed as a Tensor[] or TensorSequence', () => {
    const b = new GraphBuilder({ opset: 14 });
    const seq = b.sequenceInput('parts', 'float32');
    const [y] = b.op('ConcatFromSequence', [seq], { axis: 0 });
    b.output(y, 'y');
    const s = InferenceSession.createSync(encodeModel(b.build()));
    const a = new Tensor('float32', [1, 2], [1, 2]);
    const c = new Tensor('float32', [3, 4, 5, 6], [2, 2]);
    for (const parts of [[a, c], new TensorSequence('float32', [a, c])]) {
      const out = s.runValues({ parts }).y as Tensor;
      expect(out.dims).toEqual([3, 2]);
      expect(Array.from(out.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });
});

describe('bad sequence input is a clear error naming the node', () => {
  const x = new Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
  const cases: [string, (b: GraphBuilder, a: ReturnType<GraphBuilder['input']>) => void, RegExp][] = [
    ['SequenceAt out of range', (b, a) => b.output(b.op('SequenceAt', [b.op('SplitToSequence', [a], { axis: 0 })[0], b.constant('i', i64(5))])[0], 'y'),
      /Node SequenceAt_1 \(SequenceAt\): position 5 is out of range for a sequence of 2/],
    ['SequenceInsert of another dtype', (b, a) => b.sequenceOutput(b.op('SequenceInsert', [b.op('SplitToSequence', [a], { axis: 0 })[0], b.constant('t', i64(1))])[0], 'y'),
      /\(SequenceInsert\): sequence elements must all be float32, got int64/],
    ['ConcatFromSequence of an empty sequence', (b) => b.output(b.op('ConcatFromSequence', [b.op('SequenceEmpty', [], { dtype: 1 })[0]], { axis: 0 })[0], 'y'),
      /\(ConcatFromSequence\): cannot concatenate an empty sequence/],
    ['SplitToSequence sizes that do not add up', (b, a) => b.sequenceOutput(b.op('SplitToSequence', [a, b.constant('sp', new Tensor('int64', [1n, 1n], [2]))], { axis: 1 })[0], 'y'),
      /\(SplitToSequence\): split sizes \[1,1\] do not sum to 3/],
    ['SequenceErase out of range', (b, a) => b.sequenceOutput(b.op('SequenceErase', [b.op('SplitToSequence', [a], { axis: 0 })[0], b.constant('i', i64(-9))])[0], 'y'),
      /\(SequenceErase\): position -9 is out of range for a sequence of 2/],
    ['SequenceErase of an empty sequence', (b) => b.sequenceOutput(b.op('SequenceErase', [b.op('SequenceEmpty', [], { dtype: 1 })[0]])[0], 'y'),
      /\(SequenceErase\): position -1 is out of range for a sequence of 0/],
    ['OptionalGetElement of an empty optional', (b) => b.output(b.op('OptionalGetElement', [b.op('Optional', [])[0]])[0], 'y'),
      /\(OptionalGetElement\): the optional input is empty/],
    ['SequenceLength of a tensor', (b, a) => b.output(b.op('SequenceLength', [a])[0], 'y'),
      /Node SequenceLength_0 \(SequenceLength\): input 0: expected a sequence, got float32 tensor \[2,3\]/],
  ];
  it.each(cases)('%s', (_name, build, pattern) => {
    const b = new GraphBuilder({ opset: 17 });
    build(b, b.input('x', 'float32', [2, 3]));
    const s = InferenceSession.createSync(b.build());
    let err: unknown;
    try {
      s.runValues({ x });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RnnxError);
    expect((err as Error).message).toMatch(pattern);
  });
});
