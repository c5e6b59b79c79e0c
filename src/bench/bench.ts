// npm run bench [-- --json FILE] [-- --only w1,w4] [-- --real | --synthetic] [-- --models DIR] [-- --fused-check] [-- --threads]   (npm run bench -- --stream: src/bench/stream-bench.ts; -- --ops: src/bench/op-chains.ts)
// Runs every workload (w1–w6, then the real models of test/fixtures/real, or of --models DIR, on their first chunk) in
// rnnx, onnxruntime-node and onnxruntime-web (wasm), one thread each, in one process, after
// warm-up, in rounds; prints median times, ratios, their geometric means, the spread of each
// round's ratios, rnnx's peak memory and max error, and rnnx's heap growth over 1,000 streaming
// runs of Silero v5.
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { InferenceSession } from '../runtime/session.js';
import { Tensor as TensorClass, type DataType, type Tensor } from '../ir/tensor.js';
import { compareTensors, type Tolerance } from '../runtime/compare.js';
import { chunkFeeds, realModels, type RealModel } from './real-models.js';
import { workloads, type Workload } from './workloads.js';

type Runner = () => Promise<unknown>;

/** |a − b| ≤ 1e-5 + 1e-4·|b|, as test/real-models.test.ts. */
const REAL_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
interface Row { workload: string; engine: string; median_ms: number }

interface Timing {
  /** Median of every counted run. */
  median: Record<string, number>;
  /** Each round's block median, per engine: their ratios show how much the machine drifted. */
  rounds: Record<string, number[]>;
}

/**
 * Median time of each runner, measured in rounds: each round gives every engine a block of
 * consecutive runs (~1/10 of the budget; its first run, with caches cold from the other engines,
 * is not counted). A slow patch of this shared machine thus hits every engine, though not always
 * equally: the per-round ratios show how much.
 */
async function timeAll(runners: Record<string, Runner>, budgetMs: number): Promise<Timing> {
  const names = Object.keys(runners);
  for (const n of names) for (let i = 0; i < 3; i++) await runners[n](); // warm-up
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const rounds: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const block = budgetMs / 10;
  for (let round = 0; round < 10; round++) {
    for (const n of names) {
      const start = performance.now();
      await runners[n](); // cold after the other engines: not counted
      const blockTimes: number[] = [];
      while (blockTimes.length < 2 || (performance.now() - start < block && blockTimes.length < 200)) {
        const t0 = performance.now();
        await runners[n]();
        blockTimes.push(performance.now() - t0);
      }
      times[n].push(...blockTimes);
      rounds[n].push(median(blockTimes));
    }
  }
  return { median: Object.fromEntries(names.map((n) => [n, median(times[n])])), rounds };
}

function median(xs: number[]): number {
  const t = [...xs].sort((x, y) => x - y);
  return t[Math.floor(t.length / 2)];
}

/** min–max over rounds of rnnx's block median over another engine's in the same round. */
function roundSpread(rounds: Record<string, number[]>, other: string): string {
  const r = rounds.rnnx.map((t, i) => t / rounds[other][i]);
  return `${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}`;
}

async function ortRunner(mod: typeof import('onnxruntime-node') | typeof import('onnxruntime-web'), w: Workload, web: boolean): Promise<Runner> {
  const opts = web ? { executionProviders: ['wasm'] } : { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] };
  const s = await mod.InferenceSession.create(w.onnx, opts as never);
  const feeds = Object.fromEntries(Object.entries(w.feeds).map(([k, t]) => [k, new mod.Tensor(t.type as never, t.data as never, t.dims)]));
  return () => s.run(feeds as never);
}

function memNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

/** A real model's first chunk (states at zeros) as a workload. */
function realWorkload(m: RealModel): Workload {
  return { name: m.name, shape: (m.spec.covers ?? []).join(', '), onnx: fs.readFileSync(m.file), feeds: chunkFeeds(m, 0) };
}

/** Largest |rnnx − onnxruntime-node| over all outputs, and whether every element is within issue 10's tolerance. */
function maxError(ours: Record<string, Tensor>, theirs: Record<string, { type: string; data: unknown; dims: readonly number[] }>): { max: number; ok: boolean } {
  let max = 0, ok = true;
  for (const [k, t] of Object.entries(theirs)) {
    const c = compareTensors(ours[k], new TensorClass(t.type as DataType, t.data as never, t.dims), REAL_TOL);
    ok &&= c.ok;
    max = Math.max(max, Number.isNaN(c.maxAbs) ? Infinity : c.maxAbs);
  }
  return { max, ok };
}

/**
 * rnnx's heap over 1,000 streaming runs (states carried, inputs prepared beforehand): bytes
 * allocated (heap + array buffers), from the growth of runs during which no GC ran, and bytes
 * still held after a full GC (needs --expose-gc).
 */
function heapGrowth(m: RealModel, runs = 1000): { allocated: number; retained: number | undefined } {
  const session = InferenceSession.createSync(fs.readFileSync(m.file));
  const chunks = Array.from({ length: 20 }, (_, i) => chunkFeeds(m, i));
  const pairs = Object.entries(m.spec.inputs).flatMap(([name, s]) => (s.state ? [[name, s.state] as const] : []));
  let prev = session.runSync(chunks[0]);
  const step = (i: number): void => {
    const feeds = chunks[i % chunks.length];
    for (const [input, output] of pairs) feeds[input] = prev[output];
    prev = session.runSync(feeds);
  };
  for (let i = 0; i < 50; i++) step(i);
  let probe = 0; // what memNow itself allocates
  for (let i = 0; i < 50; i++) { const a = memNow(); probe += Math.max(0, memNow() - a); }
  probe /= 50;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = memNow();
  const deltas: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = memNow();
    step(i);
    const d = memNow() - a - probe;
    if (d >= 0) deltas.push(d); // a negative delta: a GC ran during this run
  }
  const allocated = deltas.reduce((x, y) => x + y, 0) / Math.max(1, deltas.length) * runs;
  gc?.();
  return { allocated, retained: gc ? memNow() - base : undefined };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--stream')) {
    const { streamBench } = await import('./stream-bench.js'); // the streaming benchmark, reported apart from w1–w6
    await streamBench(args);
    return;
  }
  if (args.includes('--ops')) {
    const { opChainBench } = await import('./op-chains.js'); // the fixed cost of one node, per op type
    const at = args.indexOf('--only');
    await opChainBench(at >= 0 ? args[at + 1].split(',') : undefined);
    return;
  }
  const jsonAt = args.indexOf('--json');
  const json = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1].split(',') : undefined;
  const budget = Number(process.env.RNNX_BENCH_MS ?? 2000);
  const ortNode = await import('onnxruntime-node');
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  const modelsAt = args.indexOf('--models');
  const reals = args.includes('--synthetic') ? [] : modelsAt >= 0 ? realModels(undefined, path.resolve(args[modelsAt + 1])) : realModels();
  const all: { w: Workload; real?: RealModel }[] = [
    ...(args.includes('--real') ? [] : workloads().map((w) => ({ w }))),
    ...reals.map((m) => ({ w: realWorkload(m), real: m })),
  ].filter(({ w }) => !only || only.some((o) => w.name.startsWith(o)));
  const rows: Row[] = [];
  const peaks: Record<string, number> = {};
  const errors: Record<string, { max: number; ok: boolean }> = {};
  const failures: Record<string, string> = {};
  const fusedRows: string[] = [];
  const threadRows: string[] = [];
  const spreadRows: string[] = [];
  const formRows: string[] = [];
  console.log(`rnnx benchmark — ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, one thread per engine`);
  for (const { w, real } of all) {
    // rnnx's peak memory: heap + array buffers over its own first runs, before other engines load.
    global.gc?.();
    const base = memNow();
    let peak = base;
    let session: InferenceSession | undefined;
    let first: Record<string, Tensor> | undefined;
    try {
      session = InferenceSession.createSync(w.onnx);
      for (let i = 0; i < 3; i++) {
        first = session.runSync(w.feeds);
        peak = Math.max(peak, memNow());
      }
    } catch (e) {
      if (!real) throw e;
      failures[w.name] = (e as Error).message.split('\n')[0];
      session = undefined;
    }
    const runners: Record<string, Runner> = {
      ...(session ? { rnnx: async (): Promise<Record<string, Tensor>> => session.runSync(w.feeds) } : {}),
      'onnxruntime-node': await ortRunner(ortNode, w, false),
      'onnxruntime-web': await ortRunner(ortWeb, w, true),
    };
    if (session && w.baseline) {
      // The TorchScript-form export of the same module, timed in the same rounds.
      const ts = InferenceSession.createSync(w.baseline);
      runners['rnnx-torchscript-form'] = async () => ts.runSync(w.feeds);
    }
    if (first) errors[w.name] = maxError(first, await runners['onnxruntime-node']() as never);
    let unfused: InferenceSession | undefined;
    let two: InferenceSession | undefined;
    if (session && args.includes('--fused-check')) {
      unfused = InferenceSession.createSync(w.onnx, { fuse: false });
      runners['rnnx-unfused'] = async () => unfused!.runSync(w.feeds);
    }
    if (session && args.includes('--threads')) {
      two = InferenceSession.createSync(w.onnx, { threads: 2 });
      runners['rnnx-2-threads'] = async () => two!.runSync(w.feeds);
      threadRows.push(w.name);
    }
    const { median: med, rounds } = await timeAll(runners, budget);
    if (session) spreadRows.push(`| ${w.name} | ${roundSpread(rounds, 'onnxruntime-node')} | ${roundSpread(rounds, 'onnxruntime-web')} |`);
    await two?.release();
    peaks[w.name] = peak - base;
    for (const engine of ['rnnx', 'onnxruntime-node', 'onnxruntime-web', 'rnnx-2-threads']) {
      if (med[engine] !== undefined) rows.push({ workload: w.name, engine, median_ms: med[engine] });
    }
    if (session && w.baseline) formRows.push(`| ${w.name} | ${med.rnnx.toFixed(3)} | ${med['rnnx-torchscript-form'].toFixed(3)} | ${(med.rnnx / med['rnnx-torchscript-form']).toFixed(3)} | ${roundSpread(rounds, 'rnnx-torchscript-form')} |`);
    if (unfused) fusedRows.push(`${w.name}: fused ${med.rnnx.toFixed(3)} ms, unfused ${med['rnnx-unfused'].toFixed(3)} ms (fused/unfused ${(med.rnnx / med['rnnx-unfused']).toFixed(2)})`);
    const node = med['onnxruntime-node'], web = med['onnxruntime-web'];
    const head = `${w.name.padEnd(22)} ort-node ${node.toFixed(3).padStart(9)} ms | ort-web ${web.toFixed(3).padStart(9)} ms`;
    if (!session) console.log(`${head} | rnnx FAILS: ${failures[w.name]}`);
    else console.log(`${head} | rnnx ${med.rnnx.toFixed(3).padStart(9)} ms | rnnx/node ${(med.rnnx / node).toFixed(2)} | rnnx/web ${(med.rnnx / web).toFixed(2)} | rnnx peak +${(peaks[w.name] / 2 ** 20).toFixed(1)} MiB${errors[w.name] ? ` | max error ${errors[w.name].max.toExponential(1)}${errors[w.name].ok ? '' : ' (OUTSIDE TOLERANCE)'}` : ''}`);
  }
  const get = (name: string, e: string): number | undefined => rows.find((r) => r.workload === name && r.engine === e)?.median_ms;
  const fmt = (x: number | undefined, d = 3): string => (x === undefined ? '—' : x.toFixed(d));
  const table = (list: Workload[], what: string, extra: (w: Workload) => string): void => {
    if (!list.length) return;
    console.log(`\n| ${what} | shape | rnnx ms | onnxruntime-node ms | onnxruntime-web ms | rnnx / node | rnnx / web | ${what === 'workload' ? 'rnnx peak memory' : 'max error vs node'} |`);
    console.log('|---|---|---|---|---|---|---|---|');
    const rn: number[] = [], rw: number[] = [];
    for (const w of list) {
      const r = get(w.name, 'rnnx'), n = get(w.name, 'onnxruntime-node')!, b = get(w.name, 'onnxruntime-web')!;
      if (r !== undefined) { rn.push(r / n); rw.push(r / b); }
      console.log(`| ${w.name} | ${w.shape} | ${r === undefined ? `fails: ${failures[w.name]}` : fmt(r)} | ${fmt(n)} | ${fmt(b)} | ${fmt(r && r / n, 2)} | ${fmt(r && r / b, 2)} | ${extra(w)} |`);
    }
    if (rn.length) console.log(`| geometric mean (${rn.length} of ${list.length} run) | | | | | ${geomean(rn).toFixed(2)} | ${geomean(rw).toFixed(2)} | |`);
  };
  table(all.filter((x) => !x.real).map((x) => x.w), 'workload', (w) => `+${(peaks[w.name] / 2 ** 20).toFixed(1)} MiB`);
  table(all.filter((x) => x.real).map((x) => x.w), 'model', (w) => (errors[w.name] ? `${errors[w.name].max.toExponential(1)}${errors[w.name].ok ? '' : ' OUTSIDE TOLERANCE'}` : '—'));
  console.log('\nrnnx / other engine in each of the 10 rounds (block medians, min–max): how much the machine drifted\n');
  console.log('| workload | rnnx / node per round | rnnx / web per round |');
  console.log('|---|---|---|');
  for (const row of spreadRows) console.log(row);
  if (formRows.length) {
    console.log('\nrnnx on the dynamo exporter\'s form vs the TorchScript exporter\'s form of the same module (same rounds)\n');
    console.log('| workload | dynamo form ms | TorchScript form ms | dynamo / TorchScript | per round |');
    console.log('|---|---|---|---|---|');
    for (const row of formRows) console.log(row);
  }
  const v5 = reals.find((m) => m.name === 'silero_v5');
  if (v5 && all.some((x) => x.real === v5) && !failures[v5.name]) {
    const h = heapGrowth(v5);
    console.log(`\nrnnx heap growth, ${v5.name} streaming (state carried), per 1,000 runs: allocated ${(h.allocated / 2 ** 20).toFixed(2)} MiB (${(h.allocated / 1000 / 1024).toFixed(1)} KiB a run), ` +
      `retained after GC ${h.retained === undefined ? 'n/a (run node with --expose-gc)' : `${(h.retained / 1024).toFixed(1)} KiB`}`);
  }
  if (fusedRows.length) console.log(`\nfused vs unfused import:\n${fusedRows.join('\n')}`);
  if (threadRows.length) {
    console.log('\nrnnx with threads: 2 (one worker thread; reported apart from the one-thread figures above)\n');
    console.log('| workload | rnnx 1 thread ms | rnnx 2 threads ms | 2 threads / onnxruntime-node (1 thread) |');
    console.log('|---|---|---|---|');
    for (const name of threadRows) {
      console.log(`| ${name} | ${fmt(get(name, 'rnnx'))} | ${fmt(get(name, 'rnnx-2-threads'))} | ${(get(name, 'rnnx-2-threads')! / get(name, 'onnxruntime-node')!).toFixed(2)} |`);
    }
  }
  if (json) fs.writeFileSync(json, JSON.stringify(rows, null, 1));
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
