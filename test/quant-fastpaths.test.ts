// The quantize ops' typed loops (QuantizeLinear / DequantizeLinear by rows, per tensor, per axis
// and blocked) and the integer convolution behind QLinearConv and ConvInteger, bit-exact against
// onnxruntime-node: zero points at the extremes, saturation, ties for round half to even, empty
// tensors, int32 bias, fed (non-constant) weights and scales.
import { describe, expect, it } from 'vitest';
import { NodeError } from '../src/ir/errors.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import { singleNodeModel, type SingleNodeSpec } from '../src/export/onnx.js';
import { InferenceSession } from '../src/runtime/session.js';
import { crossCheck, randTensor, rng } from './helpers.js';

const EXACT = { rtol: 0, atol: 0 };
const r = rng(4242);
const X = (t: Tensor, name = 'x') => ({ name, tensor: t });
const C = (t: Tensor, name: string) => ({ name, tensor: t, constant: true });
const C_ = C;
const f32 = (v: number[], dims = v.length > 1 ? [v.length] : []) => new Tensor('float32', v, dims);
const RANGES = { uint8: [0, 255], int8: [-128, 127] } as const;
type Q = keyof typeof RANGES;
const q = (t: Q, dims: number[]) => randTensor(r, dims, t, RANGES[t][0], RANGES[t][1]);

const cases: [string, SingleNodeSpec][] = [];
const add = (name: string, spec: SingleNodeSpec) => cases.push([name, spec]);

// QuantizeLinear: per tensor with zero points at both ends (saturating on one side), ties.
for (const t of ['uint8', 'int8'] as Q[]) {
  const [lo, hi] = RANGES[t];
  for (const zp of [lo, hi, t === 'uint8' ? 128 : 0]) {
    add(`QuantizeLinear ${t} zp ${zp} saturating`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t],
      inputs: [X(randTensor(r, [4, 9], 'float32', -9, 9)), C(f32([0.03]), 's'), C(new Tensor(t, [zp], []), 'z')] });
  }
  // x / scale lands exactly on k + 0.5 (scale 0.25 and 0.5 are exact in binary).
  const ties = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -3.5, 0.25, -0.25, 1e30, -1e30, 0, -0];
  add(`QuantizeLinear ${t} ties (round half to even)`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t],
    inputs: [X(f32(ties)), C(f32([0.5]), 's'), C(new Tensor(t, [t === 'uint8' ? 10 : -3], []), 'z')] });
  add(`QuantizeLinear ${t} ties, scale 0.25`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t],
    inputs: [X(f32(ties.map((v) => v / 2))), C(f32([0.25]), 's'), C(new Tensor(t, [0], []), 'z')] });
  // Per axis, on each axis of a 3-D tensor, zero points at the extremes.
  for (const axis of [0, 1, 2, -1]) {
    const dims = [3, 4, 5], D = dims[(axis + 3) % 3];
    const zs = Array.from({ length: D }, (_, i) => (i % 3 === 0 ? lo : i % 3 === 1 ? hi : Math.round((lo + hi) / 2)));
    add(`QuantizeLinear ${t} per axis ${axis}`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t], attrs: { axis },
      inputs: [X(randTensor(r, dims, 'float32', -4, 4)), C(f32(Array.from({ length: D }, (_, i) => 0.01 + 0.013 * i), [D]), 's'), C(new Tensor(t, zs, [D]), 'z')] });
    add(`DequantizeLinear ${t} per axis ${axis}`, { opType: 'DequantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['float32'], attrs: { axis },
      inputs: [X(q(t, dims)), C(f32(Array.from({ length: D }, (_, i) => 0.07 - 0.011 * i), [D]), 's'), C(new Tensor(t, zs, [D]), 'z')] });
  }
  for (const zp of [lo, hi]) {
    add(`DequantizeLinear ${t} zp ${zp}`, { opType: 'DequantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['float32'],
      inputs: [X(q(t, [2, 3, 7])), C(f32([0.0123]), 's'), C(new Tensor(t, [zp], []), 'z')] });
  }
  add(`QuantizeLinear ${t} empty`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t],
    inputs: [X(new Tensor('float32', new Float32Array(0), [0, 3])), C(f32([0.1, 0.2, 0.3], [3]), 's'), C(new Tensor(t, [1, 2, 3], [3]), 'z')] });
  add(`DequantizeLinear ${t} empty`, { opType: 'DequantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['float32'],
    inputs: [X(q(t, [0])), C(f32([0.1]), 's'), C(new Tensor(t, [3], []), 'z')] });
  // Scale and zero point fed at run time (not constants).
  add(`QuantizeLinear ${t} scale and zero point fed`, { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: [t],
    inputs: [X(randTensor(r, [5, 2], 'float32', -3, 3)), X(f32([0.02]), 's'), X(new Tensor(t, [t === 'uint8' ? 250 : -120], []), 'z')] });
}
add('DequantizeLinear int32 per axis', { opType: 'DequantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['float32'], attrs: { axis: 1 },
  inputs: [X(randTensor(r, [2, 3, 4], 'int32', -(2 ** 30), 2 ** 30)), C(f32([1e-3, 2e-5, 0.5], [3]), 's'), C(new Tensor('int32', [0, 0, 0], [3]), 'z')] });
add('DequantizeLinear int32 beyond 2^24 (float32 rounding of x − zp)', { opType: 'DequantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['float32'],
  inputs: [X(new Tensor('int32', [16777217, -16777219, 2147483647, -2147483648, 33554435], [5])), C(f32([1]), 's')] });
add('QuantizeLinear uint8 no zero point', { opType: 'QuantizeLinear', opset: 13, outputs: ['y'], outputTypes: ['uint8'],
  inputs: [X(randTensor(r, [3, 4], 'float32', -1, 5)), C(f32([0.02]), 's')] });
// Blocked (opset 21): blocks of 3 along axis 1 (the last block short), int8 and uint8.
for (const t of ['int8', 'uint8'] as Q[]) {
  add(`QuantizeLinear ${t} blocked`, { opType: 'QuantizeLinear', opset: 21, outputs: ['y'], outputTypes: [t], attrs: { axis: 1, block_size: 3 },
    inputs: [X(randTensor(r, [2, 8], 'float32', -3, 3)), C(new Tensor('float32', Array.from({ length: 6 }, (_, i) => 0.01 + 0.007 * i), [2, 3]), 's'), C(q(t, [2, 3]), 'z')] });
  add(`DequantizeLinear ${t} blocked`, { opType: 'DequantizeLinear', opset: 21, outputs: ['y'], outputTypes: ['float32'], attrs: { axis: 1, block_size: 3 },
    inputs: [X(q(t, [2, 8])), C(new Tensor('float32', Array.from({ length: 6 }, (_, i) => 0.01 + 0.007 * i), [2, 3]), 's'), C(q(t, [2, 3]), 'z')] });
}

// DynamicQuantizeLinear: scale 1 when the range is empty (all zeros), as onnxruntime gives.
for (const [name, v] of [['all zeros', [0, 0, 0, 0]], ['positive', [1, 2, 3, 0.5]], ['negative', [-1, -2, -3]], ['one element', [5]],
  ['tiny range', [1e-30, 0]], ['mixed', Array.from({ length: 40 }, () => r() * 6 - 2)]] as [string, number[]][]) {
  add(`DynamicQuantizeLinear ${name}`, { opType: 'DynamicQuantizeLinear', opset: 11, outputs: ['y', 's', 'z'], outputTypes: ['uint8', 'float32', 'uint8'], inputs: [X(f32(v, [v.length]))] });
}
add('DynamicQuantizeLinear empty', { opType: 'DynamicQuantizeLinear', opset: 11, outputs: ['y', 's', 'z'], outputTypes: ['uint8', 'float32', 'uint8'], inputs: [X(new Tensor('float32', new Float32Array(0), [0, 4]))] });

// QLinearConv: the integer kernel in its shapes, with requantisation as onnxruntime does it.
const sc = (v: number[]) => f32(v, v.length > 1 ? [v.length] : []);
interface QConv { xt: Q; wt: Q; xd: number[]; wd: number[]; attrs?: Record<string, number[] | number | string>; perChannel?: boolean; fedW?: boolean; bias?: 'none' | 'small' | 'saturate' | 'tiny'; zx?: number; zw?: number; zy?: number; scales?: [number, number, number]; spread?: number }
const qconv = (name: string, c: QConv) => {
  const M = c.wd[0];
  const [sx, sw, sy] = c.scales ?? [0.05, 0.004, 0.11];
  const W = c.fedW ? X : C;
  const b = c.bias ?? 'small';
  // `spread`: x and w within ± spread of their zero points (small accumulators that do not saturate).
  const near = (t: Q, dims: number[], z: number) => (c.spread === undefined ? q(t, dims) : randTensor(r, dims, t, z - c.spread, z + c.spread));
  // uint8 x with int8 w: onnxruntime's x86 kernel (vpmaddubsw) adds pairs of products in int16 with
  // saturation, so it is exact only while |x·w + x'·w'| <= 32767: int8 weights in [-64, 63] keep it so
  // (onnxruntime's own reduce_range advice). rnnx computes the exact sum either way.
  const wOf = (dims: number[]) => (c.xt === 'uint8' && c.wt === 'int8' && c.spread === undefined ? randTensor(r, dims, 'int8', -64, 63) : near(c.wt, dims, zw));
  const zx = c.zx ?? (c.xt === 'uint8' ? 120 : -3), zw = c.zw ?? (c.wt === 'uint8' ? 130 : 0);
  const bias = { small: 3000, saturate: 3e6, tiny: 5, none: 0 }[b];
  add(`QLinearConv ${name}`, {
    opType: 'QLinearConv', outputs: ['y'], outputTypes: [c.xt], opset: 10, attrs: c.attrs ?? {},
    inputs: [X(near(c.xt, c.xd, zx)), C(sc([sx]), 'sx'), C(new Tensor(c.xt, [zx], []), 'zx'),
      W(wOf(c.wd), 'w'), C(sc(c.perChannel ? Array.from({ length: M }, (_, i) => sw * (0.5 + 0.1 * i)) : [sw]), 'sw'), C(new Tensor(c.wt, [zw], []), 'zw'),
      C(sc([sy]), 'sy'), C(new Tensor(c.xt, [c.zy ?? (c.xt === 'uint8' ? 128 : 2)], []), 'zy'),
      ...(b === 'none' ? [] : [C(randTensor(r, [M], 'int32', -bias, bias), 'b')])],
  });
};
qconv('P=1 pointwise (LSTM gates)', { xt: 'int8', wt: 'int8', xd: [1, 5, 1], wd: [12, 5, 1], attrs: { auto_pad: 'VALID', kernel_shape: [1], strides: [1] } });
qconv('pointwise uint8 length 20', { xt: 'uint8', wt: 'uint8', xd: [2, 6, 20], wd: [7, 6, 1] });
qconv('pointwise uint8 x int8 w per channel, no bias', { xt: 'uint8', wt: 'int8', xd: [1, 4, 9], wd: [5, 4, 1], perChannel: true, bias: 'none' });
qconv('1-D k3 pads strides', { xt: 'uint8', wt: 'uint8', xd: [1, 5, 11], wd: [6, 5, 3], attrs: { pads: [2, 1], strides: [2] } });
qconv('1-D dilations groups', { xt: 'int8', wt: 'int8', xd: [2, 4, 12], wd: [6, 2, 3], attrs: { dilations: [2], group: 2 } });
qconv('1-D SAME_LOWER stride 2', { xt: 'int8', wt: 'int8', xd: [1, 3, 10], wd: [4, 3, 4], attrs: { auto_pad: 'SAME_LOWER', strides: [2] } });
qconv('2-D pads strides dilations', { xt: 'uint8', wt: 'uint8', xd: [2, 2, 9, 8], wd: [4, 2, 3, 2], attrs: { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] } });
qconv('2-D depthwise', { xt: 'uint8', wt: 'uint8', xd: [1, 4, 5, 5], wd: [4, 1, 3, 3], attrs: { group: 4, pads: [1, 1, 1, 1] } });
qconv('2-D SAME_UPPER int8', { xt: 'int8', wt: 'int8', xd: [1, 3, 7, 6], wd: [5, 3, 3, 3], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, perChannel: true });
qconv('2-D kernel larger than padded width on one side', { xt: 'uint8', wt: 'uint8', xd: [1, 2, 3, 2], wd: [3, 2, 2, 3], attrs: { pads: [0, 2, 1, 2], strides: [1, 3] } });
qconv('zero points at the extremes, saturating bias', { xt: 'uint8', wt: 'uint8', xd: [1, 3, 6], wd: [4, 3, 2], zx: 255, zw: 0, zy: 0, bias: 'saturate' });
qconv('int8 zero points at the extremes', { xt: 'int8', wt: 'int8', xd: [1, 3, 6], wd: [4, 3, 2], zx: -128, zy: 127, bias: 'saturate' });
qconv('uint8 zy 255', { xt: 'uint8', wt: 'uint8', xd: [1, 3, 6], wd: [4, 3, 2], zx: 0, zw: 255, zy: 255 });
// scale = 0.5 · 1 / 1: every odd accumulator is a tie.
qconv('ties (round half to even)', { xt: 'int8', wt: 'int8', xd: [1, 3, 8], wd: [5, 3, 1], scales: [0.5, 1, 1], zx: 0, zy: 0, spread: 3, bias: 'tiny' });
qconv('ties, uint8 weights, 2-D', { xt: 'uint8', wt: 'uint8', xd: [1, 2, 4, 5], wd: [3, 2, 2, 2], scales: [0.5, 1, 1], zx: 128, zw: 128, zy: 128, spread: 2, bias: 'tiny' });
qconv('ties with a scale of 0.25', { xt: 'uint8', wt: 'uint8', xd: [1, 2, 8], wd: [3, 2, 2], scales: [0.5, 0.5, 1], zx: 128, zw: 128, zy: 128, spread: 3, bias: 'tiny' });
qconv('ties, uint8 x int8 w', { xt: 'uint8', wt: 'int8', xd: [1, 4, 6], wd: [3, 4, 1], scales: [0.25, 2, 1], zx: 3, zw: 0, zy: 10, spread: 3, bias: 'tiny' });
qconv('weights fed', { xt: 'int8', wt: 'int8', xd: [1, 3, 6], wd: [4, 3, 3], attrs: { pads: [1, 1] }, fedW: true, perChannel: true });
qconv('empty batch', { xt: 'uint8', wt: 'uint8', xd: [0, 3, 6], wd: [4, 3, 3] });

// QLinearMatMul: per-tensor and per-column b scale, ties (scale 0.5), saturation.
const qmm = (name: string, at: Q, bt: Q, ad: number[], bd: number[], sb: Tensor, zb: Tensor, scales: [number, number], spread?: number) => add(`QLinearMatMul ${name}`, {
  opType: 'QLinearMatMul', opset: 10, outputs: ['y'], outputTypes: [at],
  inputs: [X(spread ? randTensor(r, ad, at, -spread, spread) : q(at, ad), 'a'), C(sc([scales[0]]), 'sa'), C(new Tensor(at, [0], []), 'za'),
    C(spread ? randTensor(r, bd, bt, -spread, spread) : bt === 'int8' && at === 'uint8' ? randTensor(r, bd, 'int8', -64, 63) : q(bt, bd), 'b'), C(sb, 'sb'), C(zb, 'zb'),
    C(sc([scales[1]]), 'sy'), C(new Tensor(at, [at === 'uint8' ? 128 : 0], []), 'zy')],
});
qmm('uint8 per tensor', 'uint8', 'uint8', [5, 16], [16, 7], sc([0.004]), new Tensor('uint8', [130], []), [0.02, 0.09]);
qmm('int8 batched, saturating', 'int8', 'int8', [2, 3, 8], [8, 4], sc([0.05]), new Tensor('int8', [0], []), [0.05, 0.01]);
qmm('int8 ties', 'int8', 'int8', [4, 3], [3, 5], sc([1]), new Tensor('int8', [0], []), [0.5, 1], 3);
qmm('uint8 x int8 per column [1,N]', 'uint8', 'int8', [3, 6], [6, 4], new Tensor('float32', [0.002, 0.003, 0.004, 0.005], [1, 4]), new Tensor('int8', [0, 0, 0, 0], [1, 4]), [0.03, 0.07]);

// ConvInteger (uint8, as onnxruntime runs it).
const convInteger = (name: string, xd: number[], wd: number[], attrs: Record<string, number[] | number | string>, zx?: number, zw?: number) => add(`ConvInteger ${name}`, {
  opType: 'ConvInteger', opset: 10, outputs: ['y'], outputTypes: ['int32'], attrs,
  inputs: [X(q('uint8', xd)), C(q('uint8', wd), 'w'), zx === undefined ? null : C(new Tensor('uint8', [zx], []), 'zx'), zw === undefined ? null : C(new Tensor('uint8', [zw], []), 'zw')],
});
convInteger('1-D pads strides', [1, 3, 10], [4, 3, 3], { pads: [1, 2], strides: [2] }, 255, 0);
convInteger('2-D groups', [2, 4, 5, 6], [6, 2, 2, 3], { group: 2, pads: [1, 1, 0, 1] }, 7, 200);
convInteger('pointwise, no zero points', [1, 3, 7], [2, 3, 1], {});

describe('quantize fast paths against onnxruntime-node (bit-exact)', () => {
  for (const [name, spec] of cases) {
    it(name, async () => {
      const res = await crossCheck(spec, EXACT);
      expect(res.messages.join('; ')).toBe('');
    });
  }
});

describe('QLinearConv uint8 x int8 w beyond onnxruntime\'s int16 pair sums', () => {
  it('is exact: matches the integer formula written out (onnxruntime saturates pairs of products on x86)', () => {
    const C = 4, L = 9, M = 5;
    const r2 = rng(99);
    const x = randTensor(r2, [1, C, L], 'uint8', 0, 255), w = randTensor(r2, [M, C, 1], 'int8', -128, 127), b = randTensor(r2, [M], 'int32', -500, 500);
    // Position 0 of output channel 0: a pair of products far beyond int16 (255·127·2).
    (x.data as Uint8Array)[0] = 255; (x.data as Uint8Array)[L] = 255; (w.data as Int8Array)[0] = 127; (w.data as Int8Array)[1] = 127;
    const SW = Array.from({ length: M }, (_, m) => 0.002 + 0.0005 * m);
    const spec: SingleNodeSpec = { opType: 'QLinearConv', opset: 10, outputs: ['y'], outputTypes: ['uint8'],
      inputs: [X(x), C_(sc([0.05]), 'sx'), C_(new Tensor('uint8', [120], []), 'zx'), C_(w, 'w'), C_(f32(SW, [M]), 'sw'), C_(new Tensor('int8', [0], []), 'zw'),
        C_(sc([0.11]), 'sy'), C_(new Tensor('uint8', [128], []), 'zy'), C_(b, 'b')] };
    const y = InferenceSession.createSync(singleNodeModel(spec)).runSync({ x }).y.data as Uint8Array;
    const XD = x.data as Uint8Array, WD = w.data as Int8Array, BD = b.data as Int32Array;
    const rhe = (v: number) => { const f = Math.floor(v), d = v - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; };
    let pairsBeyondInt16 = 0;
    for (let m = 0; m < M; m++) {
      const scale = Math.fround(Math.fround(0.05 * Math.fround(SW[m])) / Math.fround(0.11));
      for (let p = 0; p < L; p++) {
        let acc = BD[m];
        for (let c = 0; c < C; c++) acc += (XD[c * L + p] - 120) * WD[m * C + c];
        for (let c = 0; c + 1 < C; c += 2) if (Math.abs(XD[c * L + p] * WD[m * C + c] + XD[(c + 1) * L + p] * WD[m * C + c + 1]) > 32767) pairsBeyondInt16++;
        expect(y[m * L + p]).toBe(Math.min(255, Math.max(0, rhe(Math.fround(Math.fround(acc) * scale)) + 128)));
      }
    }
    expect(pairsBeyondInt16).toBeGreaterThan(0);
  });
});

describe('quantize ops: named errors', () => {
  const run = (spec: SingleNodeSpec, feeds: Record<string, Tensor>) => InferenceSession.createSync(singleNodeModel(spec)).runSync(feeds);
  const conv = (over: Partial<Record<'sx' | 'zx' | 'sw' | 'zw' | 'zy' | 'b', Tensor>>) => ({
    opType: 'QLinearConv', outputs: ['y'], outputTypes: ['uint8' as DataType], opset: 10,
    inputs: [X(q('uint8', [1, 2, 4])), C(over.sx ?? sc([0.1]), 'sx'), C(over.zx ?? new Tensor('uint8', [1], []), 'zx'), C(q('uint8', [3, 2, 1]), 'w'),
      C(over.sw ?? sc([0.1]), 'sw'), C(over.zw ?? new Tensor('uint8', [2], []), 'zw'), C(sc([0.2]), 'sy'), C(over.zy ?? new Tensor('uint8', [3], []), 'zy'),
      ...(over.b ? [C(over.b, 'b')] : [])],
  });
  const feeds = (spec: SingleNodeSpec) => ({ x: spec.inputs[0]!.tensor });
  it('QLinearConv refuses a per-channel x scale, a mistyped zero point and a misshapen bias', () => {
    for (const [over, msg] of [
      [{ sx: sc([0.1, 0.2]) }, /x_scale\) must be a scalar/],
      [{ zx: new Tensor('int8', [1], []) }, /x_zero_point\) must be uint8/],
      [{ sw: sc([0.1, 0.2]) }, /w_scale\) must be a scalar or hold one value per output channel \(3\)/],
      [{ zw: new Tensor('uint8', [1, 2], [2]) }, /w_zero_point must be a scalar or hold one value per output channel/],
      [{ b: new Tensor('int32', [1, 2], [2]) }, /input 8 \(B\): expected shape \[3\]/],
      [{ b: new Tensor('float32', [1, 2, 3], [3]) }, /input 8 \(B\): expected int32/],
    ] as [Parameters<typeof conv>[0], RegExp][]) {
      const spec = conv(over);
      expect(() => run(spec, feeds(spec))).toThrow(NodeError);
      expect(() => run(spec, feeds(spec))).toThrow(msg);
    }
  });
  it('QuantizeLinear refuses a zero point whose shape differs from the scale', () => {
    const spec: SingleNodeSpec = { opType: 'QuantizeLinear', opset: 21, outputs: ['y'], outputTypes: ['int8'], attrs: { axis: 1, block_size: 2 },
      inputs: [X(randTensor(r, [2, 4], 'float32')), C(new Tensor('float32', [1, 1, 1, 1], [2, 2]), 's'), C(new Tensor('int8', [0, 0, 0, 0], [4]), 'z')] };
    expect(() => run(spec, feeds(spec))).toThrow(/zero point of shape \[4\] does not match the scale's \[2,2\]/);
  });
});
