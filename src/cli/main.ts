import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RnnxError } from '../ir/errors.js';
import { Tensor, type DataType } from '../ir/tensor.js';
import { loadModel } from '../import/model.js';
import type { ValueInfo } from '../ir/graph.js';
import { OptionalValue, TensorSequence, describeValue } from '../ir/value.js';
import { readNpy, writeNpy } from '../io/npy.js';
import { InferenceSession } from '../runtime/session.js';
import { runNodeTest, type NodeTestResult } from '../runtime/node-test.js';
import { agreement, runOnnxruntime } from '../runtime/ort-check.js';
import { formatSummary, summarize } from './inspect.js';
import { collectWeights } from '../export/weights.js';
import { writeSafetensors } from '../io/safetensors.js';
import { exportOnnx } from '../export/onnx.js';
import { modelFromTorch, type TorchHparams } from '../nn/from-torch.js';
import type { RecMode } from '../ops/rec/layer.js';

const HELP = `rnnx — run ONNX models (recurrent networks first) with TypeScript kernels

Usage:
  rnnx run MODEL [--input NAME=FILE.npy]... [--random] [--dim NAME=N]... [--seed N] [--out DIR] [--check] [--no-fuse] [--threads 2]
      Runs MODEL; writes each output to DIR/<output name>.npy (with --out) and prints a summary.
      --random   make missing inputs from the declared shapes (symbolic dims default to 1; set them with --dim)
      --check    also run onnxruntime-node and print max abs / rel difference per output
      --threads 2  split the SIMD recurrent GEMMs with one worker thread
  rnnx inspect MODEL [--json] [--no-fuse]
      Inputs, outputs, opsets, op counts, initializer bytes, one line per recurrent layer (recovered
      PyTorch modules in PyTorch's terms; --no-fuse shows the ONNX nodes as written).
  rnnx conformance DIR... [--json FILE]
      Runs ONNX backend-style test folders (model.onnx, test_data_set_*/input_N.pb, output_N.pb);
      a DIR holding such folders runs each. Exit status 1 if any test failed.
  rnnx export-weights MODEL --out FILE.safetensors
      Writes the parameters under PyTorch's names (recovered recurrent layers: <module>.weight_ih_l0, …;
      other initializers under their ONNX names).
  rnnx from-torch LSTM|GRU|RNN STATE --hparams FILE.json [--initial-state] [--prefix P] [--opset N] --out MODEL.onnx
      Writes one PyTorch module (STATE: .safetensors or .npz state_dict; FILE.json: its constructor
      arguments under PyTorch's names, proj_size included) as ONNX that rnnx and onnxruntime run.
  rnnx demo
      Runs the bundled PyTorch-exported LSTM and prints its agreement with PyTorch and onnxruntime.
  rnnx --help | --version
`;

interface Parsed { positional: string[]; flags: Map<string, string[]> }

function parseArgs(argv: string[], valued: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [k, inline] = a.slice(2).split(/=(.*)/s, 2);
      let v = 'true';
      if (valued.includes(k)) {
        if (inline !== undefined) v = inline;
        else if (i + 1 < argv.length) v = argv[++i];
        else throw new RnnxError(`--${k} needs a value`);
      } else if (inline !== undefined) throw new RnnxError(`--${k} takes no value`);
      flags.set(k, [...(flags.get(k) ?? []), v]);
    } else positional.push(a);
  }
  return { positional, flags };
}

function checkFlags(p: Parsed, allowed: readonly string[]): void {
  for (const k of p.flags.keys()) if (!allowed.includes(k)) throw new RnnxError(`unknown option --${k} (see rnnx --help)`);
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFeed(type: DataType | undefined, dims: number[], r: () => number, name: string): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'float32': case 'float64': return new Tensor(type, Array.from({ length: n }, () => 2 * r() - 1), dims);
    case 'int64': return new Tensor(type, Array.from({ length: n }, () => BigInt(Math.floor(r() * 10))), dims);
    case 'int32': case 'uint8': case 'int8': return new Tensor(type, Array.from({ length: n }, () => Math.floor(r() * 10)), dims);
    case 'bool': return new Tensor(type, Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)), dims);
    default: throw new RnnxError(`--random: cannot make input '${name}' of type ${type ?? 'unknown'}`);
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

function preview(t: Tensor): string {
  const vals = Array.from((t.data as ArrayLike<number | bigint>), (v) => (typeof v === 'bigint' ? v.toString() : Number(v.toPrecision(5)).toString()));
  return `${t.type} [${t.dims.join(', ')}] ${vals.slice(0, 6).join(' ')}${vals.length > 6 ? ' …' : ''}`;
}

async function printCheck(bytes: Uint8Array, feeds: Record<string, Tensor>, ours: Record<string, Tensor>): Promise<boolean> {
  let theirs: Record<string, Tensor>;
  try {
    theirs = await runOnnxruntime(bytes, feeds);
  } catch (e) {
    console.log(`onnxruntime-node could not run this model: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
  console.log('agreement with onnxruntime-node:');
  for (const [name, t] of Object.entries(ours)) {
    const a = agreement(name, t, theirs[name]);
    console.log(`  ${name}: max abs diff ${fmt(a.maxAbs)}, max rel diff ${fmt(a.maxRel)}`);
  }
  return true;
}

async function cmdRun(argv: string[]): Promise<number> {
  const p = parseArgs(argv, ['input', 'dim', 'seed', 'out', 'threads']);
  checkFlags(p, ['input', 'dim', 'seed', 'out', 'random', 'check', 'no-fuse', 'threads']);
  const threads = Number(p.flags.get('threads')?.[0] ?? 1);
  if (threads !== 1 && threads !== 2) throw new RnnxError(`--threads must be 1 or 2, got ${p.flags.get('threads')?.[0]}`);
  if (p.positional.length !== 1) throw new RnnxError('run needs exactly one MODEL (see rnnx --help)');
  const modelPath = p.positional[0];
  const bytes = readFile(modelPath);
  const session = InferenceSession.createSync(loadModel(modelPath, { fuse: !p.flags.has('no-fuse') }), { threads: threads as 1 | 2 });
  const feeds: Record<string, Tensor> = {};
  for (const spec of p.flags.get('input') ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new RnnxError(`--input expects NAME=FILE.npy, got '${spec}'`);
    const name = spec.slice(0, eq);
    if (!session.inputNames.includes(name)) throw new RnnxError(`--input ${name}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    tensorInputOnly(session.inputMetadata.find((i) => i.name === name)!);
    feeds[name] = readNpy(readFile(spec.slice(eq + 1)), spec.slice(eq + 1));
  }
  const dimValues = new Map<string, number>();
  for (const spec of p.flags.get('dim') ?? []) {
    const [k, v] = spec.split('=');
    if (!k || !/^\d+$/.test(v ?? '')) throw new RnnxError(`--dim expects NAME=N, got '${spec}'`);
    dimValues.set(k, Number(v));
  }
  const r = seeded(Number(p.flags.get('seed')?.[0] ?? 0));
  for (const info of session.inputMetadata) {
    if (feeds[info.name]) continue;
    tensorInputOnly(info);
    if (!p.flags.has('random')) throw new RnnxError(`input '${info.name}' has no --input file (or pass --random)`);
    if (!info.shape) throw new RnnxError(`--random: input '${info.name}' has no declared shape`);
    const dims = info.shape.map((d) => (typeof d === 'number' ? d : (dimValues.get(d ?? '') ?? 1)));
    feeds[info.name] = randomFeed(info.type, dims, r, info.name);
  }
  const t0 = performance.now();
  const values = session.runValues(feeds);
  const ms = performance.now() - t0;
  console.log(`ran ${modelPath} in ${ms.toFixed(2)} ms`);
  const outDir = p.flags.get('out')?.[0];
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const save = (name: string, t: Tensor) => {
    if (outDir) fs.writeFileSync(path.join(outDir, `${name.replace(/[^\w.-]/g, '_')}.npy`), writeNpy(t));
  };
  const out: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(values)) {
    const inner = v instanceof OptionalValue ? v.value : v;
    if (inner instanceof Tensor) {
      console.log(`  ${name}: ${v instanceof OptionalValue ? 'optional holding ' : ''}${preview(inner)}`);
      save(name, inner);
      if (v instanceof Tensor) out[name] = v;
    } else if (inner instanceof TensorSequence) {
      // a sequence output: one line and one .npy file (NAME_i.npy) per item
      console.log(`  ${name}: ${describeValue(v)}`);
      inner.items.forEach((t, i) => {
        console.log(`    [${i}] ${preview(t)}`);
        save(`${name}_${i}`, t);
      });
    } else console.log(`  ${name}: empty optional`);
  }
  if (outDir) console.log(`outputs written to ${outDir}`);
  if (p.flags.has('check')) {
    if (Object.keys(out).length < Object.keys(values).length) console.log('--check compares the tensor outputs only');
    await printCheck(bytes, feeds, out);
  }
  await session.release();
  return 0;
}

/** `rnnx run` feeds tensors (from .npy files or --random); sequence and optional inputs need the library. */
function tensorInputOnly(info: ValueInfo): void {
  if (info.kind && info.kind !== 'tensor') {
    throw new RnnxError(`input '${info.name}' is ${info.kind === 'sequence' ? 'a sequence' : 'an optional'}; rnnx run feeds tensors only (use session.runValues in the library)`);
  }
}

function readFile(f: string): Buffer {
  try {
    return fs.readFileSync(f);
  } catch (e) {
    throw new RnnxError(`cannot read '${f}': ${(e as Error).message}`);
  }
}

function cmdInspect(argv: string[]): number {
  const p = parseArgs(argv, []);
  checkFlags(p, ['json', 'no-fuse']);
  if (p.positional.length !== 1) throw new RnnxError('inspect needs exactly one MODEL');
  const s = summarize(loadModel(p.positional[0], { fuse: !p.flags.has('no-fuse') }));
  console.log(p.flags.has('json') ? JSON.stringify(s, null, 2) : formatSummary(s));
  return 0;
}

function collectTestDirs(dirs: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new RnnxError(`'${d}' is not a directory`);
    if (fs.existsSync(path.join(d, 'model.onnx'))) out.push(d);
    else {
      for (const e of fs.readdirSync(d).sort()) {
        const sub = path.join(d, e);
        if (fs.existsSync(path.join(sub, 'model.onnx'))) out.push(sub);
      }
    }
  }
  return out;
}

function cmdConformance(argv: string[]): number {
  const p = parseArgs(argv, ['json']);
  checkFlags(p, ['json']);
  if (p.positional.length === 0) throw new RnnxError('conformance needs at least one DIR');
  const results: NodeTestResult[] = [];
  for (const dir of collectTestDirs(p.positional)) {
    const r = runNodeTest(dir);
    results.push(r);
    const tag = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP';
    console.log(`${tag} ${r.name}${r.detail ? `: ${r.detail}` : ''}`);
  }
  const passed = results.filter((r) => r.status === 'passed').length;
  const failed = results.filter((r) => r.status === 'failed').length;
  const skipped = results.length - passed - failed;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  const json = p.flags.get('json')?.[0];
  if (json) fs.writeFileSync(json, JSON.stringify({ passed, failed, skipped, results }, null, 1));
  return failed > 0 ? 1 : 0;
}

function cmdExportWeights(argv: string[]): number {
  const p = parseArgs(argv, ['out']);
  checkFlags(p, ['out']);
  const out = p.flags.get('out')?.[0];
  if (p.positional.length !== 1 || !out) throw new RnnxError('export-weights needs MODEL and --out FILE.safetensors');
  const weights = collectWeights(loadModel(p.positional[0]));
  fs.writeFileSync(out, writeSafetensors(weights, { format: 'pt', producer: 'rnnx' }));
  console.log(`wrote ${weights.size} tensors to ${out}`);
  for (const [k, t] of weights) console.log(`  ${k}: ${t.type} [${t.dims.join(', ')}]`);
  return 0;
}

function cmdFromTorch(argv: string[]): number {
  const p = parseArgs(argv, ['hparams', 'out', 'prefix', 'opset']);
  checkFlags(p, ['hparams', 'out', 'prefix', 'opset', 'initial-state']);
  const [kind, state] = p.positional;
  const hpFile = p.flags.get('hparams')?.[0];
  const out = p.flags.get('out')?.[0];
  if (p.positional.length !== 2 || !hpFile || !out) throw new RnnxError('from-torch needs LSTM|GRU|RNN STATE --hparams FILE.json --out MODEL.onnx');
  let hp: TorchHparams;
  try {
    hp = JSON.parse(readFile(hpFile).toString('utf8'));
  } catch (e) {
    throw new RnnxError(`--hparams ${hpFile}: ${(e as Error).message}`);
  }
  const model = modelFromTorch(kind.toUpperCase() as RecMode, state, hp, {
    initialState: p.flags.has('initial-state'), prefix: p.flags.get('prefix')?.[0], opset: Number(p.flags.get('opset')?.[0] ?? 14),
  });
  fs.writeFileSync(out, exportOnnx(model));
  console.log(`wrote ${out}: inputs ${model.graph.inputs.map((i) => i.name).join(', ')}; outputs ${model.graph.outputs.map((o) => o.name).join(', ')}`);
  return 0;
}

async function cmdDemo(): Promise<number> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const dir = path.join(root, 'test', 'fixtures', 'lstm_seed');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { doc: string; inputs: string[]; outputs: string[] };
  const modelPath = path.join(dir, 'model.onnx');
  console.log(`rnnx demo: ${meta.doc}, exported by torch.onnx.export`);
  console.log(`model: ${path.relative(process.cwd(), modelPath)}\n`);
  const model = loadModel(modelPath);
  console.log(formatSummary(summarize(model)) + '\n');
  const session = InferenceSession.createSync(model);
  const feeds = Object.fromEntries(meta.inputs.map((n) => [n, readNpy(fs.readFileSync(path.join(dir, `in_${n}.npy`)))]));
  const out = session.runSync(feeds);
  console.log('outputs:');
  for (const [name, t] of Object.entries(out)) console.log(`  ${name}: ${preview(t)}`);
  console.log('agreement with PyTorch:');
  for (const name of meta.outputs) {
    const a = agreement(name, out[name], readNpy(fs.readFileSync(path.join(dir, `out_${name}.npy`))));
    console.log(`  ${name}: max abs diff ${fmt(a.maxAbs)}, max rel diff ${fmt(a.maxRel)}`);
  }
  await printCheck(fs.readFileSync(modelPath), feeds, out);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run': return await cmdRun(rest);
      case 'inspect': return cmdInspect(rest);
      case 'conformance': return cmdConformance(rest);
      case 'export-weights': return cmdExportWeights(rest);
      case 'from-torch': return cmdFromTorch(rest);
      case 'demo': return await cmdDemo();
      case '--version': case '-v': console.log('rnnx 0.1.0'); return 0;
      case undefined: case '--help': case '-h': case 'help': console.log(HELP); return cmd === undefined ? 2 : 0;
      default: throw new RnnxError(`unknown command '${cmd}' (see rnnx --help)`);
    }
  } catch (e) {
    if (e instanceof RnnxError) {
      console.error(`rnnx: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
