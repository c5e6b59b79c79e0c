// The real recurrent models of test/fixtures/real: each folder holds model.json (what to feed),
// SOURCE and LICENSE, and model.onnx unless model.json names a file inside an npm package
// ("npm:@scope/pkg/path"). Shared by test/real-models.test.ts and the benchmark's --real rows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, type DataType } from '../ir/tensor.js';

/** One input of a model: fed seeded data, a constant, or a state carried from an output. */
export interface InputSpec {
  readonly type: DataType;
  readonly dims: readonly number[];
  /** Seeded uniform floats in [lo, hi). */
  readonly uniform?: readonly [number, number];
  /** Seeded uniform integers in [lo, hi]. */
  readonly uniformInt?: readonly [number, number];
  /** Starts at zeros (a state's first chunk). */
  readonly zeros?: boolean;
  /** A constant fed on every run (Silero's sr = 16000). */
  readonly value?: readonly number[];
  /** This input is a state: the next chunk feeds it from this output. */
  readonly state?: string;
  /** Where the shape or range comes from (the model's own usage script). */
  readonly why?: string;
}

export interface RealModelSpec {
  readonly description: string;
  readonly model: string;
  readonly covers: readonly string[];
  readonly inputs: Readonly<Record<string, InputSpec>>;
}

export interface RealModel {
  readonly name: string;
  readonly file: string;
  readonly spec: RealModelSpec;
}

/** The repository root (this file is src/bench/ or dist/bench/). */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/**
 * The model folders under `dir` (default test/fixtures/real): each holds model.json and the model
 * it names (a path relative to the folder, or `npm:PACKAGE/FILE` under the repository's node_modules).
 */
export function realModels(root = repoRoot(), dir = path.join(root, 'test', 'fixtures', 'real')): RealModel[] {
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'model.json')))
    .map((d) => {
      const spec = JSON.parse(fs.readFileSync(path.join(dir, d.name, 'model.json'), 'utf8')) as RealModelSpec;
      const file = spec.model.startsWith('npm:')
        ? path.join(root, 'node_modules', spec.model.slice(4))
        : path.join(dir, d.name, spec.model);
      return { name: d.name, file, spec };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** mulberry32: the same stream for the same seed, in every engine and run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeInput(name: string, s: InputSpec, seed: number): Tensor {
  const n = s.dims.reduce((a, b) => a * b, 1);
  const vals: number[] = new Array(n).fill(0);
  if (s.value) {
    if (s.value.length !== n) throw new Error(`input '${name}': ${s.value.length} values for [${s.dims}]`);
    vals.splice(0, n, ...s.value);
  } else if (s.uniform) {
    const r = rng(seed);
    for (let i = 0; i < n; i++) vals[i] = s.uniform[0] + (s.uniform[1] - s.uniform[0]) * r();
  } else if (s.uniformInt) {
    const r = rng(seed);
    const [lo, hi] = s.uniformInt;
    for (let i = 0; i < n; i++) vals[i] = lo + Math.floor((hi - lo + 1) * r());
  } else if (!s.zeros) {
    throw new Error(`input '${name}': model.json gives none of uniform, uniformInt, zeros, value`);
  }
  return new Tensor(s.type, s.type === 'int64' ? vals.map((v) => BigInt(v)) : vals, s.dims);
}

/**
 * Feeds for chunk `chunk` (0, 1, …): seeded data inputs (a different seed per chunk and input),
 * constants, and states at zeros; a later chunk takes its states from `previous` outputs.
 */
export function chunkFeeds(m: RealModel, chunk: number, previous?: Record<string, Tensor>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  let k = 0;
  for (const [name, s] of Object.entries(m.spec.inputs)) {
    k++;
    if (s.state && previous) {
      const from = previous[s.state];
      if (!from) throw new Error(`${m.name}: state '${name}' comes from output '${s.state}', which the run did not return`);
      feeds[name] = from;
    } else {
      feeds[name] = makeInput(name, s, 1000 * chunk + k);
    }
  }
  return feeds;
}

/** The outputs that feed states back, by state input name. */
export function stateOutputs(m: RealModel): string[] {
  return Object.values(m.spec.inputs).flatMap((s) => (s.state ? [s.state] : []));
}
