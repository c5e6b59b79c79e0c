// Conv / ConvTranspose / Einsum single-node benchmark: rnnx (SIMD path), rnnx's plain TypeScript
// reference kernel, onnxruntime-node and onnxruntime-web (wasm), one thread each, in one process.
// Engines are timed in alternating blocks (the first run of each block dropped), as src/bench does.
// Usage: npm run build && node scripts/bench-kernels.mjs [--only NAME,...] (RNNX_BENCH_MS per case, default 1500)
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { encodeModel, singleNodeModel } from '../dist/export/onnx.js';
import { Tensor } from '../dist/ir/tensor.js';
import { convReference, convTransposeReference } from '../dist/ops/conv.js';
import { InferenceSession } from '../dist/runtime/session.js';

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.simd = true;

let seed = 99;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const f = (dims) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, rand), dims);

/** [name, X, W, attrs, reference geometry or null] */
const CONVS = [
  ['silero stft 1x576 k256 s128', [1, 1, 576], [258, 1, 256], { strides: [128] }],
  ['silero enc 129->128 k3 P=3', [1, 129, 3], [128, 129, 3], { pads: [1, 1] }],
  ['silero enc 128->64 k3 s2', [1, 128, 3], [64, 128, 3], { pads: [1, 1], strides: [2] }],
  ['silero enc 64->128 k3 P=1', [1, 64, 1], [128, 64, 3], { pads: [1, 1] }],
  ['pointwise 512->256 P=1', [1, 512, 1], [256, 512, 1], {}],
  ['2-D 64->64 1x3 s(1,2) F=32', [1, 64, 1, 32], [64, 64, 1, 3], { strides: [1, 2], pads: [0, 1, 0, 1] }],
  ['2-D 16->16 2x3 F=65', [1, 16, 2, 65], [16, 16, 2, 3], { pads: [0, 1, 0, 1] }],
  ['2-D depthwise 64 2x3 F=32', [1, 64, 2, 32], [64, 1, 2, 3], { group: 64, pads: [0, 1, 0, 1] }],
  ['2-D groups 2 32->32 1x3 F=33', [1, 32, 1, 33], [32, 16, 1, 3], { group: 2, pads: [0, 1, 0, 1] }],
  ['2-D offline T=100 64->64 1x3 s(1,2)', [1, 64, 100, 32], [64, 64, 1, 3], { strides: [1, 2], pads: [0, 1, 0, 1] }],
  ['T gtcrn 1x1 24->16 F=33', [1, 24, 1, 33], [24, 16, 1, 1], {}, 'ConvTranspose'],
  ['T gtcrn 1x5 s(1,2) 16->2 F=65', [1, 16, 1, 65], [16, 2, 1, 5], { strides: [1, 2], pads: [0, 2, 0, 2] }, 'ConvTranspose'],
  ['T gtcrn depthwise 3x3 dil (5,1)', [1, 16, 11, 33], [16, 1, 3, 3], { group: 16, dilations: [5, 1], pads: [10, 1, 10, 1] }, 'ConvTranspose'],
  ['T 1-D 64->32 k4 s2', [1, 64, 50], [64, 32, 4], { strides: [2], pads: [1, 1] }, 'ConvTranspose'],
];

/** [name, equation, A dims, B dims (a constant)] */
const EINSUMS = [
  ['E grouped linear T=1 btgi,gih->btgh', 'btgi,gih->btgh', [1, 1, 8, 32], [8, 32, 32]],
  ['E grouped linear T=100 btgi,gih->btgh', 'btgi,gih->btgh', [1, 100, 8, 32], [8, 32, 32]],
  ['E bij,bjk->bik', 'bij,bjk->bik', [16, 8, 32], [16, 32, 16]],
];

function median(xs) {
  const t = [...xs].sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

async function timeAll(runners, budgetMs) {
  const names = Object.keys(runners);
  for (const n of names) for (let i = 0; i < 3; i++) await runners[n]();
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < 10; round++) {
    for (const n of names) {
      const start = performance.now();
      await runners[n]();
      const block = [];
      while (block.length < 2 || (performance.now() - start < budgetMs / 10 && block.length < 500)) {
        const t0 = performance.now();
        await runners[n]();
        block.push(performance.now() - t0);
      }
      times[n].push(...block);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])]));
}

async function ortRunner(mod, bytes, feeds, web) {
  const opts = web ? { executionProviders: ['wasm'] } : { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] };
  const s = await mod.InferenceSession.create(bytes, opts);
  const of = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new mod.Tensor(t.type, t.data, t.dims)]));
  return () => s.run(of);
}

function lift(xd, wd, attrs) {
  const sp = xd.length - 2;
  const two = (v, d) => (sp === 2 ? [v?.[0] ?? d, v?.[1] ?? d] : [1, v?.[0] ?? d]);
  const [H, W] = two(xd.slice(2)), [KH, KW] = two(wd.slice(2)), [sH, sW] = two(attrs.strides, 1), [dH, dW] = two(attrs.dilations, 1);
  const pads = attrs.pads ?? new Array(2 * sp).fill(0);
  const [pT, pL] = sp === 2 ? [pads[0], pads[1]] : [0, pads[0]];
  const [pB, pR] = sp === 2 ? [pads[2], pads[3]] : [0, pads[1]];
  const OH = Math.floor((H + pT + pB - dH * (KH - 1) - 1) / sH) + 1, OW = Math.floor((W + pL + pR - dW * (KW - 1) - 1) / sW) + 1;
  return { N: xd[0], C: xd[1], H, W, M: wd[0], G: attrs.group ?? 1, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL };
}

async function main() {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1].split(',') : undefined;
  const budget = Number(process.env.RNNX_BENCH_MS ?? 1500);
  console.log('| case | rnnx µs | reference µs | onnxruntime-node µs | onnxruntime-web µs | rnnx / node | rnnx / web |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, eq, ad, bd] of EINSUMS) {
    if (only && !only.some((o) => name.includes(o))) continue;
    const a = f(ad), b = f(bd);
    const bytes = encodeModel(singleNodeModel({ opType: 'Einsum', inputs: [{ name: 'a', tensor: a }, { name: 'b', tensor: b, constant: true }], outputs: ['y'], attrs: { equation: eq }, opset: 12 }));
    const session = InferenceSession.createSync(bytes);
    const feeds = { a };
    const t = await timeAll({ rnnx: () => session.runSync(feeds), node: await ortRunner(ortNode, bytes, feeds, false), web: await ortRunner(ortWeb, bytes, feeds, true) }, budget);
    const us = (v) => (v * 1000).toFixed(1);
    console.log(`| ${name} | ${us(t.rnnx)} | – | ${us(t.node)} | ${us(t.web)} | ${(t.rnnx / t.node).toFixed(2)} | ${(t.rnnx / t.web).toFixed(2)} |`);
  }
  for (const [name, xd, wd, attrs, op = 'Conv'] of CONVS) {
    if (only && !only.some((o) => name.includes(o))) continue;
    const T = op === 'ConvTranspose';
    const M = T ? wd[1] * (attrs.group ?? 1) : wd[0];
    const x = f(xd), w = f(wd), b = f([M]);
    const spec = { opType: op, inputs: [{ name: 'x', tensor: x }, { name: 'w', tensor: w, constant: true }, { name: 'b', tensor: b, constant: true }], outputs: ['y'], attrs };
    const bytes = encodeModel(singleNodeModel(spec));
    const session = InferenceSession.createSync(bytes);
    const feeds = { x };
    const y = session.runSync(feeds).y;
    const g = lift(xd, wd, attrs);
    if (T) Object.assign(g, { M, OH: y.dims.length === 4 ? y.dims[2] : 1, OW: y.dims[y.dims.length - 1] });
    const out = new Float32Array(g.N * g.M * g.OH * g.OW);
    const runners = {
      rnnx: () => session.runSync(feeds),
      reference: () => (T ? convTransposeReference : convReference)(x.data, w.data, b.data, g, out),
      node: await ortRunner(ortNode, bytes, feeds, false),
      web: await ortRunner(ortWeb, bytes, feeds, true),
    };
    const t = await timeAll(runners, budget);
    const us = (v) => (v * 1000).toFixed(1);
    console.log(`| ${name} | ${us(t.rnnx)} | ${us(t.reference)} | ${us(t.node)} | ${us(t.web)} | ${(t.rnnx / t.node).toFixed(2)} | ${(t.rnnx / t.web).toFixed(2)} |`);
  }
}

await main();
