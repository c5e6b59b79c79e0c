// Executor behaviour: constant folding, in-place reuse of dying intermediates (never of feeds,
// constants, outputs or buffers another live value still views), release after last use.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';
import { encodeModel } from '../src/export/onnx.js';
import { wasmModule } from '../src/wasm/runtime.js';

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

  describe.skipIf(!wasmModule())('MatMul + bias Add epilogue', () => {
    const K = 12, N = 20;
    const W = randTensor(r, [K, N]);
    const build = (opts: { biasDims?: number[]; biasFirst?: boolean; alsoOutput?: boolean; twoReaders?: boolean; rank?: number; fedBias?: boolean } = {}) => {
      const b = new GraphBuilder();
      const x = b.input('x', 'float32', opts.rank === 1 ? ['k'] : [2, 3, K]);
      const bias = opts.fedBias ? b.input('bias', 'float32', [N]) : b.constant('bias', randTensor(r, opts.biasDims ?? [N]));
      const y = b.matmul(x, b.constant('w', W));
      b.output(opts.biasFirst ? b.add(bias, y) : b.add(y, bias), 'z');
      if (opts.alsoOutput) b.output(y, 'y');
      if (opts.twoReaders) b.output(b.relu(y), 'r');
      return b.build();
    };
    const feed = randTensor(r, [2, 3, K]);
    /** The same sum made by separate MatMul and Add sessions (no fusion possible across sessions). */
    const separate = (model: ReturnType<typeof build>, x: Tensor) => {
      const b1 = new GraphBuilder();
      b1.output(b1.matmul(b1.input('x', 'float32', [...x.dims]), b1.constant('w', W)), 'y');
      const y = InferenceSession.createSync(b1.build()).runSync({ x }).y;
      const bias = model.graph.initializers.get('bias')!;
      const b2 = new GraphBuilder();
      b2.output(b2.add(b2.input('y', 'float32', [...y.dims]), b2.constant('bias', bias)), 'z');
      return InferenceSession.createSync(b2.build()).runSync({ y }).z;
    };

    it('fuses PyTorch\'s Linear pair into one step, bit-identical to the two ops', async () => {
      for (const opts of [{}, { biasFirst: true }, { biasDims: [1, N] }, { biasDims: [1, 1, N] }]) {
        const model = build(opts);
        const s = InferenceSession.createSync(model);
        expect(s.plan.steps.map((st) => st.node.opType), JSON.stringify(opts)).toEqual(['MatMul+Add']);
        const z = s.runSync({ x: feed }).z;
        expect(z.dims).toEqual([2, 3, N]);
        expect(Array.from(z.data as Float32Array)).toEqual(Array.from(separate(model, feed).data as Float32Array));
        const theirs = await runOrt(encodeModel(model), { x: feed });
        expect(compareTensors(z, theirs.z, { rtol: 1e-5, atol: 1e-6 }).message ?? '').toBe('');
      }
    });

    it('leaves the pair alone when the product is also an output or read twice, or the bias is fed', () => {
      for (const opts of [{ alsoOutput: true }, { twoReaders: true }, { fedBias: true }]) {
        const s = InferenceSession.createSync(build(opts));
        expect(s.plan.steps.map((st) => st.node.opType), JSON.stringify(opts)).toContain('MatMul');
        expect(s.plan.steps.map((st) => st.node.opType)).not.toContain('MatMul+Add');
      }
      // a bias row that broadcasts to a higher rank than the product: not fused (its shape is the Add's)
      const s = InferenceSession.createSync(build({ biasDims: [1, 1, 1, N] }));
      expect(s.runSync({ x: feed }).z.dims).toEqual([1, 2, 3, N]);
    });

    it('falls back to the two ops where the fast path does not apply, with their messages', () => {
      const model = build({ rank: 1 });
      const s = InferenceSession.createSync(model);
      expect(s.plan.steps.map((st) => st.node.opType)).toEqual(['MatMul+Add']);
      const x1 = randTensor(r, [K]);
      const z = s.runSync({ x: x1 }).z;
      expect(z.dims).toEqual([N]);
      expect(Array.from(z.data as Float32Array)).toEqual(Array.from(separate(model, x1).data as Float32Array));
      expect(() => s.runSync({ x: randTensor(r, [K + 1]) })).toThrow(/MatMul.*inner dimensions differ/);
    });
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
