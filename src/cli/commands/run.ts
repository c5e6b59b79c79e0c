import * as path from 'node:path';
import { RnnxError } from '../../ir/errors.js';
import type { ValueInfo } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { OptionalValue, TensorSequence, describeValue, type Value } from '../../ir/value.js';
import { loadModel } from '../../import/model.js';
import { readNpy, writeNpy } from '../../io/npy.js';
import { InferenceSession } from '../../runtime/session.js';
import { intOption, numberOption, splitPair, UsageError, type Args, type Command } from '../args.js';
import { CHECK_TOL, crossCheck, formatCheck, preview, randomFeed, seeded, tensorJson, type CheckReport } from '../common.js';
import { checkWritable, ensureOutputDir, readInputFile, writeOutputFile } from '../files.js';

/** `--random` makes at most this many elements over all inputs (2^26: 256 MiB of float32). */
export const MAX_RANDOM_ELEMENTS = 2 ** 26;

export const runCommand: Command = {
  name: 'run',
  usage: 'MODEL [--input NAME=FILE.npy]... [--random] [--dim NAME=N]... [--seed N] [--out DIR] [--check] [--json] [options]',
  summary: 'Runs MODEL, prints a summary of each output, and writes them as .npy files with --out.',
  description: `Inputs come from .npy files (--input) or, with --random, from the declared shapes: floats uniform in
[-1, 1), integers 0..9, bools 0/1; symbolic dims are 1 unless set with --dim. Exit status: 0 when the run
(and --check) succeeded, 1 when --check found a disagreement or onnxruntime could not run the model,
2 for a bad command line, model or input.`,
  positionals: { min: 1, max: 1, name: 'MODEL' },
  options: {
    input: { type: 'string', multiple: true, value: 'NAME=FILE.npy', help: 'feed input NAME from a .npy file' },
    random: { type: 'boolean', help: 'make every input without --input from its declared shape' },
    dim: { type: 'string', multiple: true, value: 'NAME=N', help: 'size of the symbolic dim NAME for --random inputs' },
    seed: { type: 'string', value: 'N', help: 'seed of --random (an integer 0..4294967295, default 0)' },
    out: { type: 'string', value: 'DIR', help: 'write each output to DIR/<output name>.npy' },
    force: { type: 'boolean', help: 'overwrite existing .npy files in --out' },
    json: { type: 'boolean', help: 'print the outputs (type, dims, data) and the --check result as JSON' },
    check: { type: 'boolean', help: 'also run onnxruntime-node (an optional peer: npm install onnxruntime-node) and compare every output; exit 1 on a disagreement' },
    rtol: { type: 'string', value: 'X', help: `relative tolerance of --check (default ${CHECK_TOL.rtol})` },
    atol: { type: 'string', value: 'X', help: `absolute tolerance of --check (default ${CHECK_TOL.atol})` },
    'no-fuse': { type: 'boolean', help: 'run the ONNX nodes as written, without recovering PyTorch modules' },
    threads: { type: 'string', value: '1|2', help: 'split the SIMD GEMMs with one worker thread (2)' },
    profile: { type: 'boolean', help: 'time every node over --runs runs (after 3 warm-up runs) and print per-op-type and per-node tables' },
    runs: { type: 'string', value: 'N', help: 'runs --profile times (default 20)' },
    trace: { type: 'string', value: 'FILE.json', help: 'with --profile: also write a Chrome-trace JSON (chrome://tracing, Perfetto)' },
    top: { type: 'string', value: 'N', help: 'with --profile: how many of the slowest nodes to list (default 20)' },
  },
  run,
};

/** `--dim NAME=N` values; every NAME must be a symbolic dim of some input. */
function parseDims(specs: readonly string[], inputs: readonly ValueInfo[]): Map<string, number> {
  const symbolic = new Set<string>();
  for (const i of inputs) for (const d of i.shape ?? []) if (typeof d === 'string') symbolic.add(d);
  const dims = new Map<string, number>();
  for (const spec of specs) {
    const [name, v] = splitPair('--dim', spec, 'NAME=N');
    if (!symbolic.has(name)) {
      throw new UsageError(`--dim ${name}: no input has a symbolic dim '${name}' (${symbolic.size ? `symbolic dims: ${[...symbolic].join(', ')}` : 'the inputs have none'})`);
    }
    if (dims.has(name)) throw new UsageError(`--dim ${name} given more than once`);
    dims.set(name, intOption(`--dim ${name}`, v, 0, MAX_RANDOM_ELEMENTS));
  }
  return dims;
}

/** `rnnx run` feeds tensors (from .npy files or --random); sequence and optional inputs need the library. */
function tensorInputOnly(info: ValueInfo): void {
  if (info.kind && info.kind !== 'tensor') {
    throw new RnnxError(`input '${info.name}' is ${info.kind === 'sequence' ? 'a sequence' : 'an optional'}; rnnx run feeds tensors only (use session.runValues in the library)`);
  }
}

function outFileName(name: string): string {
  return `${name.replace(/[^\w.-]/g, '_')}.npy`;
}

async function run(a: Args): Promise<number> {
  const modelPath = a.positionals[0];
  const threads = intOption('--threads', a.str('threads') ?? '1', 1, 2) as 1 | 2;
  const seed = intOption('--seed', a.str('seed') ?? '0', 0, 2 ** 32 - 1);
  const tol = { rtol: numberOption('--rtol', a.str('rtol') ?? String(CHECK_TOL.rtol)), atol: numberOption('--atol', a.str('atol') ?? String(CHECK_TOL.atol)) };
  if ((a.str('rtol') || a.str('atol')) && !a.flag('check')) throw new UsageError('--rtol and --atol apply to --check only');
  const outDir = a.str('out');
  const force = a.flag('force');
  if (force && !outDir) throw new UsageError('--force applies to --out only');
  const profile = a.flag('profile');
  if (!profile && (a.str('runs') || a.str('trace') || a.str('top'))) throw new UsageError('--runs, --trace and --top apply to --profile only');
  const runs = intOption('--runs', a.str('runs') ?? '20', 1, 1_000_000);
  const top = intOption('--top', a.str('top') ?? '20', 1, 1_000_000);
  const trace = a.str('trace');
  if (trace) checkWritable(trace, '--trace', force);
  const session = InferenceSession.createSync(loadModel(modelPath, { fuse: !a.flag('no-fuse') }), { threads });
  try {
    const inputs = session.inputMetadata;
    const feeds: Record<string, Tensor> = {};
    for (const spec of a.list('input')) {
      const [name, file] = splitPair('--input', spec, 'NAME=FILE.npy');
      const info = inputs.find((i) => i.name === name);
      if (!info) throw new UsageError(`--input ${name}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
      if (feeds[name]) throw new UsageError(`--input ${name} given more than once`);
      tensorInputOnly(info);
      feeds[name] = readNpy(readInputFile(file, `--input ${name}`), file);
    }
    const dimValues = parseDims(a.list('dim'), inputs);
    const r = seeded(seed);
    let made = 0;
    for (const info of inputs) {
      if (feeds[info.name]) continue;
      tensorInputOnly(info);
      if (!a.flag('random')) throw new UsageError(`input '${info.name}' has no --input file (or pass --random)`);
      if (!info.shape) throw new RnnxError(`--random: input '${info.name}' has no declared shape`);
      const dims = info.shape.map((d) => (typeof d === 'number' ? d : (dimValues.get(d ?? '') ?? 1)));
      made += dims.reduce((x, y) => x * y, 1);
      if (made > MAX_RANDOM_ELEMENTS) {
        throw new UsageError(`--random: input '${info.name}' [${dims.join(', ')}] takes the inputs past ${MAX_RANDOM_ELEMENTS} elements; give smaller --dim values or --input files`);
      }
      feeds[info.name] = randomFeed(info.type, dims, r, info.name);
    }
    if (outDir) {
      ensureOutputDir(outDir, '--out');
      for (const name of session.outputNames) checkWritable(path.join(outDir, outFileName(name)), '--out', force);
    }
    const t0 = performance.now();
    const values = session.runValues(feeds);
    const ms = performance.now() - t0;
    const files: { file: string; tensor: Tensor }[] = [];
    const tensors: Record<string, Tensor> = {};
    const lines = [`ran ${modelPath} in ${ms.toFixed(2)} ms`];
    const json: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(values) as [string, Value][]) {
      const inner = v instanceof OptionalValue ? v.value : v;
      if (inner instanceof Tensor) {
        lines.push(`  ${name}: ${v instanceof OptionalValue ? 'optional holding ' : ''}${preview(inner)}`);
        files.push({ file: outFileName(name), tensor: inner });
        if (v instanceof Tensor) tensors[name] = v;
        json[name] = v instanceof OptionalValue ? { optional: tensorJson(inner) } : tensorJson(inner);
      } else if (inner instanceof TensorSequence) {
        // a sequence output: one line and one .npy file (NAME_i.npy) per item
        lines.push(`  ${name}: ${describeValue(v)}`);
        inner.items.forEach((t, i) => {
          lines.push(`    [${i}] ${preview(t)}`);
          files.push({ file: outFileName(`${name}_${i}`), tensor: t });
        });
        json[name] = { sequence: inner.items.map(tensorJson) };
      } else {
        lines.push(`  ${name}: empty optional`);
        json[name] = { optional: null };
      }
    }
    if (outDir) {
      for (const f of files) writeOutputFile(path.join(outDir, f.file), writeNpy(f.tensor), '--out', force);
      lines.push(`outputs written to ${outDir}`);
    }
    let profileJson: unknown;
    if (profile) {
      for (let i = 0; i < 3; i++) session.runValues(feeds);
      session.startProfiling();
      for (let i = 0; i < runs; i++) session.runValues(feeds);
      const p = session.endProfiling();
      lines.push('', `profile of ${modelPath}:`, p.table(top));
      if (trace) {
        writeOutputFile(trace, p.chromeTrace(), '--trace', force);
        lines.push(`Chrome trace written to ${trace} (open it in chrome://tracing or https://ui.perfetto.dev)`);
      }
      profileJson = { runs: p.runs, msPerRun: p.totalMs / p.runs, ops: p.ops, nodes: p.nodes.slice(0, top) };
    }
    let check: CheckReport | undefined;
    if (a.flag('check')) {
      if (Object.keys(tensors).length < Object.keys(values).length) lines.push('--check compares the tensor outputs only');
      check = await crossCheck(modelPath, feeds, tensors, tol);
      lines.push(formatCheck(check));
    }
    if (a.flag('json')) {
      console.log(JSON.stringify({ model: modelPath, ms, outputs: json, ...(outDir ? { out: outDir } : {}), ...(check ? { check } : {}), ...(profileJson ? { profile: profileJson } : {}) }));
    } else console.log(lines.join('\n'));
    return check && !check.ok ? 1 : 0;
  } finally {
    await session.release();
  }
}
