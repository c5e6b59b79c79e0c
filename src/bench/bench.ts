// npm run bench [-- --json FILE] [-- --only w1,w4] [-- --fused-check] [-- --threads]
// Runs every workload in rnnx, onnxruntime-node and onnxruntime-web (wasm), one thread each, in
// one process, after warm-up; prints median times, ratios and rnnx's peak memory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { InferenceSession } from '../runtime/session.js';
import type { Tensor } from '../ir/tensor.js';
import { workloads, type Workload } from './workloads.js';

type Runner = () => Promise<unknown>;
interface Row { workload: string; engine: string; median_ms: number }

async function timeIt(run: Runner, budgetMs: number): Promise<number> {
  for (let i = 0; i < 3; i++) await run(); // warm-up
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 1000)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
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

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const json = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1].split(',') : undefined;
  const budget = Number(process.env.RNNX_BENCH_MS ?? 2000);
  const ortNode = await import('onnxruntime-node');
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  const rows: Row[] = [];
  const peaks: Record<string, number> = {};
  const fusedRows: string[] = [];
  const threadRows: string[] = [];
  console.log(`rnnx benchmark — ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, one thread per engine`);
  for (const w of workloads()) {
    if (only && !only.some((o) => w.name.startsWith(o))) continue;
    global.gc?.();
    const base = memNow();
    let peak = base;
    const session = InferenceSession.createSync(w.onnx);
    const rnnx: Runner = async () => {
      const out: Record<string, Tensor> = session.runSync(w.feeds);
      peak = Math.max(peak, memNow());
      return out;
    };
    const t = await timeIt(rnnx, budget);
    peaks[w.name] = peak - base;
    rows.push({ workload: w.name, engine: 'rnnx', median_ms: t });
    if (args.includes('--fused-check')) {
      const unfused = InferenceSession.createSync(w.onnx, { fuse: false });
      const tu = await timeIt(async () => unfused.runSync(w.feeds), budget);
      fusedRows.push(`${w.name}: fused ${t.toFixed(3)} ms, unfused ${tu.toFixed(3)} ms (fused/unfused ${(t / tu).toFixed(2)})`);
    }
    if (args.includes('--threads')) {
      const two = InferenceSession.createSync(w.onnx, { threads: 2 });
      const t2 = await timeIt(async () => two.runSync(w.feeds), budget);
      await two.release();
      rows.push({ workload: w.name, engine: 'rnnx-2-threads', median_ms: t2 });
      threadRows.push(w.name);
    }
    rows.push({ workload: w.name, engine: 'onnxruntime-node', median_ms: await timeIt(await ortRunner(ortNode, w, false), budget) });
    rows.push({ workload: w.name, engine: 'onnxruntime-web', median_ms: await timeIt(await ortRunner(ortWeb, w, true), budget) });
    const get = (e: string) => rows.find((r) => r.workload === w.name && r.engine === e)!.median_ms;
    console.log(`${w.name.padEnd(22)} rnnx ${get('rnnx').toFixed(3).padStart(9)} ms | ort-node ${get('onnxruntime-node').toFixed(3).padStart(9)} ms | ort-web ${get('onnxruntime-web').toFixed(3).padStart(9)} ms | rnnx/node ${(get('rnnx') / get('onnxruntime-node')).toFixed(2)} | rnnx/web ${(get('rnnx') / get('onnxruntime-web')).toFixed(2)} | rnnx peak +${(peaks[w.name] / 2 ** 20).toFixed(1)} MiB`);
  }
  console.log('\n| workload | shape | rnnx ms | onnxruntime-node ms | onnxruntime-web ms | rnnx / node | rnnx / web | rnnx peak memory |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const w of workloads()) {
    if (only && !only.some((o) => w.name.startsWith(o))) continue;
    const get = (e: string) => rows.find((r) => r.workload === w.name && r.engine === e)!.median_ms;
    console.log(`| ${w.name} | ${w.shape} | ${get('rnnx').toFixed(3)} | ${get('onnxruntime-node').toFixed(3)} | ${get('onnxruntime-web').toFixed(3)} | ${(get('rnnx') / get('onnxruntime-node')).toFixed(2)} | ${(get('rnnx') / get('onnxruntime-web')).toFixed(2)} | +${(peaks[w.name] / 2 ** 20).toFixed(1)} MiB |`);
  }
  if (fusedRows.length) console.log(`\nfused vs unfused import:\n${fusedRows.join('\n')}`);
  if (threadRows.length) {
    console.log('\nrnnx with threads: 2 (one worker thread; reported apart from the one-thread figures above)\n');
    console.log('| workload | rnnx 1 thread ms | rnnx 2 threads ms | 2 threads / onnxruntime-node (1 thread) |');
    console.log('|---|---|---|---|');
    for (const name of threadRows) {
      const get = (e: string) => rows.find((r) => r.workload === name && r.engine === e)!.median_ms;
      console.log(`| ${name} | ${get('rnnx').toFixed(3)} | ${get('rnnx-2-threads').toFixed(3)} | ${(get('rnnx-2-threads') / get('onnxruntime-node')).toFixed(2)} |`);
    }
  }
  if (json) fs.writeFileSync(json, JSON.stringify(rows, null, 1));
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
