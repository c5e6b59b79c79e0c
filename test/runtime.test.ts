// The executor: subgraphs prepared once, constant folding, buffer reuse, ownership of what a run
// returns, run budgets, async runs, run options and the profiler.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import { encodeModel } from '../src/export/onnx.js';
import { RnnxError } from '../src/ir/errors.js';
import type { Attribute, Graph, Model, Node } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession, type ExecutionPlan } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';

const r = rng(7);
const TOL = { rtol: 1e-5, atol: 1e-6 };
const node = (opType: string, inputs: string[], outputs: string[], attrs: [string, Attribute][] = []): Node =>
  ({ name: `${opType}_${outputs[0]}`, opType, domain: '', inputs, outputs, attributes: new Map(attrs) });
const graph = (name: string, nodes: Node[], inputs: Graph['inputs'], outputs: string[], inits: [string, Tensor][] = []): Graph =>
  ({ name, nodes, inputs, outputs: outputs.map((o) => ({ name: o })), initializers: new Map(inits), valueInfo: new Map() });
const model = (g: Graph, opset = 17): Model => ({ irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', opset]]), graph: g });
const f32 = (data: number[], dims = [data.length]) => new Tensor('float32', Float32Array.from(data), dims);
const bool = (v: boolean) => new Tensor('bool', Uint8Array.of(v ? 1 : 0), []);
const constNode = (out: string, t: Tensor) => node('Constant', [], [out], [['value', { type: 'tensor', value: t }]]);

describe('subgraphs are prepared once', () => {
  it('binds a body\'s own initializers, folds its Constant nodes and packs its MatMul weights (Constant or outer constant)', async () => {
    const W = randTensor(r, [6, 5]), U = randTensor(r, [5, 4]), bias = randTensor(r, [4]);
    const then = graph('then', [
      constNode('Wc', W),
      node('MatMul', ['x', 'Wc'], ['xw']),
      node('MatMul', ['xw', 'U'], ['xu']), // U: an initializer of the enclosing graph
      node('Add', ['xu', 'b_body'], ['y_then']), // b_body: the branch's own initializer
    ], [], ['y_then'], [['b_body', bias]]);
    const els = graph('else', [node('Neg', ['x'], ['y_else'])], [], ['y_else']);
    const g = graph('main', [node('If', ['c'], ['y'], [['then_branch', { type: 'graph', value: then }], ['else_branch', { type: 'graph', value: els }]])],
      [{ name: 'c', type: 'bool', shape: [] }, { name: 'x', type: 'float32', shape: [3, 6] }], ['y'], [['U', U]]);
    const m = model(g, 13);
    const s = InferenceSession.createSync(m);
    const body = (s.plan.steps[0].attrs as { then: ExecutionPlan }).then;
    expect(body.steps.map((st) => st.node.opType)).toEqual(['MatMul', 'MatMul+Add']);
    for (const st of body.steps) expect(st.attrs, st.node.opType).toBeTruthy(); // packed weights
    const x = randTensor(r, [3, 6]);
    for (const c of [true, false]) {
      const ours = s.runSync({ c: bool(c), x });
      const theirs = await runOrt(encodeModel(m), { c: bool(c), x });
      expect(compareTensors(ours.y, theirs.y, TOL).message ?? '').toBe('');
    }
  });

  it('folds constant expressions of Constant nodes (no inputs) and leaves random ops alone', () => {
    const g = graph('g', [
      constNode('k', f32([1, 2, 3])),
      node('Mul', ['k', 'k'], ['k2']),
      node('Add', ['x', 'k2'], ['y']),
    ], [{ name: 'x', type: 'float32', shape: [3] }], ['y']);
    const s = InferenceSession.createSync(model(g));
    expect(s.plan.steps.map((st) => st.node.opType)).toEqual(['Add']);
    expect([...s.runSync({ x: f32([1, 1, 1]) }).y.data]).toEqual([2, 5, 10]);
  });

  it('orders a node after the producers of what its bodies read, even when the file lists it first', () => {
    const then = graph('then', [node('Neg', ['late'], ['y_then'])], [], ['y_then']);
    const g = graph('g', [
      node('If', ['c'], ['y'], [['then_branch', { type: 'graph', value: then }], ['else_branch', { type: 'graph', value: then }]]),
      node('Relu', ['x'], ['late']),
    ], [{ name: 'c', type: 'bool', shape: [] }, { name: 'x', type: 'float32', shape: [2] }], ['y']);
    expect([...InferenceSession.createSync(model(g)).runSync({ c: bool(true), x: f32([-1, 2]) }).y.data]).toEqual([-0, -2]);
  });

  it('a node that fails to fold is left to run time (a branch never taken does not break the session)', () => {
    const bad = graph('bad', [constNode('s', new Tensor('int64', BigInt64Array.of(7n), [1])), node('Reshape', ['k', 's'], ['y_bad'])], [], ['y_bad']);
    const good = graph('good', [node('Identity', ['k'], ['y_good'])], [], ['y_good']);
    const g = graph('g', [node('If', ['c'], ['y'], [['then_branch', { type: 'graph', value: bad }], ['else_branch', { type: 'graph', value: good }]])],
      [{ name: 'c', type: 'bool', shape: [] }], ['y'], [['k', f32([1, 2, 3, 4, 5, 6])]]);
    const s = InferenceSession.createSync(model(g));
    expect([...s.runSync({ c: bool(false) }).y.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => s.runSync({ c: bool(true) })).toThrow(/Reshape/);
  });
});

describe('what a run returns belongs to the caller', () => {
  it('an output that is an initializer is a copy: writing to it does not change the next run', () => {
    const g = graph('g', [node('Add', ['x', 'w'], ['y'])], [{ name: 'x', type: 'float32', shape: [2] }], ['y', 'w'], [['w', f32([10, 10])]]);
    const s = InferenceSession.createSync(model(g));
    const first = s.runSync({ x: f32([1, 1]) });
    (first.w.data as Float32Array).fill(-999);
    expect([...s.runSync({ x: f32([1, 1]) }).y.data]).toEqual([11, 11]);
  });

  it('an output that views a feed is a copy: writing to it does not change the feed', () => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [2, 3]);
    b.output(b.reshape(x, [3, 2]), 'y', 'float32');
    b.output(b.reshape(x, [6]), 'z', 'float32');
    const s = InferenceSession.createSync(b.build());
    const xt = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const out = s.runSync({ x: xt });
    (out.y.data as Float32Array).fill(0);
    expect([...xt.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...out.z.data]).toEqual([1, 2, 3, 4, 5, 6]); // two outputs never share memory either
  });

  /** Six rounds of tanh(m + m), m = v·x: m + m reads m twice, so it cannot be written in place (a
   * fresh buffer per step, m's going back to the arena); Mul and Tanh overwrite their dying inputs. */
  const chain = (dims: number[]) => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', dims);
    let v = x;
    for (let i = 0; i < 6; i++) {
      const m = b.mul(v, x);
      v = b.tanh(b.add(m, m));
    }
    b.output(v, 'y', 'float32');
    return InferenceSession.createSync(b.build());
  };

  it('reused buffers never reach outputs already handed out, and results stay identical run after run', () => {
    const s = chain([64, 64]);
    const xt = randTensor(r, [64, 64]);
    const first = s.runSync({ x: xt });
    const keep = Float32Array.from(first.y.data as Float32Array);
    for (let k = 0; k < 5; k++) {
      const again = s.runSync({ x: xt });
      expect(again.y.data).not.toBe(first.y.data);
      expect(compareTensors(again.y, first.y, { rtol: 0, atol: 0 }).ok).toBe(true);
    }
    expect(compareTensors(first.y, new Tensor('float32', keep, [64, 64]), { rtol: 0, atol: 0 }).ok).toBe(true);
    expect(s.memoryStats.reused).toBeGreaterThan(0);
  });

  it('arrays of up to 64 bytes bypass the arena (made fresh, never handed back), with the same results', () => {
    const s = chain([2, 3]);
    const xt = randTensor(r, [2, 3]);
    const first = s.runSync({ x: xt });
    for (let k = 0; k < 3; k++) {
      const again = s.runSync({ x: xt });
      expect(again.y.data).not.toBe(first.y.data);
      expect(compareTensors(again.y, first.y, { rtol: 0, atol: 0 }).ok).toBe(true);
    }
    expect(s.memoryStats.reused).toBe(0);
  });
});

describe('runs are bounded', () => {
  const loopModel = (outer: number, inner: number) => {
    // Loop(outer) { Loop(inner) { acc + 1 } }
    const one = f32([1], [1]);
    const innerBody = graph('inner', [node('Add', ['a', 'one'], ['a2']), node('Identity', ['c_in'], ['c_out'])],
      [{ name: 'i', type: 'int64', shape: [] }, { name: 'c_in', type: 'bool', shape: [] }, { name: 'a', type: 'float32', shape: [1] }], ['c_out', 'a2']);
    const outerBody = graph('outer', [
      node('Loop', ['M_in', '', 'acc'], ['acc2'], [['body', { type: 'graph', value: innerBody }]]),
      node('Identity', ['oc_in'], ['oc_out']),
    ], [{ name: 'j', type: 'int64', shape: [] }, { name: 'oc_in', type: 'bool', shape: [] }, { name: 'acc', type: 'float32', shape: [1] }], ['oc_out', 'acc2']);
    const g = graph('g', [node('Loop', ['M_out', '', 'x'], ['y'], [['body', { type: 'graph', value: outerBody }]])],
      [{ name: 'x', type: 'float32', shape: [1] }], ['y'],
      [['one', one], ['M_in', new Tensor('int64', BigInt64Array.of(BigInt(inner)), [])], ['M_out', new Tensor('int64', BigInt64Array.of(BigInt(outer)), [])]]);
    return model(g, 13);
  };

  it('nested loops share one iteration budget per run', () => {
    const m = loopModel(50, 40);
    expect([...InferenceSession.createSync(m).runSync({ x: f32([0]) }).y.data]).toEqual([2000]);
    const s = InferenceSession.createSync(m, { maxIterations: 1000 });
    expect(() => s.runSync({ x: f32([0]) })).toThrow(/more than 1000 loop iterations \(all loops together\)/);
  });

  it('run() pauses inside nested loops and resumes to the same result as runSync', async () => {
    const s = InferenceSession.createSync(loopModel(100, 100));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const out = await s.run({ x: f32([0]) });
    const ms = performance.now() - t0;
    clearInterval(timer);
    expect([...out.y.data]).toEqual([10000]);
    if (ms > 30) expect(ticks).toBeGreaterThan(0);
  });

  it('an allocation beyond the memory limit is an RnnxError naming the node', () => {
    const g = graph('g', [node('ConstantOfShape', ['shape'], ['y'])], [{ name: 'shape', type: 'int64', shape: [1] }], ['y']);
    const s = InferenceSession.createSync(model(g), { memoryLimit: 8 * 1024 * 1024 });
    expect(() => s.runSync({ shape: new Tensor('int64', BigInt64Array.of(4n << 20n), [1]) })).toThrow(RnnxError);
    expect(() => s.runSync({ shape: new Tensor('int64', BigInt64Array.of(4n << 20n), [1]) })).toThrow(/ConstantOfShape.*memory limit/);
    expect(s.runSync({ shape: new Tensor('int64', BigInt64Array.of(4n), [1]) }).y.size).toBe(4);
  });

  it('run() yields to the event loop during a long run, and an AbortSignal stops it', async () => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [256, 256]);
    let v = x;
    for (let i = 0; i < 300; i++) v = b.tanh(b.add(v, x));
    b.output(v, 'y', 'float32');
    const s = InferenceSession.createSync(b.build());
    const xt = randTensor(r, [256, 256]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const out = await s.run({ x: xt });
    const ms = performance.now() - t0;
    clearInterval(timer);
    expect(compareTensors(out.y, s.runSync({ x: xt }).y, { rtol: 0, atol: 0 }).ok).toBe(true);
    if (ms > 30) expect(ticks).toBeGreaterThan(0);
    const ac = new AbortController();
    const p = s.run({ x: xt }, { signal: ac.signal });
    ac.abort(new Error('user pressed stop'));
    await expect(p).rejects.toThrow(/aborted: user pressed stop/);
    await expect(s.run({ x: xt }, { signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
  });
});

describe('run() inside long loops', () => {
  // Loop(M) { a + 1 }: one top-level node whose whole run is its body iterations.
  const counter = () => {
    const body = graph('body', [node('Add', ['a', 'one'], ['a2']), node('Identity', ['c_in'], ['c_out'])],
      [{ name: 'i', type: 'int64', shape: [] }, { name: 'c_in', type: 'bool', shape: [] }, { name: 'a', type: 'float32', shape: [1] }], ['c_out', 'a2']);
    const g = graph('g', [node('Loop', ['M', '', 'x'], ['y'], [['body', { type: 'graph', value: body }]])],
      [{ name: 'M', type: 'int64', shape: [] }, { name: 'x', type: 'float32', shape: [1] }], ['y'], [['one', f32([1], [1])]]);
    return InferenceSession.createSync(model(g, 13));
  };
  const M = (n: number) => new Tensor('int64', BigInt64Array.of(BigInt(n)), []);

  it('yields to the event loop between iterations of one long Loop', async () => {
    const s = counter();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const out = await s.run({ M: M(5000), x: f32([0]) });
    const ms = performance.now() - t0;
    clearInterval(timer);
    expect([...out.y.data]).toEqual([5000]);
    expect([...s.runSync({ M: M(5000), x: f32([0]) }).y.data]).toEqual([5000]);
    // The run takes far more than one 4 ms slice: a 1 ms timer fires while it runs.
    if (ms > 30) expect(ticks).toBeGreaterThan(0);
  });

  it('an AbortSignal ends a long Loop with an RnnxError', async () => {
    const s = counter();
    const ac = new AbortController();
    // 5 million iterations would take many seconds; the abort ends the run at its next yield.
    const p = s.run({ M: M(5_000_000), x: f32([0]) }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user pressed stop')), 5);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RnnxError);
    expect((err as Error).message).toMatch(/aborted: user pressed stop/);
    // The session runs on after an aborted run.
    expect([...(await s.run({ M: M(3), x: f32([1]) })).y.data]).toEqual([4]);
  });
});

describe('onnxruntime-style run arguments and options', () => {
  const g = graph('g', [node('Relu', ['x'], ['y']), node('Neg', ['x'], ['z'])], [{ name: 'x', type: 'float32', shape: [2] }], ['y', 'z']);
  const s = InferenceSession.createSync(model(g));
  const x = f32([-1, 2]);

  it('takes run(feeds, options), run(feeds, fetches), run(feeds, fetches, options) with fetches as an array or an object', async () => {
    expect(Object.keys(await s.run({ x }, { logSeverityLevel: 3 }))).toEqual(['y', 'z']);
    expect(Object.keys(await s.run({ x }, { z: null }))).toEqual(['z']);
    expect(Object.keys(await s.run({ x }, ['y'], { tag: 't' }))).toEqual(['y']);
    expect(Object.keys(s.runSync({ x }, ['z']))).toEqual(['z']);
  });

  it('refuses unknown run and session options, and runs after release()', async () => {
    await expect(s.run({ x }, { nosuch: 1 } as never)).rejects.toThrow(/unknown run option 'nosuch'/);
    expect(() => InferenceSession.createSync(model(g), { theads: 2 } as never)).toThrow(/unknown session option 'theads'/);
    const t = InferenceSession.createSync(model(g));
    await t.release();
    await expect(t.run({ x })).rejects.toThrow(/released/);
  });

  it('checks outputs against the types the graph declares', () => {
    const bad = graph('g', [node('Cast', ['x'], ['y'], [['to', { type: 'int', value: 7 }]])], [{ name: 'x', type: 'float32', shape: [2] }], ['y']);
    const m = model({ ...bad, outputs: [{ name: 'y', type: 'float32' }] });
    expect(() => InferenceSession.createSync(m).runSync({ x })).toThrow(/Output 'y': the graph declares float32, the model computed int64/);
  });
});

describe('profiler', () => {
  it('reports per-node and per-op-type time, nodes inside subgraphs included, as a table and a Chrome trace', () => {
    const body = graph('body', [node('Relu', ['x'], ['r']), node('Neg', ['r'], ['yb'])], [], ['yb']);
    const g = graph('g', [node('If', ['c'], ['y'], [['then_branch', { type: 'graph', value: body }], ['else_branch', { type: 'graph', value: body }]]), node('Abs', ['y'], ['z'])],
      [{ name: 'c', type: 'bool', shape: [] }, { name: 'x', type: 'float32', shape: [2] }], ['z']);
    const s = InferenceSession.createSync(model(g), { enableProfiling: true });
    for (let i = 0; i < 3; i++) s.runSync({ c: bool(true), x: f32([1, -2]) });
    const p = s.endProfiling();
    expect(p.runs).toBe(3);
    expect(p.ops.map((o) => o.opType).sort()).toEqual(['Abs', 'If', 'Neg', 'Relu']);
    expect(p.nodes.find((n) => n.opType === 'Relu')!.name).toBe('If_y/Relu_r');
    expect(p.nodes.find((n) => n.opType === 'Relu')!.calls).toBe(3);
    expect(p.table()).toMatch(/op type\s+ms\/run/);
    expect(p.nodes.find((n) => n.opType === 'Abs')!.shapes).toBe('2');
    expect(p.nodes.find((n) => n.opType === 'If')!.shapes).toBe('scalar');
    expect(p.table()).toMatch(/Abs_z\s+Abs.*\s2$/m);
    const trace = JSON.parse(p.chromeTrace()) as { traceEvents: { ph: string; name: string; dur: number }[] };
    expect(trace.traceEvents.length).toBe(12);
    expect(trace.traceEvents.every((e) => e.ph === 'X' && e.dur >= 0)).toBe(true);
    expect(() => s.endProfiling()).toThrow(/not started/);
  });
});

describe('shape arithmetic cached by feed shapes', () => {
  it('computes Shape→Gather→Concat→Reshape chains once per feed shapes, and recomputes when shapes change', () => {
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);
    const g = graph('g', [
      node('Shape', ['x'], ['sx']),
      node('Gather', ['sx', 'zero'], ['n'], [['axis', { type: 'int', value: 0 }]]),
      node('Unsqueeze', ['n', 'ax0'], ['n1']),
      node('Concat', ['n1', 'minus1'], ['shp'], [['axis', { type: 'int', value: 0 }]]),
      node('Reshape', ['x', 'shp'], ['flat']),
      node('NonZero', ['x'], ['nz']),
      node('Shape', ['nz'], ['snz']), // data-dependent: never cached
      node('Relu', ['flat'], ['y']),
    ], [{ name: 'x', type: 'float32', shape: ['n', 'a', 'b'] }], ['y', 'shp', 'snz'],
    [['zero', new Tensor('int64', BigInt64Array.of(0n), [])], ['ax0', i64([0])], ['minus1', i64([-1])]]);
    const s = InferenceSession.createSync(model(g));
    expect(s.plan.steps.filter((st) => st.shapeOnly).map((st) => st.node.opType)).toEqual(['Shape', 'Gather', 'Unsqueeze', 'Concat']);
    const run = (x: Tensor) => s.runSync({ x });
    const a = randTensor(r, [2, 3, 4]);
    const first = run(a);
    expect(first.y.dims).toEqual([2, 12]);
    (first.shp.data as BigInt64Array).fill(99n); // the caller's copy: the cache is not touched
    for (let k = 0; k < 3; k++) {
      const x = randTensor(r, [2, 3, 4]);
      x.data[0] = 0;
      const out = run(x);
      expect(out.y.dims).toEqual([2, 12]);
      expect([...out.shp.data]).toEqual([2n, -1n]);
      expect([...out.snz.data]).toEqual([3n, BigInt([...x.data].filter((v) => v !== 0).length)]);
    }
    const other = run(randTensor(r, [5, 2, 2]));
    expect(other.y.dims).toEqual([5, 4]);
    expect([...other.shp.data]).toEqual([5n, -1n]);
  });

  it('through If(Equal(Shape(x)[d], 1), Squeeze, Identity), PyTorch\'s squeeze(d): the branch follows from the shapes', () => {
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);
    const then = graph('then', [node('Squeeze', ['x', 'ax1'], ['sq'])], [], ['sq']);
    const other = graph('else', [node('Identity', ['x'], ['id'])], [], ['id']);
    const g = graph('g', [
      node('Shape', ['x'], ['sx']),
      node('Gather', ['sx', 'one'], ['d1'], [['axis', { type: 'int', value: 0 }]]),
      node('Equal', ['d1', 'one'], ['is1']),
      node('If', ['is1'], ['y'], [['then_branch', { type: 'graph', value: then }], ['else_branch', { type: 'graph', value: other }]]),
      node('Shape', ['y'], ['sy']),
      node('Gather', ['sy', 'zero'], ['n'], [['axis', { type: 'int', value: 0 }]]),
      node('Unsqueeze', ['n', 'ax0'], ['n1']),
      node('Concat', ['n1', 'minus1'], ['shp'], [['axis', { type: 'int', value: 0 }]]),
      node('Reshape', ['y', 'shp'], ['flat']),
      node('Relu', ['flat'], ['z']),
    ], [{ name: 'x', type: 'float32', shape: ['n', 'a', 'b'] }], ['z', 'shp'],
    [['zero', new Tensor('int64', BigInt64Array.of(0n), [])], ['one', new Tensor('int64', BigInt64Array.of(1n), [])], ['ax0', i64([0])], ['ax1', i64([1])], ['minus1', i64([-1])]]);
    const s = InferenceSession.createSync(model(g));
    expect(s.plan.steps.filter((st) => st.shapeOnly).map((st) => st.node.opType)).toEqual(['Shape', 'Gather', 'Equal', 'Shape', 'Gather', 'Unsqueeze', 'Concat']);
    for (const dims of [[2, 1, 4], [2, 1, 4], [3, 2, 5], [3, 2, 5], [2, 1, 4]]) {
      const x = randTensor(r, dims);
      const out = s.runSync({ x });
      expect(out.z.dims).toEqual([dims[0], dims[1] * dims[2]]);
      expect([...out.shp.data]).toEqual([BigInt(dims[0]), -1n]);
      expect([...out.z.data]).toEqual([...x.data].map((v) => Math.max(0, v)));
    }
  });

  it('inside bodies too, keyed by the shapes of the body inputs and the enclosing values it reads', () => {
    // Loop: acc grows by one row per iteration; the body reads Shape(acc)[0] (its row count) and
    // the enclosing x's Shape, so the cached shape values must follow both.
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);
    const body = graph('body', [
      node('Shape', ['acc'], ['sa']),
      node('Gather', ['sa', 'zero'], ['rows'], [['axis', { type: 'int', value: 0 }]]),
      node('Shape', ['x'], ['sx']),
      node('Gather', ['sx', 'zero'], ['xr'], [['axis', { type: 'int', value: 0 }]]),
      node('Add', ['rows', 'xr'], ['tot']),
      node('Cast', ['tot'], ['totf'], [['to', { type: 'int', value: 1 }]]),
      node('Unsqueeze', ['totf', 'ax01'], ['row']),
      node('Concat', ['acc', 'row'], ['acc2'], [['axis', { type: 'int', value: 0 }]]),
      node('Identity', ['c_in'], ['c_out']),
    ], [{ name: 'i', type: 'int64', shape: [] }, { name: 'c_in', type: 'bool', shape: [] }, { name: 'acc', type: 'float32' }], ['c_out', 'acc2']);
    const g = graph('g', [node('Loop', ['M', '', 'acc0'], ['y'], [['body', { type: 'graph', value: body }]])],
      [{ name: 'x', type: 'float32' }, { name: 'acc0', type: 'float32', shape: [1, 1] }], ['y'],
      [['zero', new Tensor('int64', BigInt64Array.of(0n), [])], ['ax01', i64([0, 1])], ['M', new Tensor('int64', BigInt64Array.of(4n), [])]]);
    const s = InferenceSession.createSync(model(g, 13));
    const loopBody = s.plan.steps[0].attrs as ExecutionPlan;
    expect(loopBody.steps.filter((st) => st.shapeOnly).map((st) => st.node.opType)).toEqual(['Shape', 'Gather', 'Shape', 'Gather', 'Add', 'Cast', 'Unsqueeze']);
    const acc0 = f32([0], [1, 1]);
    for (const n of [3, 3, 5, 3]) {
      const y = s.runSync({ x: randTensor(r, [n, 2]), acc0 }).y;
      // row k holds (k rows so far) + n
      expect([...y.data]).toEqual([0, 1 + n, 2 + n, 3 + n, 4 + n]);
    }
  });
});
