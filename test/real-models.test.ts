// Real recurrent models (test/fixtures/real, described by each folder's model.json) against
// onnxruntime-node: one chunk, then 20 consecutive chunks with every state output fed back as
// the next chunk's input (each engine carries its own states, so errors may accumulate).
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { chunkFeeds, realModels, stateOutputs, type RealModel } from '../src/bench/real-models.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';

/** |a − b| ≤ 1e-5 + 1e-4·|b| (issue 10). */
const REAL_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const CHUNKS = 20;

async function ortSession(file: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(fs.readFileSync(file), { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

async function runOrt(s: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const of = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type as never, t.data as never, t.dims)]));
  const out = await s.run(of);
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new Tensor(t.type as DataType, t.data as never, t.dims)]));
}

function expectAgree(m: RealModel, chunk: number, ours: Record<string, Tensor>, theirs: Record<string, Tensor>): void {
  expect(Object.keys(ours).sort(), `${m.name}: output names`).toEqual(Object.keys(theirs).sort());
  for (const [k, t] of Object.entries(theirs)) {
    const c = compareTensors(ours[k], t, REAL_TOL);
    expect(c.message ?? '', `${m.name}, chunk ${chunk}, output '${k}'`).toBe('');
  }
}

const models = realModels();

describe('real models against onnxruntime-node', () => {
  it('has at least 6 models covering If, Loop, Scan, Conv, GRU and streaming state', () => {
    const covers = new Set(models.flatMap((m) => m.spec.covers.map((c) => c.split(' ')[0])));
    for (const c of ['If', 'Loop', 'Scan', 'Conv', 'GRU', 'streaming']) expect(covers.has(c), c).toBe(true);
    expect(models.length).toBeGreaterThanOrEqual(6);
    for (const m of models) expect(fs.existsSync(m.file), m.file).toBe(true);
  });

  for (const m of models) {
    it(`${m.name}: one chunk, then ${CHUNKS} chunks with states carried`, async () => {
      const ref = await ortSession(m.file);
      const session = InferenceSession.createSync(fs.readFileSync(m.file));
      const states = stateOutputs(m);
      let oursPrev: Record<string, Tensor> | undefined;
      let theirsPrev: Record<string, Tensor> | undefined;
      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        const ours = session.runSync(chunkFeeds(m, chunk, oursPrev));
        const theirs = await runOrt(ref, chunkFeeds(m, chunk, theirsPrev));
        expectAgree(m, chunk, ours, theirs);
        for (const s of states) expect(ours[s], `${m.name}: state output '${s}'`).toBeDefined();
        oursPrev = ours;
        theirsPrev = theirs;
      }
      await ref.release();
    });
  }
});
