// Differential property tests of LSTM / GRU / RNN against onnxruntime-node (layout 0) and, for
// layout 1 and float64 which onnxruntime refuses, against the spec-derived reference.
import { afterAll, describe, expect, it } from 'vitest';
import { singleNodeModel, type AttrValue } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { transposeTensor } from '../src/ops/shape.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { crossCheckModel, randTensor, rng, runOrt, runRnnx } from './helpers.js';
import { refRecurrent, type RefAttrs } from './rec-reference.js';

/** float32 recurrent outputs vs onnxruntime: both round to float32 at different points over T steps. */
const REC_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** float64 against the float64 reference. */
const REC_TOL_F64: Tolerance = { rtol: 1e-10, atol: 1e-12 };

type Mode = 'LSTM' | 'GRU' | 'RNN';
const ACTS = ['Relu', 'Tanh', 'Sigmoid', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'HardSigmoid', 'Elu', 'Softsign', 'Softplus'];
const worst: Record<string, number> = {};

interface Case {
  mode: Mode; seed: number; T: number; N: number; I: number; H: number; attrs: RefAttrs;
  hasB: boolean; hasLens: boolean; hasH0: boolean; hasC0: boolean; hasP: boolean; constW: boolean;
  outputs: [boolean, boolean, boolean]; opset: number; dtype: 'float32' | 'float64';
}

function makeCase(mode: Mode, seed: number, dtype: 'float32' | 'float64' = 'float32', layout = 0): Case {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const D = r() < 0.4 ? 2 : 1;
  const direction = D === 2 ? 'bidirectional' : pick(['forward', 'reverse']);
  const H = 1 + Math.floor(r() * 6);
  const attrs: RefAttrs = { hidden_size: H, direction, layout };
  const k = { LSTM: 3, GRU: 2, RNN: 1 }[mode];
  if (r() < 0.5) {
    attrs.activations = Array.from({ length: k * D }, () => pick(ACTS));
    if (r() < 0.7) attrs.activation_alpha = attrs.activations.filter((a) => ['Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'HardSigmoid', 'Elu'].includes(a)).map(() => Math.round((0.1 + r()) * 100) / 100);
    if (r() < 0.7) attrs.activation_beta = attrs.activations.filter((a) => ['Affine', 'ScaledTanh', 'HardSigmoid'].includes(a)).map(() => Math.round((r() - 0.3) * 100) / 100);
  }
  if (r() < 0.3) attrs.clip = 0.5 + Math.round(r() * 25) / 10;
  if (mode === 'LSTM' && r() < 0.2) attrs.input_forget = 1;
  if (mode === 'GRU') attrs.linear_before_reset = r() < 0.5 ? 1 : 0;
  const outs: [boolean, boolean, boolean] = [r() < 0.8, r() < 0.7, mode === 'LSTM' && r() < 0.6];
  if (!outs.some(Boolean)) outs[0] = true;
  return {
    mode, seed, T: pick([1, 1, 2, 3, 5, 8]), N: 1 + Math.floor(r() * 3), I: 1 + Math.floor(r() * 6), H, attrs,
    hasB: r() < 0.8, hasLens: r() < 0.4, hasH0: r() < 0.5, hasC0: mode === 'LSTM' && r() < 0.5, hasP: mode === 'LSTM' && r() < 0.4,
    constW: r() < 0.5, outputs: outs, opset: layout ? 14 : pick([7, 14, 22]), dtype,
  };
}

function buildInputs(c: Case) {
  const r = rng(c.seed * 7 + 1);
  const G = { LSTM: 4, GRU: 3, RNN: 1 }[c.mode];
  const D = c.attrs.direction === 'bidirectional' ? 2 : 1;
  const lay = c.attrs.layout ?? 0;
  const t = (dims: number[], s = 1) => randTensor(r, dims, c.dtype, -s, s);
  const X = t(lay ? [c.N, c.T, c.I] : [c.T, c.N, c.I], 2);
  const W = t([D, G * c.H, c.I], 0.8);
  const R = t([D, G * c.H, c.H], 0.8);
  const B = c.hasB ? t([D, 2 * G * c.H], 0.5) : undefined;
  const lens = c.hasLens ? new Tensor('int32', Array.from({ length: c.N }, () => Math.floor(r() * (c.T + 1))), [c.N]) : undefined;
  const sdims = lay ? [c.N, D, c.H] : [D, c.N, c.H];
  const h0 = c.hasH0 ? t(sdims) : undefined;
  const c0 = c.hasC0 ? t(sdims) : undefined;
  const P = c.hasP ? t([D, 3 * c.H], 0.5) : undefined;
  return { X, W, R, B, lens, h0, c0, P };
}

function modelFor(c: Case, ins: ReturnType<typeof buildInputs>) {
  const named = (name: string, tensor: Tensor | undefined, constant = false) => (tensor ? { name, tensor, constant } : null);
  const inputs = [
    named('X', ins.X), named('W', ins.W, c.constW), named('R', ins.R, c.constW), named('B', ins.B, c.constW),
    named('sequence_lens', ins.lens), named('initial_h', ins.h0),
    ...(c.mode === 'LSTM' ? [named('initial_c', ins.c0), named('P', ins.P, c.constW)] : []),
  ];
  while (inputs[inputs.length - 1] === null) inputs.pop();
  const outputs = ['Y', 'Y_h', 'Y_c'].slice(0, c.mode === 'LSTM' ? 3 : 2).map((n, i) => (c.outputs[i] ? n : ''));
  while (outputs[outputs.length - 1] === '') outputs.pop();
  const attrs: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(c.attrs)) {
    if (v === undefined || (k === 'layout' && c.opset < 14)) continue;
    if (k === 'clip') attrs[k] = { f: v as number };
    else if (k === 'activation_alpha' || k === 'activation_beta') attrs[k] = { floats: v as number[] };
    else attrs[k] = v as AttrValue;
  }
  const model = singleNodeModel({ opType: c.mode, inputs, outputs, attrs, opset: c.opset });
  const feeds = Object.fromEntries(inputs.filter((i) => i && !i.constant).map((i) => [i!.name, i!.tensor]));
  return { model, feeds, outputs };
}

function note(mode: string, err: number) {
  worst[mode] = Math.max(worst[mode] ?? 0, err);
}

const SEEDS = Array.from({ length: 60 }, (_, i) => i + 1);

describe.each(['LSTM', 'GRU', 'RNN'] as Mode[])('%s', (mode) => {
  it.each(SEEDS)('matches onnxruntime-node, seed %i', async (seed) => {
    const c = makeCase(mode, seed);
    const ins = buildInputs(c);
    const { model, feeds, outputs } = modelFor(c, ins);
    const theirs = await runOrt(model, feeds);
    const overflow = Object.values(theirs).some((t) => (t.data as Float32Array).some((v) => !Number.isFinite(v)));
    if (!overflow) {
      const res = await crossCheckModel(model, feeds, REC_TOL);
      note(`${mode} vs onnxruntime`, res.maxAbs);
      expect(res.messages, JSON.stringify(c)).toEqual([]);
      return;
    }
    // onnxruntime overflows float32 inside an unbounded activation (e.g. Softplus as log(1+exp x))
    // on exploding states; the float64 reference is the judge for those cases.
    const ours = runRnnx(model, feeds);
    const ref = refRecurrent(mode, c.attrs, ins.X, ins.W, ins.R, ins.B, ins.lens, ins.h0, ins.c0, ins.P);
    for (const [i, name] of outputs.entries()) {
      if (!name) continue;
      const refT = new Tensor('float32', [ref.Y, ref.Yh, ref.Yc][i], i === 0 ? ref.yDims : ref.sDims);
      expect(compareTensors(ours[name], refT, REC_TOL).message ?? '', JSON.stringify(c)).toBe('');
    }
  });

  it.each(SEEDS.slice(0, 20))('layout=1 matches onnxruntime on the transposed layout=0 model and the reference, seed %i', async (seed) => {
    const c = makeCase(mode, 1000 + seed, 'float32', 1);
    const ins = buildInputs(c);
    const { model, feeds, outputs } = modelFor(c, ins);
    const ours = runRnnx(model, feeds);
    // The same case in layout 0 for onnxruntime: X [N,T,I] -> [T,N,I], states [N,D,H] -> [D,N,H].
    const c0: Case = { ...c, attrs: { ...c.attrs, layout: 0 } };
    const sw = (t?: Tensor) => (t ? transposeTensor(t, [1, 0, 2]) : undefined);
    const ins0 = { ...ins, X: sw(ins.X)!, h0: sw(ins.h0), c0: sw(ins.c0) };
    const m0 = modelFor(c0, ins0);
    const theirs = await runOrt(m0.model, m0.feeds);
    const ref = refRecurrent(mode, c.attrs, ins.X, ins.W, ins.R, ins.B, ins.lens, ins.h0, ins.c0, ins.P);
    for (const [i, name] of outputs.entries()) {
      if (!name) continue;
      const back = i === 0 ? transposeTensor(theirs[name], [2, 0, 1, 3]) : transposeTensor(theirs[name], [1, 0, 2]);
      const cmp = compareTensors(ours[name], back, REC_TOL);
      expect(cmp.message ?? '', JSON.stringify(c)).toBe('');
      note(`${mode} layout=1 vs onnxruntime`, cmp.maxAbs);
      const refT = new Tensor('float32', [ref.Y, ref.Yh, ref.Yc][i], i === 0 ? ref.yDims : ref.sDims);
      expect(compareTensors(ours[name], refT, REC_TOL).message ?? '').toBe('');
    }
  });

  it.each(SEEDS.slice(0, 20))('float64 matches the float64 reference, seed %i', (seed) => {
    const c = makeCase(mode, 2000 + seed, 'float64', seed % 3 === 0 ? 1 : 0);
    const ins = buildInputs(c);
    const { model, feeds, outputs } = modelFor(c, ins);
    const ours = runRnnx(model, feeds);
    const ref = refRecurrent(mode, c.attrs, ins.X, ins.W, ins.R, ins.B, ins.lens, ins.h0, ins.c0, ins.P);
    for (const [i, name] of outputs.entries()) {
      if (!name) continue;
      const refT = new Tensor('float64', [ref.Y, ref.Yh, ref.Yc][i], i === 0 ? ref.yDims : ref.sDims);
      const cmp = compareTensors(ours[name], refT, REC_TOL_F64);
      note(`${mode} float64 vs reference`, cmp.maxAbs);
      expect(cmp.message ?? '', JSON.stringify(c)).toBe('');
    }
  });
});

afterAll(() => {
  console.log('worst absolute error per check:', JSON.stringify(worst, null, 1));
});
