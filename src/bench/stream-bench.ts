// npm run bench -- --stream [--streams 64] [--steps 8] [--rounds 6] [--profile]
// 64 concurrent Silero VAD v5 streams of 512-sample chunks, in one process, one thread each:
// chunks per second for the rnnx stream batcher, rnnx streams run one by one, and onnxruntime-node
// and onnxruntime-web run per stream (one run per chunk per stream, as their users do); the latency
// of one chunk at batch 64; the memory an idle stream holds. Engines take turns in rounds (the
// first round is warm-up), and the table gives medians over rounds. Not a test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Tensor } from '../ir/tensor.js';
import { InferenceSession } from '../runtime/session.js';

const SR = 16000;
const CHUNK = 512;

function modelPath(): string {
  const p = path.resolve('node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx');
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run npm ci (the devDependency @ricky0123/vad-web ships the model)`);
  return p;
}

/** Deterministic audio: tone bursts over noise, different per stream. */
function audio(stream: number, steps: number): Float32Array[] {
  let seed = (stream + 1) * 2654435761;
  const r = () => { seed = (Math.imul(seed ^ (seed >>> 13), 1597334677) + 12345) >>> 0; return seed / 4294967296; };
  return Array.from({ length: steps }, (_, c) => {
    const x = new Float32Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) {
      const t = c * CHUNK + i;
      x[i] = (r() - 0.5) * 0.02 + ((c + stream) % 4 < 2 ? 0.3 * Math.sin(t * (0.03 + stream * 0.001)) : 0);
    }
    return x;
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

type Engine = (data: Float32Array[][]) => Promise<number>; // returns seconds for all chunks

export async function streamBench(args: readonly string[]): Promise<void> {
  const opt = (name: string, d: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : d; };
  const S = opt('--streams', 64);
  const steps = opt('--steps', 8);
  const rounds = opt('--rounds', 6);
  const file = modelPath();
  const bytes = fs.readFileSync(file);
  const data = Array.from({ length: S }, (_, k) => audio(k, steps));
  const sr = new Tensor('int64', BigInt64Array.from([BigInt(SR)]), []);
  const session = InferenceSession.createSync(new Uint8Array(bytes));
  const ortNode = await import('onnxruntime-node');
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  const nodeSession = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
  const webSession = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });

  // One batcher for the whole benchmark, as a server keeps one: its one-time batching probe runs in
  // the warm-up round. Each round's streams join with zero states and leave at the end.
  const batcher = session.createStreamBatcher({ constants: { sr }, maxBatch: S, maxWaitMs: 0 });
  let round = 0;
  const engines: Record<string, Engine> = {
    'rnnx batcher': async (d) => {
      const r = round++;
      const t0 = performance.now();
      await Promise.all(d.map(async (chunks, k) => {
        const st = batcher.stream(`r${r}s${k}`);
        for (const c of chunks) await st.run({ input: new Tensor('float32', c, [1, CHUNK]) });
        st.close();
      }));
      return (performance.now() - t0) / 1000;
    },
    'rnnx streams one by one': async (d) => {
      const ss = d.map(() => session.createStream({ constants: { sr } }));
      const t0 = performance.now();
      for (let t = 0; t < steps; t++) for (let k = 0; k < S; k++) ss[k].runSync({ input: new Tensor('float32', d[k][t], [1, CHUNK]) });
      return (performance.now() - t0) / 1000;
    },
    ...Object.fromEntries(([['onnxruntime-node', ortNode, nodeSession], ['onnxruntime-web', ortWeb, webSession]] as const).map(([name, mod, s]) => [name, async (d: Float32Array[][]) => {
      const srT = new mod.Tensor('int64', BigInt64Array.from([BigInt(SR)]), []);
      let states = d.map(() => new mod.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]));
      const t0 = performance.now();
      for (let t = 0; t < steps; t++) {
        const next = [];
        for (let k = 0; k < S; k++) {
          const out = await (s as { run(f: unknown): Promise<Record<string, unknown>> }).run({ input: new mod.Tensor('float32', d[k][t], [1, CHUNK]), state: states[k], sr: srT });
          next.push(out.stateN as typeof states[number]);
        }
        states = next;
      }
      return (performance.now() - t0) / 1000;
    }])),
  };

  const perRound: Record<string, number[]> = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
  for (let r = 0; r <= rounds; r++) {
    for (const [name, e] of Object.entries(engines)) {
      const sec = await e(data);
      if (r > 0) perRound[name].push((S * steps) / sec);
    }
  }
  const cps = Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, median(v)]));

  // Latency of one chunk at batch S: from S chunks submitted to all resolved (every chunk of the batch waits this long).
  const lat: number[] = [];
  const runMs: number[] = [];
  {
    const b = session.createStreamBatcher({ constants: { sr }, maxBatch: S, maxWaitMs: 0 });
    const feeds = data.map((c) => new Tensor('float32', c[0], [1, CHUNK]));
    const batched = { input: new Tensor('float32', new Float32Array(S * CHUNK), [S, CHUNK]), state: new Tensor('float32', new Float32Array(2 * S * 128), [2, S, 128]), sr };
    for (let i = 0; i < 3 + rounds * 10; i++) {
      const t0 = performance.now();
      await Promise.all(feeds.map((input, k) => b.stream(`s${k}`).run({ input })));
      const t1 = performance.now();
      session.runSync(batched);
      const t2 = performance.now();
      if (i >= 3) { lat.push(t1 - t0); runMs.push(t2 - t1); }
    }
  }

  // Memory per idle stream, after a garbage collection: 10 000 streams that joined a batcher and
  // never ran (they share the initial state), and 4 096 that ran one chunk each in batches of S and
  // then went quiet (each holds its state: its rows of the batch's state output).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const mem = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const idle = session.createStreamBatcher({ constants: { sr }, maxBatch: S, maxWaitMs: 0 });
  let before = mem();
  for (let i = 0; i < 10000; i++) idle.stream(`new${i}`);
  const perNew = (mem() - before) / 10000;
  const ran = session.createStreamBatcher({ constants: { sr }, maxBatch: S, maxWaitMs: 0 });
  const one = new Tensor('float32', data[0][0], [1, CHUNK]);
  await Promise.all([0, 1].map((i) => ran.stream(`warm${i}`).run({ input: one }))); // the batching probe, before measuring
  before = mem();
  const N = 4096;
  for (let i = 0; i < N; i += S) await Promise.all(Array.from({ length: S }, (_, k) => ran.stream(`ran${i + k}`).run({ input: one })));
  const perStream = (mem() - before) / N;

  const node = cps['onnxruntime-node'];
  const web = cps['onnxruntime-web'];
  console.log(`\nStreaming: ${S} concurrent Silero VAD v5 streams, ${CHUNK}-sample chunks at ${SR} Hz, ${steps} chunks per stream per round, median of ${rounds} rounds (one thread each)\n`);
  console.log('| engine | chunks/s | vs onnxruntime-node | vs onnxruntime-web | spread over rounds (chunks/s) |');
  console.log('|---|---|---|---|---|');
  for (const [k, v] of Object.entries(cps)) {
    console.log(`| ${k} | ${v.toFixed(0)} | ${(v / node).toFixed(2)}× | ${(v / web).toFixed(2)}× | ${Math.min(...perRound[k]).toFixed(0)}–${Math.max(...perRound[k]).toFixed(0)} |`);
  }
  console.log(`\nlatency of one chunk at batch ${S} (submitted → resolved, batcher): median ${median(lat).toFixed(2)} ms, best ${Math.min(...lat).toFixed(2)} ms; ` +
    `the batched session.runSync alone: median ${median(runMs).toFixed(2)} ms, best ${Math.min(...runMs).toFixed(2)} ms (${lat.length} of each, alternating)`);
  console.log(`memory per idle stream: ${perStream.toFixed(0)} bytes after it ran (its state [2, 1, 128] float32 = 1024 bytes + bookkeeping); ${perNew.toFixed(0)} bytes before its first chunk (the initial state is shared)`);
  console.log(`targets: batcher ≥ 2× onnxruntime-node (${(cps['rnnx batcher'] / node).toFixed(2)}×), ≥ 5× onnxruntime-web (${(cps['rnnx batcher'] / web).toFixed(2)}×)`);

  if (args.includes('--profile')) console.log(`\n${profileBatch(bytes, S, sr)}`);
  await nodeSession.release();
  await webSession.release();
}

/**
 * Where the time of one batch-S run goes (rnnx's profiler): after a warm-up, 60 profiled runs;
 * per node the 25th percentile of its times over the runs, not the mean, so that runs slowed by
 * other processes on a shared machine do not swamp the breakdown. Grouped by op type, then the
 * slowest nodes.
 */
function profileBatch(bytes: Uint8Array, S: number, sr: Tensor): string {
  const p = InferenceSession.createSync(new Uint8Array(bytes));
  const x = Float32Array.from({ length: S * CHUNK }, (_, i) => Math.sin(i * 0.01) * 0.3);
  const batched = { input: new Tensor('float32', x, [S, CHUNK]), state: new Tensor('float32', new Float32Array(2 * S * 128), [2, S, 128]), sr };
  for (let i = 0; i < 30; i++) p.runSync(batched);
  p.startProfiling();
  const runs: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    p.runSync(batched);
    runs.push(performance.now() - t0);
  }
  const events = (JSON.parse(p.endProfiling().chromeTrace()) as { traceEvents: { name: string; dur: number; args: { opType: string } }[] }).traceEvents;
  const nodes = new Map<string, { op: string; ms: number[] }>();
  for (const e of events) {
    if (e.args.opType === 'If' || e.args.opType === 'Loop' || e.args.opType === 'Scan') continue; // their bodies' nodes are counted
    let n = nodes.get(e.name);
    if (!n) nodes.set(e.name, (n = { op: e.args.opType, ms: [] }));
    n.ms.push(e.dur / 1000);
  }
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor(f * (xs.length - 1))];
  const rows = [...nodes].map(([name, n]) => ({ name, op: n.op, p25: q(n.ms, 0.25) })).sort((a, b) => b.p25 - a.p25);
  const total = rows.reduce((t, r) => t + r.p25, 0);
  const byOp = new Map<string, { ms: number; nodes: number }>();
  for (const r of rows) {
    const o = byOp.get(r.op) ?? { ms: 0, nodes: 0 };
    o.ms += r.p25;
    o.nodes++;
    byOp.set(r.op, o);
  }
  const lines = [
    `profile of batch-${S} runs: whole run min ${q(runs, 0).toFixed(2)} ms, p25 ${q(runs, 0.25).toFixed(2)} ms, median ${q(runs, 0.5).toFixed(2)} ms (60 runs, profiler on); ` +
      `per node the 25th percentile over the runs, summing to ${total.toFixed(2)} ms (the rest of a run: between nodes)`,
    '',
    '| op type | nodes | ms | share |',
    '|---|---|---|---|',
    ...[...byOp].sort((a, b) => b[1].ms - a[1].ms).filter(([, o]) => o.ms >= 0.005)
      .map(([op, o]) => `| ${op} | ${o.nodes} | ${o.ms.toFixed(3)} | ${((100 * o.ms) / total).toFixed(1)} % |`),
    '',
    '| node | op type | ms |',
    '|---|---|---|',
    ...rows.slice(0, 12).map((r) => `| ${r.name.replace(/^.*?__Inline_0__\/?/, '')} | ${r.op} | ${r.p25.toFixed(3)} |`),
  ];
  return lines.join('\n');
}
