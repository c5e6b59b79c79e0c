// Runs mutants of the PyTorch fixtures through rnnx (and, in differential mode, onnxruntime-node)
// and classifies what happens: ran, a named RnnxError (grouped by kind), or a crash.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RnnxError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { randomFeed } from '../cli/common.js';
import { compareTensors } from '../runtime/compare.js';
import { InferenceSession } from '../runtime/session.js';
import { loadModel } from '../import/model.js';
import { mutate, rngFor, type Mutant } from './mutate.js';
import { widenModel } from './widen.js';

export type Outcome = 'ok' | 'error' | 'crash' | 'skip' | 'hang' | 'slow' | 'memory' | 'died' | 'diff-agree' | 'diff-mismatch' | 'diff-nonfinite'
  | 'diff-ort-refused' | 'diff-ort-float32' | 'diff-ort-died';

export interface Result {
  readonly index: number;
  readonly outcome: Outcome;
  /** For errors: the message with names and numbers blanked, so errors group by kind. */
  readonly kind?: string;
  readonly detail?: string;
}

/** Fixture models (test/fixtures/<name>/model.onnx, under 2 MB), sorted: mutant i is reproducible. */
export function fixtureModels(root: string): { name: string; bytes: Uint8Array }[] {
  const dir = path.join(root, 'test', 'fixtures');
  return fs.readdirSync(dir).sort()
    .map((name) => ({ name, file: path.join(dir, name, 'model.onnx') }))
    .filter((f) => fs.existsSync(f.file) && fs.statSync(f.file).size < 2e6)
    .map((f) => ({ name: f.name, bytes: new Uint8Array(fs.readFileSync(f.file)) }));
}

export function mutantOf(fixtures: readonly { name: string; bytes: Uint8Array }[], seed: number, index: number): Mutant & { fixture: string } {
  const r = rngFor(seed, index);
  const f = fixtures[Math.floor(r() * fixtures.length)];
  return { ...mutate(f.bytes, r), fixture: f.name };
}

/** Writes the mutant (model.onnx, its data files, steps.txt) into `dir`; returns the model path. */
export function writeMutant(dir: string, m: Mutant & { fixture: string }): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of m.files) {
    fs.mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, f.path), f.bytes);
  }
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, m.bytes);
  fs.writeFileSync(path.join(dir, 'steps.txt'), `fixture ${m.fixture}\n${m.steps.join('\n')}\n`);
  return file;
}

export function errorKind(message: string): string {
  return message
    .replace(/^Node .*? \(([\w.]+)\):/, 'Node <n> ($1):')
    .replace(/'[^']*'/g, "'_'")
    .replace(/\[[^\]]*\]/g, '[_]')
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, 'N')
    .slice(0, 100);
}

/** Symbolic and unknown dims become 2; feeds above this many elements are not made. */
const MAX_FEED_ELEMENTS = 1 << 20;

function feedsFor(s: InferenceSession): Record<string, Tensor> | string {
  const r = rngFor(1, 0);
  const feeds: Record<string, Tensor> = {};
  for (const info of s.inputMetadata) {
    if (info.kind && info.kind !== 'tensor') return `input '${info.name}' is a ${info.kind}`;
    const dims = (info.shape ?? []).map((d) => (typeof d === 'number' ? d : 2));
    if (dims.reduce((a, b) => a * b, 1) > MAX_FEED_ELEMENTS) return `input '${info.name}' [${dims}] is too large to feed`;
    try {
      feeds[info.name] = randomFeed(info.type, dims, r, info.name);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return feeds;
}

/** Bounds that keep a hostile mutant's run short in a test (the session's own budgets). */
const SESSION_LIMITS = { maxIterations: 100_000, memoryLimit: 2 ** 30 };

/** Loads and runs one model file in rnnx; the outputs are returned for the differential check. */
export function runRnnx(file: string): { result: Omit<Result, 'index'>; feeds?: Record<string, Tensor>; outputs?: Record<string, Tensor> } {
  try {
    const s = InferenceSession.createSync(file, SESSION_LIMITS);
    const feeds = feedsFor(s);
    if (typeof feeds === 'string') return { result: { outcome: 'skip', detail: feeds } };
    const outputs = s.runSync(feeds);
    return { result: { outcome: 'ok' }, feeds, outputs };
  } catch (e) {
    if (e instanceof RnnxError) return { result: { outcome: 'error', kind: errorKind(e.message), detail: e.message.slice(0, 300) } };
    const err = e as Error;
    return { result: { outcome: 'crash', kind: `${err?.name}: ${errorKind(String(err?.message))}`, detail: String(err?.stack ?? e).slice(0, 2000) } };
  }
}

function hasNonFinite(file: string): boolean {
  for (const t of loadModel(file, { fuse: false }).graph.initializers.values()) {
    if (t.type !== 'float32' && t.type !== 'float64') continue;
    for (const v of t.data as Float32Array) if (!Number.isFinite(v)) return true;
  }
  return false;
}

/** Differential tolerance: onnxruntime and rnnx may sum in other orders. */
const DIFF_TOL = { rtol: 1e-3, atol: 1e-4 };

type OrtOutputs = Record<string, { type: string; data: unknown; dims: readonly number[] }>;

async function runOrt(model: string | Uint8Array, feeds: Record<string, Tensor>): Promise<OrtOutputs> {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(model as never, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 });
  try {
    return await s.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type as never, t.data as never, t.dims)]))) as never;
  } finally {
    await s.release();
  }
}

/** The first output on which rnnx and onnxruntime disagree, as a message; undefined if none. */
function disagreement(ours: Record<string, Tensor>, theirs: OrtOutputs, narrow = false): { name: string; message: string; unreadable?: boolean } | undefined {
  for (const [name, t] of Object.entries(ours)) {
    const o = theirs[name];
    if (!o) return { name, message: 'onnxruntime gave none' };
    let ref: Tensor;
    try {
      ref = narrow && o.type === 'float64' && t.type === 'float32'
        ? new Tensor('float32', Float32Array.from(o.data as Float64Array), o.dims) : new Tensor(o.type as never, o.data as never, o.dims);
    } catch (e) {
      return { name, message: (e as Error).message, unreadable: true };
    }
    const c = compareTensors(t, ref, DIFF_TOL);
    if (!c.ok) return { name, message: c.message ?? '' };
  }
  return undefined;
}

/**
 * onnxruntime's second opinion: the same graph in float64, its LSTM/GRU/RNN nodes expanded into
 * Loops of primitive ops (onnxruntime has no float64 GRU/RNN). onnxruntime's float32 recurrent
 * kernels clip every pre-activation to ±FLT_MAX (so a NaN becomes a bound and an Inf a finite
 * number) and use sigmoid/tanh approximations accurate to about 1e-7 absolute (its GRU gate
 * sigmoid is 0 below -18 and 17 % off at -15), which a huge initial state multiplied by a gate
 * makes visible. If onnxruntime's float64 answer agrees with rnnx's float32 one, the disagreement
 * is onnxruntime's float32 kernels, and the result says so.
 */
async function ortSecondOpinion(file: string, feeds: Record<string, Tensor>, ours: Record<string, Tensor>): Promise<{ agrees: boolean; why: string }> {
  if (Object.values(feeds).some((t) => t.type === 'float64') || Object.values(ours).some((t) => t.type === 'float64')) return { agrees: false, why: 'no float64 second opinion: float64 values already' };
  let theirs: OrtOutputs;
  try {
    const inits = loadModel(file, { fuse: false }).graph.initializers;
    const wide = widenModel(new Uint8Array(fs.readFileSync(file)), (name) => {
      const t = inits.get(name);
      return t?.type === 'float32' ? (t.data as Float32Array) : undefined;
    });
    const wideFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.type === 'float32' ? new Tensor('float64', Float64Array.from(t.data as Float32Array), t.dims) : t]));
    theirs = await runOrt(wide, wideFeeds);
  } catch (e) {
    // an op without float64 in onnxruntime, external data, a form the expansion does not cover
    return { agrees: false, why: `no float64 second opinion: ${String((e as Error).message).split('\n')[0].slice(0, 120)}` };
  }
  const d = disagreement(ours, theirs, true);
  if (d) return { agrees: false, why: `onnxruntime's float64 run disagrees with rnnx too: output '${d.name}': ${d.message}` };
  const nan = Object.values(ours).some((t) => t.type === 'float32' && (t.data as Float32Array).some(Number.isNaN));
  return { agrees: true, why: `onnxruntime's float64 run of the ONNX definitions agrees with rnnx${nan ? '; its float32 kernels turn NaN into finite numbers' : '; its float32 kernels are inexact here'}` };
}

/** Runs the same file and feeds in onnxruntime-node and compares every output. */
export async function runDifferential(file: string, feeds: Record<string, Tensor>, ours: Record<string, Tensor>): Promise<Omit<Result, 'index'>> {
  let theirs: OrtOutputs;
  try {
    theirs = await runOrt(file, feeds);
  } catch (e) {
    return { outcome: 'diff-ort-refused', detail: String((e as Error).message).split('\n')[0].slice(0, 200) };
  }
  const d = disagreement(ours, theirs);
  if (!d) return { outcome: 'diff-agree' };
  if (d.unreadable) return { outcome: 'diff-ort-refused', detail: `output '${d.name}': ${d.message}` };
  const detail = `output '${d.name}': ${d.message}`;
  const second = await ortSecondOpinion(file, feeds, ours);
  if (second.agrees) return { outcome: 'diff-ort-float32', kind: errorKind(d.message), detail: `${detail} (${second.why})` };
  // NaN/Inf weights without a float64 second opinion: the engines' activations treat NaN and Inf
  // differently (onnxruntime's recurrent ops clip every pre-activation to ±FLT_MAX, which turns a
  // NaN into a bound and an Inf into a finite number), so these are reported apart.
  return { outcome: hasNonFinite(file) ? 'diff-nonfinite' : 'diff-mismatch', kind: errorKind(d.message), detail: `${detail} (${second.why})` };
}
