// npm run bench [-- --json FILE] [-- --only w1,w4] [-- --fused-check] [-- --threads]   (npm run bench -- --stream: src/bench/stream-bench.ts)
// Runs every workload in rnnx, onnxruntime-node and onnxruntime-web (wasm), one thread each, in
// one process, after warm-up, in rounds; prints median times, ratios, the spread of each round's
// ratios and rnnx's peak memory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { InferenceSession } from '../runtime/session.js';
import type { Tensor } from '../ir/tensor.js';
import { workloads, type Workload } from './workloads.js';

type Runner = () => Promise<unknown>;
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

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--stream')) {
    const { streamBench } = await import('./stream-bench.js'); // the streaming benchmark, reported apart from w1–w6
    await streamBench(args);
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
  const rows: Row[] = [];
  const peaks: Record<string, number> = {};
  const fusedRows: string[] = [];
  const threadRows: string[] = [];
  const spreadRows: string[] = [];
  console.log(`rnnx benchmark — ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, one thread per engine`);
  for (const w of workloads()) {
    if (only && !only.some((o) => w.name.startsWith(o))) continue;
    // rnnx's peak memory: heap + array buffers over its own first runs, before other engines load.
    global.gc?.();
    const base = memNow();
    let peak = base;
    const session = InferenceSession.createSync(w.onnx);
    for (let i = 0; i < 3; i++) {
      session.runSync(w.feeds);
      peak = Math.max(peak, memNow());
    }
    const runners: Record<string, Runner> = {
      rnnx: async (): Promise<Record<string, Tensor>> => session.runSync(w.feeds),
      'onnxruntime-node': await ortRunner(ortNode, w, false),
      'onnxruntime-web': await ortRunner(ortWeb, w, true),
    };
    let unfused: InferenceSession | undefined;
    let two: InferenceSession | undefined;
    if (args.includes('--fused-check')) {
      unfused = InferenceSession.createSync(w.onnx, { fuse: false });
      runners['rnnx-unfused'] = async () => unfused!.runSync(w.feeds);
    }
    if (args.includes('--threads')) {
      two = InferenceSession.createSync(w.onnx, { threads: 2 });
      runners['rnnx-2-threads'] = async () => two!.runSync(w.feeds);
      threadRows.push(w.name);
    }
    const { median: med, rounds } = await timeAll(runners, budget);
    spreadRows.push(`| ${w.name} | ${roundSpread(rounds, 'onnxruntime-node')} | ${roundSpread(rounds, 'onnxruntime-web')} |`);
    await two?.release();
    peaks[w.name] = peak - base;
    for (const engine of ['rnnx', 'onnxruntime-node', 'onnxruntime-web', 'rnnx-2-threads']) {
      if (med[engine] !== undefined) rows.push({ workload: w.name, engine, median_ms: med[engine] });
    }
    if (unfused) fusedRows.push(`${w.name}: fused ${med.rnnx.toFixed(3)} ms, unfused ${med['rnnx-unfused'].toFixed(3)} ms (fused/unfused ${(med.rnnx / med['rnnx-unfused']).toFixed(2)})`);
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
  console.log('\nrnnx / other engine in each of the 10 rounds (block medians, min–max): how much the machine drifted\n');
  console.log('| workload | rnnx / node per round | rnnx / web per round |');
  console.log('|---|---|---|');
  for (const row of spreadRows) console.log(row);
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
