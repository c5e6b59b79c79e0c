// Executor behaviour: constant folding, in-place reuse of dying intermediates (never of feeds,
// constants, outputs or buffers another live value still views), release after last use.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';
import { encodeModel } from '../src/export/onnx.js';

const r = rng(77);

describe('executor', () => {
  it('does not overwrite a buffer that a live alias still reads, nor a feed', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4, 6]);
    const c = b.constant('c', randTensor(r, [6]));
    const rel = b.relu(b.add(x, c)); //          rel dies at the Add below…
    const alias = b.reshape(rel, [4, 6]); //      …but this Reshape views the same memory
    const y1 = b.add(rel, c);
    const y2 = b.mul(alias, b.sigmoid(y1)); //    reads the alias after the Add ran
    b.output(b.add(y2, x), 'y');
    const model = b.build();
    const feed = randTensor(r, [4, 6]);
    const before = Float32Array.from(feed.data as Float32Array);
    const ours = InferenceSession.createSync(model).runSync({ x: feed });
    expect(Array.from(feed.data as Float32Array)).toEqual(Array.from(before));
    const theirs = await runOrt(encodeModel(model), { x: feed });
    expect(compareTensors(ours.y, theirs.y, { rtol: 1e-5, atol: 1e-6 }).message ?? '').toBe('');
  });

  it('does not overwrite a feed reached through an alias (Identity) after the feed is released', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    const id = b.op1('Identity', [x]);
    b.output(b.add(id, b.constant('c', new Tensor('float32', [1, 1, 1], [3]))), 'y');
    const feed = new Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const y = InferenceSession.createSync(b.build()).runSync({ x: feed }).y;
    expect(Array.from(y.data as Float32Array)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(Array.from(feed.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('folds nodes whose inputs are all constants once, at session creation', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    const w = b.constant('w', new Tensor('float32', [1, 2, 3, 4, 5, 6], [3, 2]));
    const wt = b.transpose(w, [1, 0]); // constant: folded
    b.output(b.matmul(x, b.transpose(wt, [1, 0])), 'y');
    const s = InferenceSession.createSync(b.build());
    expect(s.plan.steps.map((st) => st.node.opType)).toEqual(['MatMul']);
    const y = s.runSync({ x: new Tensor('float32', [1, 0, 0, 0, 1, 0], [2, 3]) }).y;
    expect(Array.from(y.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('releases intermediates after their last use', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [3]);
    const a = b.relu(x);
    const t = b.tanh(a);
    b.output(b.sigmoid(t), 'y');
    const s = InferenceSession.createSync(b.build());
    expect(s.plan.steps.map((st) => st.release)).toEqual([['x'], [a.name], [t.name]]);
  });
});
