import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import type { Dim } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { GRU } from '../src/nn/modules.js';
import { BATCH_TOL } from '../src/runtime/batcher.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng } from './helpers.js';
import { chunks } from './stream-helpers.js';

const VAD = path.resolve('node_modules/@ricky0123/vad-web/dist');
const sr16k = new Tensor('int64', BigInt64Array.from([16000n]), []);
const TOL = { atol: BATCH_TOL.atol, rtol: BATCH_TOL.rtol };

/** GRU I=3 H=4 over [T, N, 3] with h0 [1, N, 4] → y, hn; `batch` is the declared N. */
function gruModel(batch: Dim, mix = false): InferenceSession {
  const b = new GraphBuilder({ opset: 14 });
  let x = b.input('x', 'float32', [2, batch, 3]);
  const h0 = b.input('h0', 'float32', [1, batch, 4]);
  if (mix) x = b.sub(x, b.op('ReduceMean', [x], { axes: [1], keepdims: 1 })[0]); // mixes the batch rows
  const { y, hn } = new GRU({ inputSize: 3, hiddenSize: 4 }).forward(b, x, { h0 });
  b.output(y, 'y', 'float32', [2, batch, 1, 4]);
  b.output(hn, 'hn', 'float32', [1, batch, 4]);
  return InferenceSession.createSync(b.build());
}

describe('createStreamBatcher', () => {
  it('Silero VAD v5: streams joining and leaving at any time get what they get alone; chunks are batched', async () => {
    const s = await InferenceSession.create(path.join(VAD, 'silero_vad_v5.onnx'));
    const batcher = s.createStreamBatcher({ constants: { sr: sr16k }, maxWaitMs: 1 });
    expect(batcher.mode).toBe('batched');
    expect([...batcher.axes].sort()).toEqual([['input', 0], ['state', 1]]);
    const plan = [{ start: 0, n: 12 }, { start: 0, n: 5 }, { start: 3, n: 9 }, { start: 6, n: 6 }, { start: 1, n: 11 }, { start: 8, n: 4 }];
    const data = plan.map((p, k) => chunks(p.n, 100 + k));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const got = await Promise.all(plan.map(async (p, k) => {
      await sleep(p.start * 3);
      const st = batcher.stream(`user${k}`);
      const out: Tensor[] = [];
      for (const input of data[k]) out.push((await st.run({ input })).output);
      st.close();
      return out;
    }));
    expect(batcher.size).toBe(0);
    expect(batcher.runs).toBeLessThan(batcher.chunks); // several chunks per run
    for (let k = 0; k < plan.length; k++) {
      const alone = s.createStream({ constants: { sr: sr16k } });
      data[k].forEach((input, t) => {
        expect(compareTensors(got[k][t], alone.runSync({ input }).output, TOL).message ?? '', `stream ${k} chunk ${t}`).toBe('');
      });
    }
  });

  it('maxBatch bounds a run; states follow each stream; a bad chunk fails only its own stream', async () => {
    const s = gruModel('N');
    const batcher = s.createStreamBatcher({ maxBatch: 4, maxWaitMs: 50 });
    expect([...batcher.axes].sort()).toEqual([['h0', 1], ['x', 1]]);
    const r = rng(3);
    const xs = Array.from({ length: 6 }, () => Array.from({ length: 3 }, () => randTensor(r, [2, 1, 3])));
    const run = (k: number, t: number) => batcher.stream(`s${k}`).run({ x: xs[k][t] });
    const first = await Promise.all(xs.map((_, k) => run(k, 0)));
    expect(batcher.runs).toBe(2); // 6 chunks with maxBatch 4: one run of 4, one of 2
    const bad = batcher.stream('s5').run({ x: randTensor(r, [2, 1, 5]) });
    const second = await Promise.all([...xs.slice(0, 5).map((_, k) => run(k, 1)), bad.catch((e: Error) => e)]);
    expect(String(second[5])).toMatch(/RnnxError/);
    for (let k = 0; k < 5; k++) {
      const alone = s.createStream();
      for (const [t, out] of [first[k], second[k] as Record<string, Tensor>].entries()) {
        const want = alone.runSync({ x: xs[k][t] });
        expect(compareTensors(out.y, want.y, TOL).message ?? '').toBe('');
      }
      expect(compareTensors(batcher.stream(`s${k}`).state.h0, alone.state.h0, TOL).message ?? '').toBe('');
    }
  });

  it('states stay in the batched run\'s outputs between runs: same streams, other orders, subsets, reads and closes all match streams run alone', async () => {
    const s = gruModel('N');
    const batcher = s.createStreamBatcher({ maxBatch: 8, maxWaitMs: 20 });
    const r = rng(11);
    const alone = Array.from({ length: 8 }, () => s.createStream());
    const check = async (ks: number[]) => {
      const xs = ks.map(() => randTensor(r, [2, 1, 3]));
      const runs0 = batcher.runs;
      const outs = await Promise.all(ks.map((k, i) => batcher.stream(`s${k}`).run({ x: xs[i] })));
      expect(batcher.runs).toBe(runs0 + 1); // one batched run
      ks.forEach((k, i) => expect(compareTensors(outs[i].y, alone[k].runSync({ x: xs[i] }).y, TOL).message ?? '', `s${k}`).toBe(''));
    };
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    await check(all);
    await check(all); // the same streams in the same order: the last run's state output fed back as it is
    await check([7, 6, 5, 4, 3, 2, 1, 0]); // reordered: rows gathered
    await check([0, 1, 2, 3, 4, 5]); // s6 and s7 are left with 2 of 8 rows: copied out, the block freed
    expect(batcher.stream('s6').block).toBeNull();
    expect(batcher.stream('s0').block).not.toBeNull();
    expect(compareTensors(batcher.stream('s3').state.h0, alone[3].state.h0, TOL).message ?? '').toBe(''); // a read copies s3 out
    expect(batcher.stream('s3').block).toBeNull();
    const saved = batcher.stream('s1').saveState();
    const s2 = batcher.stream('s2');
    s2.close();
    expect(batcher.has('s2')).toBe(false);
    expect(compareTensors(s2.state.h0, alone[2].state.h0, TOL).message ?? '').toBe(''); // a closed stream keeps its states
    await check([1, 3, 5, 7, 0, 4, 6]);
    batcher.stream('s0').loadState(saved);
    alone[0].loadState(saved);
    await check([0, 1, 3, 4, 5, 6, 7]);
    for (const k of [0, 1, 3, 4, 5, 6, 7]) expect(compareTensors(batcher.stream(`s${k}`).state.h0, alone[k].state.h0, TOL).message ?? '', `s${k}`).toBe('');
  });

  it('new streams share the initial state until they run; reset returns to it; the given initialState is copied once', async () => {
    const s = gruModel('N');
    const r = rng(13);
    const init = randTensor(r, [1, 1, 4]);
    const want = Float32Array.from(init.data as Float32Array);
    const batcher = s.createStreamBatcher({ maxBatch: 4, maxWaitMs: 20, initialState: { h0: init } });
    (init.data as Float32Array).fill(7); // the caller's tensor changes after creation: the streams keep the value given
    const alone = s.createStream({ initialState: { h0: new Tensor('float32', want, [1, 1, 4]) } });
    const xs = Array.from({ length: 3 }, () => randTensor(r, [2, 1, 3]));
    const outs = await Promise.all([0, 1, 2].map((k) => batcher.stream(`s${k}`).run({ x: xs[k] })));
    for (let k = 0; k < 3; k++) {
      alone.reset();
      expect(compareTensors(outs[k].y, alone.runSync({ x: xs[k] }).y, TOL).message ?? '', `s${k}`).toBe('');
    }
    const st = batcher.stream('s0');
    st.state.h0.data.fill(9); // a read gives the stream's own copy
    st.reset();
    expect(Array.from(st.state.h0.data as Float32Array)).toEqual(Array.from(want));
    expect(Array.from(batcher.stream('fresh').state.h0.data as Float32Array)).toEqual(Array.from(want));
  });

  it('a model whose batch is fixed at 1 is refused at creation, or run stream by stream with fallback: sequential', async () => {
    const s = gruModel(1);
    expect(() => s.createStreamBatcher()).toThrow(/fixed batch of 1.*fallback: 'sequential'/);
    const batcher = s.createStreamBatcher({ fallback: 'sequential' });
    expect(batcher.mode).toBe('sequential');
    expect(batcher.reason).toMatch(/fixed batch of 1/);
    const r = rng(5);
    const xs = Array.from({ length: 3 }, () => randTensor(r, [2, 1, 3]));
    const outs = await Promise.all(xs.map((x, k) => batcher.stream(`s${k}`).run({ x })));
    expect(batcher.runs).toBe(3);
    xs.forEach((x, k) => expect(compareTensors(outs[k].y, s.createStream().runSync({ x }).y, { atol: 0, rtol: 0 }).message ?? '').toBe(''));
  });

  it('a graph that mixes batch rows is refused by the probe, never answered wrong', async () => {
    const s = gruModel('N', true);
    const r = rng(9);
    const xs = Array.from({ length: 3 }, () => randTensor(r, [2, 1, 3]));
    const batcher = s.createStreamBatcher({ maxWaitMs: 20 });
    const outs = await Promise.all(xs.map((x, k) => batcher.stream(`s${k}`).run({ x }).catch((e: Error) => e)));
    for (const o of outs) expect(String(o)).toMatch(/mixes batch rows/);
    const seq = s.createStreamBatcher({ maxWaitMs: 20, fallback: 'sequential' });
    const ok = await Promise.all(xs.map((x, k) => seq.stream(`s${k}`).run({ x })));
    expect(seq.mode).toBe('sequential');
    xs.forEach((x, k) => expect(compareTensors(ok[k].y, s.createStream().runSync({ x }).y, { atol: 0, rtol: 0 }).message ?? '').toBe(''));
  });
});
