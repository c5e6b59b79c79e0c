// Per-node plans (kept per input shape) and the float32 fast paths of Transpose, Pad and MatMul,
// against onnxruntime-node: plans reused over runs and rebuilt after a shape change, the edge
// cases of each fast path, and the types that stay on the generic path.
import { describe, expect, it } from 'vitest';
import type { Model } from '../src/ir/graph.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import { singleNodeModel, type SingleNodeSpec } from '../src/export/onnx.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { crossCheck, OP_TOL, randTensor, rng, runOrt } from './helpers.js';

const r = rng(4242);
const f = (dims: number[]) => randTensor(r, dims);
const X = (t: Tensor, name = 'x') => ({ name, tensor: t });
const C = (t: Tensor, name: string) => ({ name, tensor: t, constant: true });
const i64 = (v: number[]) => new Tensor('int64', v.map(BigInt), [v.length]);

/** The spec's model with graph inputs of unknown shape, so one session can run several shapes. */
function dynamic(spec: SingleNodeSpec): Model {
  const m = singleNodeModel(spec);
  return { ...m, graph: { ...m.graph, inputs: m.graph.inputs.map((i) => ({ name: i.name, type: i.type })) } };
}

/** Runs one session over each feed set in turn (twice each, so kept plans are used), against onnxruntime-node. */
async function sameOverRuns(model: Model, feedSets: Record<string, Tensor>[]): Promise<string> {
  const session = InferenceSession.createSync(model);
  const messages: string[] = [];
  for (const feeds of feedSets) {
    const theirs = await runOrt(model, feeds);
    for (let run = 0; run < 2; run++) {
      const ours = session.runSync(feeds);
      for (const [k, t] of Object.entries(theirs)) {
        const c = compareTensors(ours[k], t, OP_TOL);
        if (!c.ok) messages.push(`[${Object.values(feeds).map((v) => `[${v.dims}]`)}] run ${run} ${k}: ${c.message}`);
      }
    }
  }
  return messages.join('; ');
}

describe('Transpose plans and fast paths', () => {
  const cases: [number[], number[], string][] = [
    [[300, 200], [1, 0], 'float32'], // tiled (large)
    [[3, 40, 300], [0, 2, 1], 'float32'], // tiled, batched
    [[5, 7], [1, 0], 'float32'], // 4-row groups with a remainder
    [[2, 6, 3], [0, 2, 1], 'float32'], // groups shorter than 4
    [[1, 161, 10], [0, 2, 1], 'float32'],
    [[10, 2, 24], [1, 0, 2], 'float32'], // runs
    [[2, 3, 4, 5], [-1, 0, -2, 1], 'float32'], // negative perm entries
    [[0, 3, 2], [2, 0, 1], 'float32'], // empty
    [[3, 1, 1, 4], [3, 1, 2, 0], 'float32'], // size-1 axes
    [[6, 5], [1, 0], 'float16'],
    [[4, 3, 2], [2, 1, 0], 'bool'],
    [[4, 3, 2], [1, 2, 0], 'int64'],
    [[4, 3, 2], [2, 0, 1], 'float64'],
    [[4, 3, 2], [2, 0, 1], 'int32'],
  ];
  for (const [dims, perm, type] of cases) {
    it(`${type} [${dims}] perm [${perm}]`, async () => {
      const x = type === 'float32' ? f(dims) : randTensor(r, dims, type as 'float16', -50, 50);
      // onnxruntime takes only non-negative perm entries; rnnx's are normalised the same way
      const res = await crossCheck({ opType: 'Transpose', inputs: [X(x)], outputs: ['y'], attrs: { perm: perm.map((p) => (p < 0 ? p + dims.length : p)) } });
      expect(res.messages.join('; ')).toBe('');
    });
  }
  it('negative perm entries give the transpose of their positive forms', () => {
    const x = f([2, 3, 4]);
    const run = (perm: number[]) => InferenceSession.createSync(singleNodeModel({ opType: 'Transpose', inputs: [X(x)], outputs: ['y'], attrs: { perm } })).runSync({ x }).y;
    expect(compareTensors(run([-1, 0, -2]), run([2, 0, 1]), { rtol: 0, atol: 0 }).ok).toBe(true);
  });
  it('one session over several input shapes (the plan is rebuilt for each, then reused)', async () => {
    const model = dynamic({ opType: 'Transpose', inputs: [X(f([1, 161, 10]))], outputs: ['y'], attrs: { perm: [0, 2, 1] } });
    expect(await sameOverRuns(model, [{ x: f([1, 161, 10]) }, { x: f([2, 5, 7]) }, { x: f([1, 161, 10]) }, { x: f([3, 0, 2]) }])).toBe('');
  });
  it('a bad perm is a named error on every run', () => {
    const model = dynamic({ opType: 'Transpose', inputs: [X(f([2, 3]))], outputs: ['y'], attrs: { perm: [0, 0] } });
    const s = InferenceSession.createSync(model);
    for (let k = 0; k < 2; k++) expect(() => s.runSync({ x: f([2, 3]) })).toThrow(/Transpose.*not a permutation/);
  });
});

describe('Pad plans', () => {
  it('pads fed as an input that changes between runs (no stale plan)', async () => {
    const model = dynamic({ opType: 'Pad', inputs: [X(f([2, 5])), X(i64([0, 1, 0, 2]), 'pads')], outputs: ['y'], attrs: { mode: 'reflect' }, opset: 13 });
    const feeds = [
      { x: f([2, 5]), pads: i64([0, 1, 0, 2]) }, { x: f([2, 5]), pads: i64([1, 3, 0, 0]) }, { x: f([3, 6]), pads: i64([1, 3, 0, 0]) },
      { x: f([3, 6]), pads: i64([0, -2, 1, 2]) },
    ];
    expect(await sameOverRuns(model, feeds)).toBe('');
  });
  for (const mode of ['reflect', 'edge', 'constant']) {
    it(`${mode}: constant pads over several input shapes`, async () => {
      const model = dynamic({ opType: 'Pad', inputs: [X(f([1, 1, 40])), C(i64([0, 0, 8, 0, 0, 8]), 'pads')], outputs: ['y'], attrs: { mode }, opset: 13 });
      expect(await sameOverRuns(model, [{ x: f([1, 1, 40]) }, { x: f([2, 3, 9]) }, { x: f([1, 1, 40]) }])).toBe('');
    });
  }
  it('float16 and bool stay on the generic path', async () => {
    for (const type of ['float16', 'bool'] as const) {
      const res = await crossCheck({ opType: 'Pad', inputs: [X(randTensor(r, [3, 4], type)), C(i64([1, 2, 0, 1]), 'pads')], outputs: ['y'], attrs: { mode: 'edge' }, opset: 13 });
      expect(res.messages.join('; ')).toBe('');
    }
  });
});

describe('MatMul float32 paths (plain loops and the SIMD GEMM)', () => {
  const cases: [number[], number[]][] = [
    [[2, 26, 4], [2, 4, 26]], // Silero's attention products
    [[2, 26, 26], [2, 26, 26]],
    [[3, 1, 5, 7], [2, 7, 9]], // broadcast batch
    [[4, 7, 9], [9, 3]], // B shared by the batch
    [[1, 9], [2, 3, 9, 17]],
    [[2, 3], [3, 2]], // tiny: plain loops
    [[7], [7, 5]], // 1-D A
    [[5, 40], [40]], // 1-D B (N = 1)
    [[64], [64]], // dot product
    [[33, 70], [70, 31]], // N not a multiple of 8
    [[0, 6], [6, 4]], // M = 0
    [[3, 0], [0, 4]], // K = 0: zeros
    [[2, 3, 0], [2, 0, 5]],
  ];
  for (const [a, b] of cases) {
    it(`[${a}]·[${b}]`, async () => {
      const res = await crossCheck({ opType: 'MatMul', inputs: [X(f(a), 'a'), X(f(b), 'b')], outputs: ['y'] });
      expect(res.messages.join('; ')).toBe('');
    });
  }
  it('one session over several shape pairs', async () => {
    const model = dynamic({ opType: 'MatMul', inputs: [X(f([2, 26, 4]), 'a'), X(f([2, 4, 26]), 'b')], outputs: ['y'] });
    const feeds = [{ a: f([2, 26, 4]), b: f([2, 4, 26]) }, { a: f([3, 5]), b: f([5, 2]) }, { a: f([2, 26, 4]), b: f([2, 4, 26]) }, { a: f([1, 40, 30]), b: f([30, 20]) }];
    expect(await sameOverRuns(model, feeds)).toBe('');
  });
  it('float64 and int32 stay on the generic path', async () => {
    for (const type of ['float64', 'int32'] as const) {
      const res = await crossCheck({ opType: 'MatMul', inputs: [X(randTensor(r, [2, 9, 12], type, -9, 9), 'a'), X(randTensor(r, [12, 10], type, -9, 9), 'b')], outputs: ['y'] });
      expect(res.messages.join('; ')).toBe('');
    }
  });
  it('mismatched inner dimensions are a named error, also after a good run', () => {
    const model = dynamic({ opType: 'MatMul', inputs: [X(f([2, 3]), 'a'), X(f([3, 4]), 'b')], outputs: ['y'] });
    const s = InferenceSession.createSync(model);
    s.runSync({ a: f([2, 3]), b: f([3, 4]) });
    expect(() => s.runSync({ a: f([2, 3]), b: f([4, 4]) })).toThrow(/MatMul.*inner dimensions differ/);
  });
});

describe('Slice, Gather, Concat, Split, Squeeze/Unsqueeze and reductions over several shapes', () => {
  it('Slice: constant starts/ends over several input shapes, and starts fed as an input that changes', async () => {
    const constant = dynamic({ opType: 'Slice', inputs: [X(f([2, 9, 5])), C(i64([1, -4]), 's'), C(i64([8, 100]), 'e'), C(i64([1, 2]), 'a'), C(i64([2, -1]), 'st')], outputs: ['y'], opset: 13 });
    expect(await sameOverRuns(constant, [{ x: f([2, 9, 5]) }, { x: f([1, 4, 7]) }, { x: f([2, 9, 5]) }, { x: f([0, 9, 5]) }])).toBe('');
    const fed = dynamic({ opType: 'Slice', inputs: [X(f([3, 40])), X(i64([0, 5]), 's'), C(i64([2, 40]), 'e')], outputs: ['y'], opset: 13 });
    expect(await sameOverRuns(fed, [{ x: f([3, 40]), s: i64([0, 5]) }, { x: f([3, 40]), s: i64([1, 33]) }, { x: f([3, 40]), s: i64([-2, -1]) }])).toBe('');
  });
  it('Slice int64 and bool keep the generic copies', async () => {
    for (const type of ['int64', 'bool'] as const) {
      const res = await crossCheck({ opType: 'Slice', inputs: [X(randTensor(r, [4, 6, 3], type, -9, 9)), C(i64([1, 0]), 's'), C(i64([3, 5]), 'e'), C(i64([0, 1]), 'a')], outputs: ['y'], opset: 13 });
      expect(res.messages.join('; ')).toBe('');
    }
  });
  it('Gather: constant indices over several data shapes, and indices fed as an input that changes', async () => {
    const constant = dynamic({ opType: 'Gather', inputs: [X(f([3, 10, 4])), C(new Tensor('int64', [9n, -1n, 0n, 3n], [2, 2]), 'i')], outputs: ['y'], attrs: { axis: 1 } });
    expect(await sameOverRuns(constant, [{ x: f([3, 10, 4]) }, { x: f([1, 12, 1]) }, { x: f([3, 10, 4]) }, { x: f([3, 10, 0]) }])).toBe('');
    const fed = dynamic({ opType: 'Gather', inputs: [X(f([5, 40])), X(i64([4, 0]), 'i')], outputs: ['y'] });
    expect(await sameOverRuns(fed, [{ x: f([5, 40]), i: i64([4, 0]) }, { x: f([5, 40]), i: i64([-1, 2, 2]) }, { x: f([5, 3]), i: i64([1]) }])).toBe('');
  });
  it('Concat over several input shapes (float32 rows shorter and longer than 32, one outer row)', async () => {
    const model = dynamic({ opType: 'Concat', inputs: [X(f([2, 3, 4]), 'a'), X(f([2, 5, 4]), 'b')], outputs: ['y'], attrs: { axis: 1 } });
    expect(await sameOverRuns(model, [
      { a: f([2, 3, 4]), b: f([2, 5, 4]) }, { a: f([3, 1, 40]), b: f([3, 2, 40]) }, { a: f([1, 30, 4]), b: f([1, 2, 4]) }, { a: f([2, 0, 4]), b: f([2, 5, 4]) },
    ])).toBe('');
  });
  it('Concat of mismatched shapes after a good run is a named error', () => {
    const model = dynamic({ opType: 'Concat', inputs: [X(f([2, 3]), 'a'), X(f([2, 3]), 'b')], outputs: ['y'], attrs: { axis: 0 } });
    const s = InferenceSession.createSync(model);
    s.runSync({ a: f([2, 3]), b: f([2, 3]) });
    expect(() => s.runSync({ a: f([2, 3]), b: f([2, 4]) })).toThrow(/Concat.*input 1: shape \[2,4\] does not match \[2,3\] outside axis 0/);
  });
  it('Split (runs per outer index) over several shapes, float32 and int64', async () => {
    for (const type of ['float32', 'int64'] as const) {
      const model = dynamic({ opType: 'Split', inputs: [X(randTensor(r, [2, 7, 3], type, -9, 9)), C(i64([2, 5]), 'split')], outputs: ['y', 'z'], attrs: { axis: 1 }, opset: 13 });
      expect(await sameOverRuns(model, [{ x: randTensor(r, [2, 7, 3], type, -9, 9) }, { x: randTensor(r, [1, 7, 40], type, -9, 9) }])).toBe('');
    }
  });
  it('Squeeze and Unsqueeze over several shapes', async () => {
    const sq = dynamic({ opType: 'Squeeze', inputs: [X(f([1, 3, 1, 2])), C(i64([0, -2]), 'a')], outputs: ['y'], opset: 13 });
    expect(await sameOverRuns(sq, [{ x: f([1, 3, 1, 2]) }, { x: f([1, 5, 1, 1]) }, { x: f([1, 3, 1, 2]) }])).toBe('');
    const sqAll = dynamic({ opType: 'Squeeze', inputs: [X(f([1, 3, 1, 2]))], outputs: ['y'], opset: 13 });
    expect(await sameOverRuns(sqAll, [{ x: f([1, 3, 1, 2]) }, { x: f([2, 1, 4]) }])).toBe('');
    const un = dynamic({ opType: 'Unsqueeze', inputs: [X(f([3, 2])), C(i64([0, -1]), 'a')], outputs: ['y'], opset: 13 });
    expect(await sameOverRuns(un, [{ x: f([3, 2]) }, { x: f([4, 1]) }, { x: f([3, 2]) }])).toBe('');
  });
  it('Reshape: a constant shape with 0 and -1 over several input shapes, and a shape fed as an input that changes', async () => {
    const constant = dynamic({ opType: 'Reshape', inputs: [X(f([2, 3, 4])), C(i64([0, -1]), 's')], outputs: ['y'], opset: 14 });
    expect(await sameOverRuns(constant, [{ x: f([2, 3, 4]) }, { x: f([5, 2]) }, { x: f([2, 3, 4]) }, { x: f([3, 0, 2]) }])).toBe('');
    const fed = dynamic({ opType: 'Reshape', inputs: [X(f([2, 3, 4])), X(i64([4, 6]), 's')], outputs: ['y'], opset: 14 });
    expect(await sameOverRuns(fed, [{ x: f([2, 3, 4]), s: i64([4, 6]) }, { x: f([2, 3, 4]), s: i64([-1, 2]) }, { x: f([2, 3, 4]), s: i64([24]) }])).toBe('');
    const s = InferenceSession.createSync(constant);
    s.runSync({ x: f([2, 3, 4]) });
    expect(() => s.runSync({ x: f([2, 3, 5]) })).not.toThrow();
    const bad = InferenceSession.createSync(dynamic({ opType: 'Reshape', inputs: [X(f([2, 3])), C(i64([4, -1]), 's')], outputs: ['y'], opset: 14 }));
    bad.runSync({ x: f([2, 4]) });
    expect(() => bad.runSync({ x: f([2, 3]) })).toThrow(/Reshape.*cannot reshape \[2,3\]/);
  });
  it('Squeeze of a non-1 axis after a good run is a named error', () => {
    const s = InferenceSession.createSync(dynamic({ opType: 'Squeeze', inputs: [X(f([1, 3])), C(i64([0]), 'a')], outputs: ['y'], opset: 13 }));
    s.runSync({ x: f([1, 3]) });
    expect(() => s.runSync({ x: f([2, 3]) })).toThrow(/Squeeze.*cannot squeeze axis 0 of size 2/);
  });
  for (const op of ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceLogSumExp']) {
    it(`${op}: middle, last and non-adjacent axes over several shapes, axes fed as an input that changes`, async () => {
      for (const axes of [[1], [-1], [0, 2], [1, 2]]) {
        const model = dynamic({ opType: op, inputs: [X(f([2, 161, 26])), C(i64(axes), 'a')], outputs: ['y'], attrs: { keepdims: 1 }, opset: 18 });
        expect(await sameOverRuns(model, [{ x: f([2, 161, 26]) }, { x: f([3, 1, 5]) }, { x: f([2, 161, 26]) }])).toBe('');
      }
      const fed = dynamic({ opType: op, inputs: [X(f([4, 6, 5])), X(i64([1]), 'a')], outputs: ['y'], attrs: { keepdims: 0 }, opset: 18 });
      expect(await sameOverRuns(fed, [{ x: f([4, 6, 5]), a: i64([1]) }, { x: f([4, 6, 5]), a: i64([0, 2]) }, { x: f([4, 6, 5]), a: i64([-1]) }])).toBe('');
    });
  }
  it('ReduceMean int32 and float64 keep the generic loops', async () => {
    for (const type of ['int32', 'float64'] as const) {
      const res = await crossCheck({ opType: 'ReduceSum', inputs: [X(randTensor(r, [3, 4, 5], type, -9, 9)), C(i64([1]), 'a')], outputs: ['y'], opset: 13 });
      expect(res.messages.join('; ')).toBe('');
    }
  });
});

describe('Cast between number types and int64 (typed-array conversions)', () => {
  const types = ['float32', 'float64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'bool', 'int64'] as const;
  for (const from of types) {
    it(`from ${from} to every other type, in range (against onnxruntime-node)`, async () => {
      const lo = from.startsWith('u') || from === 'bool' ? 0 : -100, hi = from === 'bool' ? 1 : 100;
      const x = randTensor(r, [3, 7], from, lo, hi);
      for (const to of types) {
        if (to === from) continue;
        const onnxTo = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float64: 11, uint32: 12 }[to];
        const res = await crossCheck({ opType: 'Cast', inputs: [X(x)], outputs: ['y'], outputTypes: [to], attrs: { to: onnxTo }, opset: 13 });
        expect(res.messages.join('; '), `${from} -> ${to}`).toBe('');
      }
    });
  }
  it('out-of-range values truncate toward zero and wrap to the width, as the element loop did', () => {
    const vals = [-3.7, 2.9, 2 ** 31 + 5.5, -(2 ** 33) - 1, 2 ** 53, -(2 ** 60), 2 ** 64 + 2 ** 40, 1e30, NaN, Infinity, -Infinity, -0.5, 0.5, 300, -129];
    const x = new Tensor('float64', vals, [vals.length]);
    const NAMES: Record<number, DataType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };
    const cast = (t: Tensor, to: number) => InferenceSession.createSync(singleNodeModel({ opType: 'Cast', inputs: [X(t)], outputs: ['y'], outputTypes: [NAMES[to]], attrs: { to }, opset: 13 })).runSync({ x: t }).y;
    const run = (to: number) => cast(x, to);
    const big = (v: number) => (Number.isFinite(v) ? BigInt.asIntN(64, BigInt(Math.trunc(v))) : 0n);
    expect([...(run(7).data as BigInt64Array)]).toEqual(vals.map(big));
    expect([...(run(6).data as Int32Array)]).toEqual(vals.map((v) => (Number.isFinite(v) ? Number(BigInt.asIntN(32, big(v))) : 0)));
    expect([...(run(2).data as Uint8Array)]).toEqual(vals.map((v) => (Number.isFinite(v) ? Number(BigInt.asUintN(8, big(v))) : 0)));
    expect([...(run(9).data as Uint8Array)]).toEqual(vals.map((v) => (v !== 0 ? 1 : 0)));
    const back = new Tensor('int64', [-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n + 1n, 4294967295n, -4294967296n, 7n, 0n, 123456789012345n], [9]);
    const from64 = (to: number) => cast(back, to);
    const b = [...(back.data as BigInt64Array)];
    expect([...(from64(11).data as Float64Array)]).toEqual(b.map((v) => Number(v)));
    expect([...(from64(1).data as Float32Array)]).toEqual(b.map((v) => Math.fround(Number(v))));
    expect([...(from64(6).data as Int32Array)]).toEqual(b.map((v) => Number(BigInt.asIntN(32, v))));
    expect([...(from64(3).data as Int8Array)]).toEqual(b.map((v) => Number(BigInt.asIntN(8, v))));
    expect([...(from64(9).data as Uint8Array)]).toEqual(b.map((v) => (v !== 0n ? 1 : 0)));
  });
});
