// Triage of the differential fuzzer's disagreements with onnxruntime (issue 15), one regression
// test per case, and NaN/Inf semantics of the activations against onnxruntime and the ONNX
// definitions (onnxruntime's own float64 run of recurrent ops expanded into primitive ops).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel, singleNodeModel } from '../src/export/onnx.js';
import { runDifferential, runRnnx as fuzzRun } from '../src/fuzz/campaign.js';
import { widenModel } from '../src/fuzz/widen.js';
import { loadModel } from '../src/import/model.js';
import { onnx } from '../src/import/proto.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { refRecurrent } from './rec-reference.js';
import { rng, runOrt, runRnnx } from './helpers.js';

const fixtures = path.join(import.meta.dirname, 'fixtures');
const DIFF = { rtol: 1e-3, atol: 1e-4 };
const f32 = (v: number[], dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);

/** onnxruntime's float64 run of the model (recurrent nodes expanded into Loops of primitive ops). */
async function ort64(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await ort.InferenceSession.create(widenModel(bytes), { intraOpNumThreads: 1 });
  const out = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.type === 'float32'
    ? new ort.Tensor('float64', Float64Array.from(t.data as Float32Array), t.dims) : new ort.Tensor(t.type as never, t.data as never, t.dims)])));
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new Tensor('float32', Float32Array.from(t.data as Float64Array), t.dims)]));
}

function withTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-diff-test-'));
  return f(dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

describe('differential triage', () => {
  it('an unrolled nn.RNN whose zero state has another batch size than x is not fused (fuzz seed 3 #9929: was [4,1,8], not [4,2,8])', async () => {
    // dyn_rnn_relu_unrolled with x declared [4, 1, 5]: the constant zero state [1, 2, 8] broadcasts
    // every step to batch 2; the RNN stack would have used x's batch of 1.
    const m = onnx.ModelProto.decode(fs.readFileSync(path.join(fixtures, 'dyn_rnn_relu_unrolled', 'model.onnx')));
    const x = m.graph!.input!.find((i) => i.name === 'x')!;
    x.type!.tensorType!.shape!.dim![1] = { dimValue: 1 };
    const bytes = onnx.ModelProto.encode(m).finish();
    const r = rng(5);
    const feeds = { x: f32(Array.from({ length: 20 }, () => 2 * r() - 1), [4, 1, 5]) };
    const theirs = await runOrt(bytes, feeds);
    expect(theirs.y.dims).toEqual([4, 2, 8]);
    for (const fuse of [true, false]) {
      const ours = InferenceSession.createSync(bytes, { fuse }).runSync(feeds);
      for (const k of Object.keys(theirs)) expect(compareTensors(ours[k], theirs[k], { rtol: 1e-5, atol: 1e-6 }).message ?? '', `${k} fuse=${fuse}`).toBe('');
    }
    // the fixture as exported (batch 2 everywhere) is still one RNN stack
    expect(loadModel(path.join(fixtures, 'dyn_rnn_relu_unrolled', 'model.onnx')).graph.nodes.map((n) => n.opType)).toEqual(['RNN']);
  });

  it('a GRU with a huge initial state: rnnx matches the float64 definition, onnxruntime\'s float32 GRU does not (seed 3 #10768, #24868)', async () => {
    // z = σ(R_z·h0) with pre-activations from -10 to -30 and h0 = -3.3e7: z·h0 needs σ to relative
    // precision. onnxruntime's GRU sigmoid is 0 below -18 (exact: 1.5e-8, so z·h0 = -0.5).
    // H = 4: the SIMD path (its sigmoid was 0.5 + 0.5·tanh(x/2): 0 below -18, like onnxruntime's)
    const H = 4, h0 = -3.3e7, pre = [-10, -15, -18, -30];
    const R = new Array(3 * H * H).fill(0);
    pre.forEach((p, j) => { R[j * H + j] = p / h0; });
    const spec = {
      opType: 'GRU', outputs: ['y'], attrs: { hidden_size: H, linear_before_reset: 1 },
      inputs: [
        { name: 'x', tensor: f32([0], [1, 1, 1]) }, { name: 'W', tensor: f32(new Array(3 * H).fill(0), [1, 3 * H, 1]), constant: true },
        { name: 'R', tensor: f32(R, [1, 3 * H, H]), constant: true }, null, null,
        { name: 'h0', tensor: f32(new Array(H).fill(h0), [1, 1, H]), constant: true },
      ],
    } as const;
    const model = singleNodeModel(spec);
    const feeds = { x: spec.inputs[0].tensor };
    const ours = runRnnx(model, feeds).y;
    const r = refRecurrent('GRU', { hidden_size: H, linear_before_reset: 1 }, feeds.x, spec.inputs[1].tensor, spec.inputs[2].tensor, undefined, undefined, spec.inputs[5].tensor);
    const ref = f32(r.Y, r.yDims);
    expect(compareTensors(ours, ref, { rtol: 1e-6, atol: 1e-6 }).message ?? '').toBe('');
    const bytes = encodeModel(model);
    expect(compareTensors((await runOrt(bytes, feeds)).y, ref, DIFF).ok).toBe(false); // onnxruntime's float32 GRU
    expect(compareTensors((await ort64(bytes, feeds)).y, ref, { rtol: 1e-6, atol: 1e-6 }).message ?? '').toBe('');
    // the differential mode says whose number is off, and why
    await withTemp(async (dir) => {
      const file = path.join(dir, 'model.onnx');
      fs.writeFileSync(file, bytes);
      const r = fuzzRun(file);
      const d = await runDifferential(file, r.feeds!, r.outputs!);
      expect(d.outcome).toBe('diff-ort-float32');
      expect(d.detail).toMatch(/float64 run of the ONNX definitions agrees with rnnx; its float32 kernels are inexact/);
    });
  });

  it('the SIMD recurrent kernels\' sigmoid is relatively precise, and exact at ±Inf; NaN stays NaN', () => {
    // LSTM with H = 4 takes the WebAssembly path. With W = 1, R = 0 and a zero state, one step gives
    // c = σ(x)·tanh(x) and h = σ(x)·tanh(c): σ's small values show up relatively in h and c.
    const H = 4, sig = (v: number) => 1 / (1 + Math.exp(-v));
    for (const v of [-87, -40, -18, -15, -3, 0.5, 20, Infinity, -Infinity, NaN]) {
      const x = f32([v], [1, 1, 1]);
      const spec = {
        opType: 'LSTM', outputs: ['y', '', 'c'], attrs: { hidden_size: H },
        inputs: [{ name: 'x', tensor: x }, { name: 'W', tensor: f32(new Array(4 * H).fill(1), [1, 4 * H, 1]), constant: true },
          { name: 'R', tensor: f32(new Array(4 * H * H).fill(0), [1, 4 * H, H]), constant: true }],
        outputTypes: ['float32', 'float32', 'float32'],
      } as const;
      const out = runRnnx(singleNodeModel(spec), { x });
      const c = sig(v) * Math.tanh(v), h = sig(v) * Math.tanh(c);
      for (const [k, want] of [['y', h], ['c', c]] as const) {
        const got = (out[k].data as Float32Array)[0];
        if (Number.isNaN(v)) expect(got, `x=${v} ${k}`).toBeNaN();
        else expect(Math.abs(got - want), `x=${v} ${k}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-44);
      }
    }
  });

  it('the float64 expansion of LSTM/GRU/RNN agrees with rnnx and onnxruntime on the recurrent fixtures', async () => {
    const names = ['lstm_l2_bi_bf_state', 'gru_l1_bf_state', 'gru_l2_dropout', 'rnn_relu_l2_bi_bf_state', 'rnn_l3_bi', 'lstmp_steps', 'dyn_gru_l2_bi_bf', 'dyn_lstm_l3_bi_dyn', 'lm_embed_lstm_linear']
      .filter((n) => fs.existsSync(path.join(fixtures, n, 'model.onnx')));
    expect(names.length).toBeGreaterThanOrEqual(8);
    for (const name of names) {
      const file = path.join(fixtures, name, 'model.onnx');
      const r = fuzzRun(file);
      expect(r.result.outcome, name).toBe('ok');
      const wide = await ort64(new Uint8Array(fs.readFileSync(file)), r.feeds!);
      for (const [k, t] of Object.entries(r.outputs!)) expect(compareTensors(t, wide[k], DIFF).message ?? '', `${name} ${k}`).toBe('');
    }
  }, 60_000);
});

describe('fuzz findings', () => {
  it('Split with num_outputs 2^31 − 1 is a named error, not a V8 heap abort (30-minute run, seed 20261128 #78931)', () => {
    const x = f32([1, 2, 3, 4], [4]);
    const model = singleNodeModel({ opType: 'Split', inputs: [{ name: 'x', tensor: x }], outputs: ['a', 'b'], attrs: { num_outputs: 2 ** 31 - 1 }, opset: 18 });
    expect(() => runRnnx(model, { x })).toThrow(/num_outputs 2147483647 but the node has 2 outputs/);
    const ok = singleNodeModel({ opType: 'Split', inputs: [{ name: 'x', tensor: x }], outputs: ['a', 'b'], attrs: { num_outputs: 2 }, opset: 18 });
    expect(Array.from(runRnnx(ok, { x }).b.data as Float32Array)).toEqual([3, 4]);
  });
});

describe('NaN and ±Inf through activations', () => {
  const specials = [NaN, Infinity, -Infinity, -100, 100, 0, -30, 30];

  it.each(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'HardSigmoid', 'Softsign', 'Softplus', 'Abs', 'Neg', 'Exp', 'Sqrt', 'Sign', 'Floor', 'Celu', 'HardSwish', 'Erf'])('%s agrees with onnxruntime on NaN, ±Inf and saturating inputs (scalar and long inputs)', async (op) => {
    for (const n of [8, 1031]) {
      const x = f32(Array.from({ length: n }, (_, i) => specials[i % specials.length]), [n]);
      const model = singleNodeModel({ opType: op, inputs: [{ name: 'x', tensor: x }], outputs: ['y'], opset: op === 'Celu' || op === 'HardSwish' ? 14 : 13 });
      const ours = runRnnx(model, { x }).y, theirs = (await runOrt(model, { x })).y;
      const a = ours.data as Float32Array, b = theirs.data as Float32Array;
      for (let i = 0; i < n; i++) expect(Number.isNaN(a[i]), `${op}(${x.data[i]})`).toBe(Number.isNaN(b[i]));
      expect(compareTensors(ours, theirs, { rtol: 1e-5, atol: 1e-6 }).message ?? '', op).toBe('');
    }
  });

  it('Relu keeps NaN (it is max(0, x)), in the op and as a recurrent activation', async () => {
    const x = f32([NaN, -1, 2], [3]);
    expect(Array.from(runRnnx(singleNodeModel({ opType: 'Relu', inputs: [{ name: 'x', tensor: x }], outputs: ['y'] }), { x }).y.data as Float32Array)).toEqual([NaN, 0, 2]);
    // RNN with Relu, H = 1 and 4 (the reference kernels and the SIMD path): a NaN input stays NaN
    for (const H of [1, 4]) {
      const r = rng(H);
      const spec = {
        opType: 'RNN', outputs: ['y'], attrs: { hidden_size: H, activations: ['Relu'] },
        inputs: [
          { name: 'x', tensor: f32([NaN, 0.5, 1, -0.5], [2, 1, 2]) },
          { name: 'W', tensor: f32(Array.from({ length: H * 2 }, () => 2 * r() - 1), [1, H, 2]), constant: true },
          { name: 'R', tensor: f32(Array.from({ length: H * H }, () => 2 * r() - 1), [1, H, H]), constant: true },
        ],
      } as const;
      const model = singleNodeModel(spec);
      const y = runRnnx(model, { x: spec.inputs[0].tensor }).y.data as Float32Array;
      expect(Array.from(y).every(Number.isNaN), `H=${H}`).toBe(true);
      const ref = await ort64(encodeModel(model), { x: spec.inputs[0].tensor });
      expect(compareTensors(runRnnx(model, { x: spec.inputs[0].tensor }).y, ref.y, DIFF).message ?? '').toBe('');
    }
  });

  it('Conv followed by Relu (fused in WebAssembly) keeps NaN like Relu alone and onnxruntime', async () => {
    const T = onnx.TensorProto.DataType.FLOAT;
    const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: T, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const r = rng(9);
    const m = onnx.ModelProto.encode({
      irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g', input: [vi('x', [1, 2, 8, 8])], output: [vi('y', [1, 4, 8, 8])],
        initializer: [{ name: 'w', dataType: T, dims: [4, 2, 3, 3], floatData: Array.from({ length: 72 }, () => 2 * r() - 1) }],
        node: [{ opType: 'Conv', input: ['x', 'w'], output: ['c'], attribute: [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }] },
          { opType: 'Relu', input: ['c'], output: ['y'] }],
      },
    }).finish();
    const x = f32(Array.from({ length: 128 }, (_, i) => (i === 27 ? NaN : i === 90 ? Infinity : 2 * r() - 1)), [1, 2, 8, 8]);
    const ours = runRnnx(m, { x }).y, theirs = (await runOrt(m, { x })).y;
    expect((ours.data as Float32Array).some(Number.isNaN)).toBe(true);
    expect(compareTensors(ours, theirs, { rtol: 1e-5, atol: 1e-5 }).message ?? '').toBe('');
  });

  it('recurrent ops on ±Inf and NaN inputs follow the ONNX definitions (sigmoid/tanh saturate to exact 0, ±1)', async () => {
    // onnxruntime's float32 LSTM/GRU clip pre-activations to ±FLT_MAX and turn NaN into a bound, so
    // the oracle is its float64 run of the definitions; on ±Inf both engines agree.
    for (const mode of ['LSTM', 'GRU', 'RNN'] as const) for (const H of [1, 4]) for (const v of [Infinity, -Infinity, NaN, 1e30]) {
      const G = { LSTM: 4, GRU: 3, RNN: 1 }[mode], r = rng(G * 10 + H);
      const rand = (n: number) => Array.from({ length: n }, () => 2 * r() - 1);
      const x = f32([v, ...rand(11)], [3, 2, 2]);
      const spec = {
        opType: mode, outputs: ['y', 'yh'], attrs: { hidden_size: H, ...(mode === 'GRU' ? { linear_before_reset: 1 } : {}) },
        inputs: [
          { name: 'x', tensor: x }, { name: 'W', tensor: f32(rand(G * H * 2), [1, G * H, 2]), constant: true },
          { name: 'R', tensor: f32(rand(G * H * H), [1, G * H, H]), constant: true }, { name: 'B', tensor: f32(rand(2 * G * H), [1, 2 * G * H]), constant: true },
        ],
      } as const;
      const model = singleNodeModel(spec);
      const ours = runRnnx(model, { x }), ref = await ort64(encodeModel(model), { x });
      for (const k of ['y', 'yh']) expect(compareTensors(ours[k], ref[k], DIFF).message ?? '', `${mode} H=${H} x=${v} ${k}`).toBe('');
      if (!Number.isNaN(v)) {
        const theirs = await runOrt(model, { x });
        for (const k of ['y', 'yh']) expect(compareTensors(ours[k], theirs[k], DIFF).message ?? '', `${mode} H=${H} x=${v} ${k} vs onnxruntime`).toBe('');
      }
    }
  }, 60_000);
});
