// Conv, ConvTranspose and Einsum on the SIMD GEMM path against onnxruntime-node over a grid of
// shapes and attributes, with weights as initializers (packed once) and fed at run time (packed
// per call); and the SIMD kernels directly against the plain TypeScript reference.
import { describe, expect, it } from 'vitest';
import type { SingleNodeSpec } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { convDepthwise, convReference, convTransposeDepthwise, convTransposeReference } from '../src/ops/conv.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { ConvKernel, ConvTransposeKernel, type ConvGeom } from '../src/wasm/conv.js';
import { wasmModule } from '../src/wasm/runtime.js';
import { encodeModel, singleNodeModel } from '../src/export/onnx.js';
import { InferenceSession } from '../src/runtime/session.js';
import { crossCheck, crossCheckModel, randTensor, rng, runOrt } from './helpers.js';

/** float32 sums in a different order from onnxruntime's: |a − b| ≤ 1e-5 + 1e-4·|b|. */
const SIMD_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };

const r = rng(777);
const f = (dims: number[]) => randTensor(r, dims, 'float32', -1, 1);
type Attrs = Record<string, number[] | number | string>;

// [name, X dims, W dims, attrs]
const convs: [string, number[], number[], Attrs][] = [
  ['1-D k3 pads', [1, 16, 12], [24, 16, 3], { pads: [1, 1] }],
  ['1-D k3 stride 2 pads', [1, 129, 3], [128, 129, 3], { pads: [1, 1], strides: [2] }],
  ['1-D encoder P=1', [1, 64, 1], [128, 64, 3], { pads: [1, 1] }],
  ['1-D STFT-like k64 s32', [1, 1, 160], [66, 1, 64], { strides: [32] }],
  ['1-D asymmetric pads', [2, 3, 17], [5, 3, 4], { pads: [2, 0] }],
  ['1-D dilation 3', [1, 4, 30], [7, 4, 3], { dilations: [3], pads: [3, 3] }],
  ['1-D groups 2', [1, 6, 20], [8, 3, 3], { group: 2, pads: [1, 1] }],
  ['1-D depthwise', [1, 12, 25], [12, 1, 5], { group: 12, pads: [2, 2] }],
  ['1-D depthwise multiplier 2', [1, 4, 9], [8, 1, 3], { group: 4 }],
  ['1-D SAME_UPPER stride 2', [1, 5, 13], [6, 5, 4], { auto_pad: 'SAME_UPPER', strides: [2] }],
  ['1-D SAME_LOWER', [1, 5, 10], [6, 5, 4], { auto_pad: 'SAME_LOWER' }],
  ['1-D VALID', [3, 2, 9], [4, 2, 3], { auto_pad: 'VALID' }],
  ['1-D pointwise', [1, 33, 19], [17, 33, 1], {}],
  ['2-D 1x3 stride (1,2)', [1, 16, 4, 33], [16, 16, 1, 3], { strides: [1, 2], pads: [0, 1, 0, 1] }],
  ['2-D 2x3 causal pad', [1, 8, 5, 20], [12, 8, 2, 3], { pads: [1, 1, 0, 1] }],
  ['2-D 2x3 T=1 (tiny P)', [1, 16, 2, 6], [16, 16, 2, 3], { strides: [1, 2], pads: [0, 1, 0, 1] }],
  ['2-D depthwise 3x3', [1, 16, 7, 9], [16, 1, 3, 3], { group: 16, pads: [1, 1, 1, 1] }],
  ['2-D depthwise 2x3 stride (1,2)', [1, 8, 3, 16], [8, 1, 2, 3], { group: 8, strides: [1, 2], pads: [1, 1, 0, 1] }],
  ['2-D groups 4', [2, 8, 6, 6], [12, 2, 3, 3], { group: 4, pads: [1, 0, 1, 2] }],
  ['2-D dilations strides', [1, 3, 11, 10], [5, 3, 3, 2], { dilations: [2, 3], strides: [2, 1], pads: [2, 1, 0, 2] }],
  ['2-D SAME_UPPER stride 2', [1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }],
  ['2-D SAME_LOWER', [1, 3, 6, 7], [4, 3, 2, 4], { auto_pad: 'SAME_LOWER' }],
  ['2-D VALID', [1, 3, 6, 7], [4, 3, 2, 4], { auto_pad: 'VALID' }],
  ['2-D 1x1', [2, 20, 3, 5], [9, 20, 1, 1], {}],
  // batch folded into the GEMM's columns (N·P ≥ 8 with P < 8), column blocks, direct pointwise
  ['1-D batch 6 P=3 k3 pads', [6, 17, 3], [20, 17, 3], { pads: [1, 1] }],
  ['1-D batch 5 STFT-like P=3', [5, 1, 160], [34, 1, 64], { strides: [48] }],
  ['1-D batch 9 P=1 stride 2', [9, 12, 2], [10, 12, 3], { pads: [1, 1], strides: [2] }],
  ['1-D batch 4 groups 3 P=2', [4, 9, 4], [6, 3, 3], { group: 3, strides: [2], pads: [1, 0] }],
  ['1-D pointwise groups 2', [1, 8, 21], [6, 4, 1], { group: 2 }],
  ['1-D K=900 column blocks', [1, 300, 44], [5, 300, 3], { pads: [1, 2] }],
  ['2-D batch 3 column blocks', [3, 100, 3, 11], [7, 100, 2, 3], { pads: [1, 1, 0, 1], strides: [1, 2] }],
];

const cases: [string, SingleNodeSpec][] = [];
for (const [name, xd, wd, attrs] of convs) {
  for (const bias of [true, false]) {
    for (const fed of [false, true]) {
      const w = { name: 'w', tensor: f(wd), constant: !fed };
      const inputs = [{ name: 'x', tensor: f(xd) }, w, ...(bias ? [{ name: 'b', tensor: f([wd[0]]), constant: !fed }] : [])];
      cases.push([`Conv ${name}${bias ? '' : ' no bias'}${fed ? ' weights fed' : ''}`, { opType: 'Conv', inputs, outputs: ['y'], attrs }]);
    }
  }
}

// [name, X dims, W dims [C, M/G, KH, KW], attrs]
const convTs: [string, number[], number[], Attrs][] = [
  ['1-D', [1, 8, 10], [8, 6, 3], {}],
  ['1-D stride 2 pads', [2, 4, 9], [4, 5, 4], { strides: [2], pads: [1, 2] }],
  ['1-D output_padding', [1, 3, 7], [3, 2, 3], { strides: [3], output_padding: [2] }],
  ['1-D output_shape', [1, 3, 7], [3, 2, 3], { strides: [2], output_shape: [16] }],
  ['1-D dilation groups 2', [1, 6, 8], [6, 2, 3], { dilations: [2], group: 2 }],
  ['1-D SAME_UPPER', [1, 3, 6], [3, 4, 3], { auto_pad: 'SAME_UPPER', strides: [2] }],
  ['1-D P=1', [1, 64, 1], [64, 32, 1], {}],
  ['2-D 1x1 (24->16, F=33)', [1, 24, 1, 33], [24, 16, 1, 1], {}],
  ['2-D 1x5 stride (1,2) pads', [1, 16, 1, 65], [16, 2, 1, 5], { strides: [1, 2], pads: [0, 2, 0, 2] }],
  ['2-D groups 2 1x5 stride (1,2)', [1, 16, 1, 33], [16, 8, 1, 5], { group: 2, strides: [1, 2], pads: [0, 2, 0, 2] }],
  ['2-D depthwise dilated 3x3', [1, 16, 11, 33], [16, 1, 3, 3], { group: 16, dilations: [5, 1], pads: [10, 1, 10, 1] }],
  ['2-D depthwise 3x3', [1, 8, 5, 9], [8, 1, 3, 3], { group: 8, pads: [1, 1, 1, 1] }],
  ['2-D stride 2 output_padding', [1, 4, 3, 4], [4, 3, 3, 3], { strides: [2, 2], output_padding: [1, 1], pads: [1, 0, 1, 1] }],
  ['2-D output_shape', [1, 3, 3, 3], [3, 2, 3, 3], { strides: [3, 2], output_shape: [10, 8] }],
  ['2-D SAME_LOWER', [1, 2, 4, 5], [2, 3, 2, 3], { auto_pad: 'SAME_LOWER', strides: [2, 2] }],
  ['2-D batch 2 dilations', [2, 3, 4, 4], [3, 5, 2, 2], { dilations: [2, 3], strides: [1, 2] }],
];
for (const [name, xd, wd, attrs] of convTs) {
  for (const bias of [true, false]) {
    for (const fed of [false, true]) {
      const M = wd[1] * ((attrs.group as number | undefined) ?? 1);
      const inputs = [{ name: 'x', tensor: f(xd) }, { name: 'w', tensor: f(wd), constant: !fed }, ...(bias ? [{ name: 'b', tensor: f([M]), constant: !fed }] : [])];
      cases.push([`ConvTranspose ${name}${bias ? '' : ' no bias'}${fed ? ' weights fed' : ''}`, { opType: 'ConvTranspose', inputs, outputs: ['y'], attrs }]);
    }
  }
}

const einsums: [string, number[][]][] = [
  ['ij,jk->ik', [[5, 7], [7, 9]]],
  ['ij,kj->ik', [[3, 16], [20, 16]]],
  ['bij,bjk->bik', [[3, 4, 6], [3, 6, 5]]],
  ['btgi,gih->btgh', [[1, 6, 8, 12], [8, 12, 16]]],
  ['btgi,gih->btgh', [[2, 1, 4, 8], [4, 8, 8]]],
  ['...ij,jk->...ik', [[2, 3, 4, 5], [5, 6]]],
  ['...gi,...gih->...gh', [[3, 2, 4], [3, 2, 4, 5]]],
  ['bhqd,bhkd->bhqk', [[1, 2, 5, 8], [1, 2, 7, 8]]],
  ['bhqk,bhkd->bqhd', [[1, 2, 5, 7], [1, 2, 7, 8]]],
  ['i,j->ij', [[6], [11]]],
  ['ij,ij->i', [[4, 9], [4, 9]]],
  ['ij,j->i', [[13, 9], [9]]],
  ['bij,bjk', [[2, 3, 4], [2, 4, 5]]],
  ['ik,kj->ji', [[5, 3], [3, 10]]],
];
for (const [eq, [ad, bd]] of einsums) {
  for (const constB of [false, true]) {
    const inputs = [{ name: 'a', tensor: f(ad) }, { name: 'b', tensor: f(bd), constant: constB }];
    cases.push([`Einsum ${eq} [${ad}]x[${bd}]${constB ? ' B constant' : ''}`, { opType: 'Einsum', inputs, outputs: ['y'], attrs: { equation: eq }, opset: 12 }]);
  }
}

describe('SIMD Conv, ConvTranspose and Einsum against onnxruntime-node', () => {
  it.each(cases)('%s', async (_name, spec) => {
    const res = await crossCheck(spec, SIMD_TOL);
    expect(res.messages).toEqual([]);
  });
});

describe.skipIf(!wasmModule())('SIMD Conv kernel against the TypeScript reference', () => {
  const geoms: ConvGeom[] = [];
  for (let i = 0; i < 40; i++) {
    const G = [1, 1, 2, 3][i % 4];
    const sp2 = i % 2 === 0;
    const KH = sp2 ? 1 + Math.floor(r() * 3) : 1, KW = 1 + Math.floor(r() * 4);
    const dH = sp2 ? 1 + Math.floor(r() * 2) : 1, dW = 1 + Math.floor(r() * 2);
    const H = sp2 ? KH * dH + Math.floor(r() * 5) : 1, W = KW * dW + Math.floor(r() * 20);
    const sH = 1 + Math.floor(r() * 2), sW = 1 + Math.floor(r() * 3);
    const pT = sp2 ? Math.floor(r() * KH) : 0, pL = Math.floor(r() * KW);
    const OH = Math.floor((H + pT - dH * (KH - 1) - 1) / sH) + 1, OW = Math.floor((W + pL - dW * (KW - 1) - 1) / sW) + 1;
    geoms.push({ N: 1 + (i % 3 === 0 ? 1 : 0), C: G * (1 + Math.floor(r() * 9)), H, W, M: G * (1 + Math.floor(r() * 20)), G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL });
  }
  // Long rows and wide kernels: im2col's vector runs (8 outputs in one row, sW 1 or 2) and its
  // one-piece copies of KW ≥ 8 adjacent taps between padding zeros.
  for (let i = 0; i < 24; i++) {
    const sp2 = i % 3 === 0;
    const KH = sp2 ? 1 + Math.floor(r() * 2) : 1, KW = i % 2 === 0 ? 8 + Math.floor(r() * 13) : 1 + Math.floor(r() * 3);
    const dW = i % 4 === 1 ? 2 : 1, sW = 1 + (i % 3 === 1 ? 1 : Math.floor(r() * 2)), sH = 1;
    const H = sp2 ? KH + Math.floor(r() * 3) : 1, W = KW * dW + 10 + Math.floor(r() * 40);
    const pT = sp2 ? Math.floor(r() * KH) : 0, pL = Math.floor(r() * KW);
    const OH = Math.floor((H + pT - (KH - 1) - 1) / sH) + 1, OW = Math.floor((W + pL - dW * (KW - 1) - 1) / sW) + 1;
    geoms.push({ N: 1 + (i % 5 === 0 ? 2 : 0), C: 1 + Math.floor(r() * 4), H, W, M: 1 + Math.floor(r() * 12), G: 1, KH, KW, OH, OW, sH, sW, dH: 1, dW, pT, pL });
  }
  it.each(geoms.map((g) => [JSON.stringify(g), g] as const))('%s', (_n, g) => {
    const X = f([g.N * g.C * g.H * g.W]).data as Float32Array;
    const W = f([g.M * (g.C / g.G) * g.KH * g.KW]).data as Float32Array;
    const B = f([g.M]).data as Float32Array;
    const want = new Float32Array(g.N * g.M * g.OH * g.OW);
    convReference(X, W, B, g, want);
    for (const orientation of [undefined, 'tall', 'wide'] as const) {
      for (const k of [ConvKernel.forConstant(W, g.M, W.length / g.M), ConvKernel.perCall()]) {
        const got = new Float32Array(want.length);
        k!.run(X, W, B, g, got, 'none', orientation);
        got.fill(0);
        k!.run(X, W, B, g, got, 'none', orientation); // second run: weights already packed
        const c = compareTensors(new Tensor('float32', got, [got.length]), new Tensor('float32', want, [want.length]), SIMD_TOL);
        expect(c.message ?? '', `${orientation ?? 'chosen'} orientation`).toBe('');
      }
    }
  });
});

describe.skipIf(!wasmModule())('SIMD ConvTranspose kernel against the TypeScript reference', () => {
  const geoms: ConvGeom[] = [];
  for (let i = 0; i < 30; i++) {
    const G = [1, 2, 1, 3][i % 4];
    const sp2 = i % 2 === 1;
    const KH = sp2 ? 1 + Math.floor(r() * 3) : 1, KW = 1 + Math.floor(r() * 4);
    const dH = sp2 ? 1 + Math.floor(r() * 2) : 1, dW = 1 + Math.floor(r() * 3);
    const sH = sp2 ? 1 + Math.floor(r() * 2) : 1, sW = 1 + Math.floor(r() * 3);
    const H = sp2 ? 1 + Math.floor(r() * 5) : 1, W = 1 + Math.floor(r() * 12);
    const pT = sp2 ? Math.floor(r() * KH) : 0, pL = Math.floor(r() * KW);
    const OH = sH * (H - 1) + (KH - 1) * dH + 1 - 2 * pT, OW = sW * (W - 1) + (KW - 1) * dW + 1 - 2 * pL;
    if (OH < 1 || OW < 1) continue;
    geoms.push({ N: 1 + (i % 3 === 0 ? 1 : 0), C: G * (1 + Math.floor(r() * 9)), H, W, M: G * (1 + Math.floor(r() * 7)), G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL });
  }
  it.each(geoms.map((g) => [JSON.stringify(g), g] as const))('%s', (_n, g) => {
    const X = f([g.N * g.C * g.H * g.W]).data as Float32Array;
    const W = f([g.C * (g.M / g.G) * g.KH * g.KW]).data as Float32Array;
    const B = f([g.M]).data as Float32Array;
    const want = new Float32Array(g.N * g.M * g.OH * g.OW);
    convTransposeReference(X, W, B, g, want);
    for (const k of [ConvTransposeKernel.forConstant(W), ConvTransposeKernel.perCall()]) {
      const got = new Float32Array(want.length);
      k!.run(X, W, B, g, got);
      k!.run(X, W, B, g, got); // second run: weights already packed, output overwritten
      const c = compareTensors(new Tensor('float32', got, [got.length]), new Tensor('float32', want, [want.length]), SIMD_TOL);
      expect(c.message ?? '').toBe('');
    }
  });
});

describe('depthwise tap loops against the TypeScript reference', () => {
  const geoms: ConvGeom[] = [];
  for (let i = 0; i < 30; i++) {
    const sp2 = i % 2 === 1;
    const C = 1 + Math.floor(r() * 6), mult = 1 + (i % 3 === 0 ? 1 : 0);
    const KH = sp2 ? 1 + Math.floor(r() * 3) : 1, KW = 1 + Math.floor(r() * 5);
    const dH = sp2 ? 1 + Math.floor(r() * 3) : 1, dW = 1 + Math.floor(r() * 3);
    const sH = sp2 ? 1 + Math.floor(r() * 2) : 1, sW = 1 + Math.floor(r() * 3);
    const H = sp2 ? 1 + Math.floor(r() * 8) : 1, W = 1 + Math.floor(r() * 20);
    const pT = sp2 ? Math.floor(r() * 2 * KH * dH) : 0, pL = Math.floor(r() * 2 * KW * dW);
    geoms.push({ N: 1 + (i % 4 === 0 ? 1 : 0), C, H, W, M: C * mult, G: C, KH, KW, OH: 0, OW: 0, sH, sW, dH, dW, pT, pL });
  }
  const run = (name: string, g: ConvGeom, fast: typeof convDepthwise, ref: typeof convReference) => {
    const X = f([g.N * g.C * g.H * g.W]).data as Float32Array;
    const W = f([g.M * g.KH * g.KW]).data as Float32Array;
    const B = f([g.M]).data as Float32Array;
    const want = new Float32Array(g.N * g.M * g.OH * g.OW), got = new Float32Array(want.length).fill(NaN);
    ref(X, W, B, g, want);
    fast(X, W, B, g, got);
    const c = compareTensors(new Tensor('float32', got, [got.length]), new Tensor('float32', want, [want.length]), SIMD_TOL);
    expect(c.message ?? '', name).toBe('');
  };
  it.each(geoms.map((g) => [JSON.stringify(g), g] as const))('%s', (_n, g0) => {
    const { H, W, KH, KW, sH, sW, dH, dW, pT, pL } = g0;
    const OH = Math.floor((H + 2 * pT - dH * (KH - 1) - 1) / sH) + 1, OW = Math.floor((W + 2 * pL - dW * (KW - 1) - 1) / sW) + 1;
    if (OH >= 1 && OW >= 1) run('Conv', { ...g0, OH, OW }, convDepthwise, convReference);
    const tOH = sH * (H - 1) + (KH - 1) * dH + 1 - 2 * pT, tOW = sW * (W - 1) + (KW - 1) * dW + 1 - 2 * pL;
    if (tOH >= 1 && tOW >= 1) run('ConvTranspose', { ...g0, OH: tOH, OW: tOW }, convTransposeDepthwise, convTransposeReference);
  });
});

describe('packed constant weights are reused across runs', () => {
  const specs: [string, SingleNodeSpec][] = [
    ['Einsum btgi,gih->btgh', { opType: 'Einsum', inputs: [{ name: 'a', tensor: f([1, 3, 4, 8]) }, { name: 'b', tensor: f([4, 8, 8]), constant: true }], outputs: ['y'], attrs: { equation: 'btgi,gih->btgh' }, opset: 12 }],
    ['Conv tall', { opType: 'Conv', inputs: [{ name: 'a', tensor: f([1, 16, 3]) }, { name: 'w', tensor: f([24, 16, 3]), constant: true }], outputs: ['y'], attrs: { pads: [1, 1] } }],
    ['Conv wide', { opType: 'Conv', inputs: [{ name: 'a', tensor: f([1, 16, 20]) }, { name: 'w', tensor: f([24, 16, 3]), constant: true }], outputs: ['y'], attrs: { pads: [1, 1] } }],
    ['ConvTranspose', { opType: 'ConvTranspose', inputs: [{ name: 'a', tensor: f([1, 8, 9]) }, { name: 'w', tensor: f([8, 4, 3]), constant: true }], outputs: ['y'], attrs: { strides: [2] } }],
  ];
  it.each(specs)('%s: three runs with new inputs', async (_n, spec) => {
    const bytes = encodeModel(singleNodeModel(spec));
    const session = InferenceSession.createSync(bytes);
    const dims = spec.inputs[0]!.tensor.dims as number[];
    for (let run = 0; run < 3; run++) {
      const feeds = { a: f(dims) };
      const want = await runOrt(bytes, feeds);
      const c = compareTensors(session.runSync(feeds).y, want.y, SIMD_TOL);
      expect(c.message ?? '', `run ${run}`).toBe('');
    }
  });
});

describe('a Conv node keeps its geometry per input shape', () => {
  it('recomputes it when the length changes, and still names a wrong shape', async () => {
    const model = singleNodeModel({ opType: 'Conv', inputs: [{ name: 'a', tensor: f([1, 16, 20]) }, { name: 'w', tensor: f([24, 16, 3]), constant: true }, { name: 'b', tensor: f([24]), constant: true }], outputs: ['y'], attrs: { pads: [1, 1], strides: [2] } });
    const dynamic = { ...model, graph: { ...model.graph, inputs: [{ ...model.graph.inputs[0], shape: [1, 'C', 'T'] }] } };
    const bytes = encodeModel(dynamic);
    const session = InferenceSession.createSync(bytes);
    for (const T of [20, 7, 20, 33, 3]) {
      const feeds = { a: f([1, 16, T]) };
      const got = session.runSync(feeds).y;
      const want = await runOrt(bytes, feeds);
      expect(got.dims).toEqual(want.y.dims);
      expect(compareTensors(got, want.y, SIMD_TOL).message ?? '', `T=${T}`).toBe('');
    }
    expect(() => session.runSync({ a: f([1, 15, 20]) })).toThrow(/Conv_0.*channels do not match: X has 15/);
  });
});

describe.skipIf(!wasmModule())('SIMD depthwise Conv kernel against the TypeScript reference', () => {
  const geoms: ConvGeom[] = [];
  for (let i = 0; i < 24; i++) {
    const sp2 = i % 2 === 0;
    const C = 1 + Math.floor(r() * 9), mult = 1 + (i % 3 === 0 ? 1 : 0);
    const KH = sp2 ? 1 + Math.floor(r() * 3) : 1, KW = 1 + Math.floor(r() * 5);
    const dH = sp2 ? 1 + Math.floor(r() * 2) : 1, dW = 1 + Math.floor(r() * 2);
    const H = sp2 ? KH * dH + Math.floor(r() * 5) : 1, W = KW * dW + Math.floor(r() * 30);
    const sH = 1 + Math.floor(r() * 2), sW = 1 + Math.floor(r() * 3);
    const pT = sp2 ? Math.floor(r() * KH) : 0, pL = Math.floor(r() * (KW + 1));
    const OH = Math.floor((H + 2 * pT - dH * (KH - 1) - 1) / sH) + 1, OW = Math.floor((W + 2 * pL - dW * (KW - 1) - 1) / sW) + 1;
    geoms.push({ N: 1 + (i % 4), C, H, W, M: C * mult, G: C, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL });
  }
  it.each(geoms.map((g) => [JSON.stringify(g), g] as const))('%s', (_n, g) => {
    const X = f([g.N * g.C * g.H * g.W]).data as Float32Array;
    const W = f([g.M * g.KH * g.KW]).data as Float32Array;
    const B = f([g.M]).data as Float32Array;
    const want = new Float32Array(g.N * g.M * g.OH * g.OW);
    convReference(X, W, B, g, want);
    for (const k of [ConvKernel.forConstant(W, g.M, W.length / g.M), ConvKernel.perCall()]) {
      for (const bias of [B, undefined]) {
        const exp = bias ? want : new Float32Array(want.length);
        if (!bias) convReference(X, W, undefined, g, exp);
        const got = new Float32Array(want.length).fill(NaN);
        k!.runDepthwise(X, W, bias, g, got);
        const c = compareTensors(new Tensor('float32', got, [got.length]), new Tensor('float32', exp, [exp.length]), SIMD_TOL);
        expect(c.message ?? '').toBe('');
      }
    }
  });
});

/** Conv → Relu as a two-node model; `alsoOutput` makes the Conv's result a graph output too (no fusion). */
function convRelu(xd: number[], wd: number[], attrs: Attrs, fed: boolean, alsoOutput = false, type: 'float32' | 'float16' = 'float32') {
  const x = randTensor(r, xd, type, -1, 1), w = randTensor(r, wd, type, -1, 1), b = randTensor(r, [wd[0]], type, -1, 1);
  const base = singleNodeModel({ opType: 'Conv', inputs: [{ name: 'x', tensor: x }, { name: 'w', tensor: w, constant: !fed }, { name: 'b', tensor: b, constant: !fed }], outputs: ['c'], attrs });
  const relu = { name: 'Relu_1', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['y'], attributes: new Map() };
  const outputs = [...(alsoOutput ? base.graph.outputs : []), { ...base.graph.outputs[0], name: 'y' }];
  const model = { ...base, graph: { ...base.graph, nodes: [...base.graph.nodes, relu], outputs } };
  const feeds: Record<string, Tensor> = fed ? { x, w, b } : { x };
  return { model, feeds };
}

describe('Conv + Relu fused in the plan', () => {
  const shapes: [string, number[], number[], Attrs][] = [
    ['1-D k3 P=24', [1, 16, 24], [20, 16, 3], { pads: [1, 1] }],
    ['1-D P=3 (tall)', [1, 12, 3], [10, 12, 3], { pads: [1, 1] }],
    ['1-D batch 7 P=2', [7, 12, 4], [10, 12, 3], { pads: [1, 0], strides: [2] }],
    ['1-D depthwise', [2, 9, 20], [9, 1, 5], { group: 9, pads: [2, 2] }],
    ['2-D groups 2 stride', [1, 8, 4, 17], [6, 4, 2, 3], { group: 2, strides: [1, 2], pads: [0, 1, 1, 1] }],
  ];
  for (const [name, xd, wd, attrs] of shapes) {
    for (const fed of [false, true]) {
      it(`${name}${fed ? ' weights fed' : ''} against onnxruntime-node`, async () => {
        const { model, feeds } = convRelu(xd, wd, attrs, fed);
        const res = await crossCheckModel(model, feeds, SIMD_TOL);
        expect(res.messages).toEqual([]);
      });
    }
  }

  it('fuses, and gives the unfused result bit for bit (NaN and -0 included)', () => {
    const { model, feeds } = convRelu([1, 6, 30], [8, 6, 3], { pads: [1, 1] }, false);
    const x = feeds.x.data as Float32Array;
    x[3] = NaN;
    const s = InferenceSession.createSync(model);
    s.startProfiling();
    const fused = s.runSync(feeds).y;
    expect(s.endProfiling().ops.map((o) => o.opType)).toEqual(['Conv+Relu']);
    const plain = InferenceSession.createSync({ ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, { ...model.graph.outputs[0], name: 'c' }] } }).runSync(feeds).y;
    expect(Array.from(fused.data as Float32Array)).toEqual(Array.from(plain.data as Float32Array));
    expect(Array.from(fused.data as Float32Array).some((v) => v === 0)).toBe(true);
  });

  it('float16 runs the two ops as written', () => {
    const { model, feeds } = convRelu([1, 4, 12], [5, 4, 3], {}, false, false, 'float16');
    const fused = InferenceSession.createSync(model).runSync(feeds).y;
    const { model: m2 } = { model: { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, { ...model.graph.outputs[0], name: 'c' }] } } };
    const plain = InferenceSession.createSync(m2).runSync(feeds).y;
    expect(fused.type).toBe('float16');
    expect(Array.from(fused.data as Uint16Array)).toEqual(Array.from(plain.data as Uint16Array));
  });
});
