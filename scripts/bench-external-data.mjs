// External data loading: rnnx vs onnxruntime-node on the same files (issue 15, item 2).
//   npm run build && node scripts/bench-external-data.mjs [--big]
// 1. 100 initializers of 1 MiB in one data file: load time, alternating engines, medians.
// 2. --big: a 3 GiB (sparse) data file with tensors at offset 0, across the 2 GiB mark and at
//    its end: loads, and the values are checked.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../dist/import/model.js';
import { InferenceSession } from '../dist/runtime/session.js';
import { onnx } from '../dist/import/proto.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-extbench-'));

/** A model: y = Sum(w_0 .. w_{k-1}) with each w_i external at offsets[i] of data.bin. */
function writeModel(sub, offsets, elems) {
  const d = path.join(dir, sub);
  fs.mkdirSync(d, { recursive: true });
  const names = offsets.map((_, i) => `w_${i}`);
  const graph = {
    name: 'g',
    node: [{ name: 'sum', opType: 'Sum', input: names, output: ['y'] }],
    initializer: offsets.map((o, i) => ({
      name: names[i], dims: [elems], dataType: 1, dataLocation: 1,
      externalData: [{ key: 'location', value: 'data.bin' }, { key: 'offset', value: String(o) }, { key: 'length', value: String(elems * 4) }],
    })),
    output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: elems }] } } } }],
  };
  const file = path.join(d, 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 14 }], graph }).finish());
  return { file, data: path.join(d, 'data.bin') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function many() {
  const n = 100, elems = 262144; // 1 MiB each
  const { file, data } = writeModel('many', Array.from({ length: n }, (_, i) => i * elems * 4), elems);
  const buf = new Float32Array(n * elems);
  for (let i = 0; i < buf.length; i++) buf[i] = (i % 1000) / 1000;
  fs.writeFileSync(data, new Uint8Array(buf.buffer));
  const r = [], o = [];
  for (let round = 0; round < 7; round++) {
    let t = performance.now();
    loadModel(file);
    r.push(performance.now() - t);
    t = performance.now();
    const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    o.push(performance.now() - t);
    await s.release();
  }
  const ratios = r.map((x, i) => x / o[i]);
  console.log(`100 x 1 MiB external tensors: rnnx loadModel median ${median(r).toFixed(1)} ms, onnxruntime-node create median ${median(o).toFixed(1)} ms, ratio ${(median(r) / median(o)).toFixed(2)} (per round ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
  const t = performance.now();
  InferenceSession.createSync(file);
  console.log(`  rnnx InferenceSession.createSync (load + prepare): ${(performance.now() - t).toFixed(1)} ms`);
}

async function big() {
  const elems = 262144, bytes = elems * 4;
  const size = 3 * 2 ** 30;
  const offsets = [0, 2 ** 31 - bytes / 2, size - bytes];
  const { file, data } = writeModel('big', offsets, elems);
  const fd = fs.openSync(data, 'w');
  fs.ftruncateSync(fd, size); // sparse: 3 GiB without 3 GiB of disk
  offsets.forEach((off, k) => fs.writeSync(fd, new Float32Array(elems).fill(k + 1), 0, bytes, off));
  fs.closeSync(fd);
  let t = performance.now();
  const out = InferenceSession.createSync(file).runSync({}).y.data;
  const ms = performance.now() - t;
  const ok = out.every((v) => v === 6);
  console.log(`3 GiB data file (tensors at 0, across 2 GiB, at the end): rnnx ${ok ? 'loads, Sum = 6 everywhere' : 'WRONG VALUES'} in ${ms.toFixed(1)} ms`);
  t = performance.now();
  try {
    const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const y = (await s.run({})).y.data;
    console.log(`  onnxruntime-node: ${y.every((v) => v === 6) ? 'same' : 'different'} in ${(performance.now() - t).toFixed(1)} ms`);
  } catch (e) {
    console.log(`  onnxruntime-node: ${String(e.message).split('\n')[0]}`);
  }
  if (!ok) process.exitCode = 1;
}

try {
  await many();
  if (process.argv.includes('--big')) await big();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
