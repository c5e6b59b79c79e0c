// Real recurrent models (test/fixtures/real, described by each folder's model.json) against
// onnxruntime-node: one chunk, then 20 consecutive chunks with every state output fed back as
// the next chunk's input (each engine carries its own states, so errors may accumulate).
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { chunkFeeds, realModels, stateOutputs, type RealModel } from '../src/bench/real-models.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import type { Attribute, Graph, Model } from '../src/ir/graph.js';
import { loadModel } from '../src/import/model.js';
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

const f64 = (t: Tensor): Tensor => (t.type === 'float32' ? new Tensor('float64', Float64Array.from(t.data as Float32Array), t.dims) : t);

/** The same model computing in float64: float32 initializers, constants, Cast targets and graph values widened. */
function float64Twin(model: Model): Model {
  const attr = (opType: string, k: string, a: Attribute): Attribute => {
    if (a.type === 'tensor') return { type: 'tensor', value: f64(a.value) };
    if (a.type === 'graph') return { type: 'graph', value: graph(a.value) };
    if (a.type === 'graphs') return { type: 'graphs', value: a.value.map(graph) };
    if ((opType === 'Cast' && k === 'to') && a.type === 'int' && a.value === 1) return { type: 'int', value: 11 };
    return a;
  };
  const vi = <V extends { type?: string }>(v: V): V => (v.type === 'float32' ? { ...v, type: 'float64' } : v);
  const graph = (g: Graph): Graph => ({
    ...g,
    inputs: g.inputs.map(vi), outputs: g.outputs.map(vi),
    valueInfo: new Map([...g.valueInfo].map(([k, v]) => [k, vi(v)])),
    initializers: new Map([...g.initializers].map(([k, t]) => [k, f64(t)])),
    nodes: g.nodes.map((n) => ({ ...n, attributes: new Map([...n.attributes].map(([k, a]) => [k, attr(n.opType, k, a)])) })),
  });
  return { ...model, graph: graph(model.graph) };
}

/**
 * Every output agrees with onnxruntime-node. Where one does not, both engines' outputs are judged
 * against the model run in float64 on each engine's own feeds: the output passes only if rnnx is
 * within the tolerance of that reference and onnxruntime is not (the oracle is the one off).
 */
function expectAgree(m: RealModel, chunk: number, ours: Record<string, Tensor>, theirs: Record<string, Tensor>,
  reference: (feeds: Record<string, Tensor>) => Record<string, Tensor>, ourFeeds: Record<string, Tensor>, theirFeeds: Record<string, Tensor>): void {
  expect(Object.keys(ours).sort(), `${m.name}: output names`).toEqual(Object.keys(theirs).sort());
  for (const [k, t] of Object.entries(theirs)) {
    const c = compareTensors(ours[k], t, REAL_TOL);
    if (c.ok) continue;
    const truthOurs = reference(ourFeeds)[k], truthTheirs = reference(theirFeeds)[k];
    const oursVsTruth = compareTensors(f64(ours[k]), truthOurs, REAL_TOL);
    const theirsVsTruth = compareTensors(f64(t), truthTheirs, REAL_TOL);
    const why = `${m.name}, chunk ${chunk}, output '${k}': against onnxruntime ${c.message}; against float64 ${oursVsTruth.message ?? `ok (max ${oursVsTruth.maxAbs.toExponential(2)})`}, ` +
      `onnxruntime against float64 ${theirsVsTruth.message ?? 'ok'}`;
    expect(oursVsTruth.ok && !theirsVsTruth.ok, why).toBe(true);
    console.log(`oracle off: ${why}`);
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
      const bytes = fs.readFileSync(m.file);
      const session = InferenceSession.createSync(bytes);
      let wide: InferenceSession | undefined;
      const reference = (feeds: Record<string, Tensor>): Record<string, Tensor> => {
        wide ??= InferenceSession.createSync(float64Twin(loadModel(bytes)));
        return wide.runSync(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, f64(t)])));
      };
      const states = stateOutputs(m);
      let oursPrev: Record<string, Tensor> | undefined;
      let theirsPrev: Record<string, Tensor> | undefined;
      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        const ourFeeds = chunkFeeds(m, chunk, oursPrev), theirFeeds = chunkFeeds(m, chunk, theirsPrev);
        const ours = session.runSync(ourFeeds);
        const theirs = await runOrt(ref, theirFeeds);
        expectAgree(m, chunk, ours, theirs, reference, ourFeeds, theirFeeds);
        for (const s of states) expect(ours[s], `${m.name}: state output '${s}'`).toBeDefined();
        oursPrev = ours;
        theirsPrev = theirs;
      }
      await ref.release();
    });
  }
});
