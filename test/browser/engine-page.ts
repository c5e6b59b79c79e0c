// Bundled by test/browser.test.ts with esbuild for the browser (rnnx's `browser` build: no Node
// module may reach it). Exposes the calls the test makes through page.evaluate.
import { InferenceSession, Tensor, kernelInfo, loadKernels, setKernels, type DataType } from '../../src/index.js';

export interface WireTensor { type: DataType; dims: number[]; data: (number | string)[] }

function fromWire(w: WireTensor): Tensor {
  if (w.type === 'int64') return new Tensor(w.type, BigInt64Array.from(w.data, (v) => BigInt(v)), w.dims);
  return new Tensor(w.type, w.data as number[], w.dims);
}

/** float32 outputs as their bit patterns (so the comparison is bit for bit, NaN and -0 included). */
function toWire(t: Tensor): WireTensor {
  const d = t.data;
  if (d instanceof Float32Array) return { type: t.type, dims: [...t.dims], data: Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length)) };
  return { type: t.type, dims: [...t.dims], data: Array.from(d as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v)) };
}

/**
 * Runs `steps` of a model from `url`. `carry` maps outputs to the next step's inputs (recurrent
 * state). Returns every step's outputs as wire tensors.
 */
async function runModel(url: string, steps: Record<string, WireTensor>[], carry: Record<string, string>, threads: 1 | 2 = 1, fuse = true) {
  const t0 = performance.now();
  const session = await InferenceSession.create(url, { threads, fuse });
  const created = performance.now() - t0;
  const out: Record<string, WireTensor>[] = [];
  let state: Record<string, Tensor> = {};
  const t1 = performance.now();
  for (const step of steps) {
    const feeds: Record<string, Tensor> = { ...Object.fromEntries(Object.entries(step).map(([k, v]) => [k, fromWire(v)])), ...state };
    const r = await session.run(feeds);
    state = Object.fromEntries(Object.entries(carry).map(([o, i]) => [i, r[o]]));
    out.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toWire(v)])));
  }
  const ran = performance.now() - t1;
  const kernels = session.kernels;
  await session.release();
  return { out, kernels, created, ran, info: kernelInfo(), isolated: globalThis.crossOriginIsolated === true };
}

/** Model sources other than a URL string: ArrayBuffer, Uint8Array, Blob, URL object. */
async function sources(url: string) {
  const bytes = await (await fetch(url)).arrayBuffer();
  const names: string[][] = [];
  for (const src of [bytes, new Uint8Array(bytes), new Blob([bytes]), new URL(url, location.href)]) {
    names.push([...(await InferenceSession.create(src)).outputNames]);
  }
  let error = '';
  try { await InferenceSession.create('/missing.onnx'); } catch (e) { error = `${(e as Error).name}: ${(e as Error).message}`; }
  return { names, error };
}

/** Embedded kernels against kernels.wasm fetched from next to the bundle: load times (ms). */
async function kernelLoadTimes(wasmUrl: string) {
  const times = { embedded: 0, url: 0 };
  for (let i = 0; i < 5; i++) {
    setKernels({ kernels: null });
    let t = performance.now();
    await loadKernels();
    times.embedded += (performance.now() - t) / 5;
    setKernels({ kernels: new URL(wasmUrl, location.href) });
    t = performance.now();
    await loadKernels();
    times.url += (performance.now() - t) / 5;
  }
  const viaUrl = kernelInfo();
  setKernels({ kernels: null });
  await loadKernels();
  return { times, viaUrl, back: kernelInfo() };
}

Object.assign(globalThis, { rnnxTest: { runModel, sources, kernelLoadTimes } });
