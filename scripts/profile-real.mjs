// node scripts/profile-real.mjs [name-prefix …]   (after npm run build)
// Per-op-type time of rnnx on each real model (test/fixtures/real), streaming with states
// carried, through the session profiler; plus rnnx's plain run time without profiling.
import { InferenceSession } from '../dist/runtime/session.js';
import { chunkFeeds, realModels } from '../dist/bench/real-models.js';
import * as fs from 'node:fs';

const only = process.argv.slice(2);
const RUNS = Number(process.env.RUNS ?? 50);
for (const m of realModels()) {
  if (only.length && !only.some((o) => m.name.startsWith(o))) continue;
  const s = InferenceSession.createSync(fs.readFileSync(m.file));
  const chunks = Array.from({ length: 20 }, (_, i) => chunkFeeds(m, i));
  const pairs = Object.entries(m.spec.inputs).flatMap(([n, sp]) => (sp.state ? [[n, sp.state]] : []));
  let prev = s.runSync(chunks[0]);
  const step = (i) => { const f = chunks[i % 20]; for (const [a, b] of pairs) f[a] = prev[b]; prev = s.runSync(f); };
  for (let i = 0; i < 20; i++) step(i);
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) step(i);
  const plain = (performance.now() - t0) / RUNS;
  s.startProfiling();
  for (let i = 0; i < RUNS; i++) step(i);
  const p = s.endProfiling();
  console.log(`\n== ${m.name}: ${plain.toFixed(3)} ms a run without profiling`);
  console.log(p.table(Number(process.env.TOP ?? 8)));
}
