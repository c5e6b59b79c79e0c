// Per-node plans (kept per input shape) and the float32 fast paths of Transpose, Pad and MatMul,
// against onnxruntime-node: plans reused over runs and rebuilt after a shape change, the edge
// cases of each fast path, and the types that stay on the generic path.
import { describe, expect, it } from 'vitest';
import type { Model } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
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
