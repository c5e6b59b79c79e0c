import * as path from 'node:path';
import { RnnxError } from '../../ir/errors.js';
import type { ValueInfo } from '../../ir/graph.js';
import { Tensor, type DataType } from '../../ir/tensor.js';
import { loadModel } from '../../import/model.js';
import { readNpy, writeNpy } from '../../io/npy.js';
import { readWav } from '../../io/wav.js';
import { concatAlong } from '../../runtime/batch-axis.js';
import { InferenceSession } from '../../runtime/session.js';
import { intOption, splitPair, UsageError, type Args, type Command } from '../args.js';
import { preview } from '../common.js';
import { checkWritable, ensureOutputDir, readInputFile, writeOutputFile } from '../files.js';

export const streamCommand: Command = {
  name: 'stream',
  usage: 'MODEL --input NAME=FILE --chunk N [--axis A] [--const NAME=VALUE]... [--rate R] [--channel C] [--plot] [--out DIR]',
  summary: 'Runs a recurrent MODEL chunk by chunk over a long input, carrying its state, and writes the joined outputs.',
  description: `FILE is a .npy array or a PCM .wav (8/16/24/32-bit integer or 32/64-bit float; a multi-channel file
needs --channel). The input is cut into chunks of N along axis A of the model input (default: its last
axis); a .wav becomes a tensor of the input's rank with every other dim 1. A last partial chunk is
padded with zeros (said on stderr). --rate R makes a .wav whose sample rate is not R an error (rnnx
never resamples). State pairs are detected from the graph (--state IN=OUT overrides); each output is
joined over the chunks along axis A (axis 0 when it has fewer dims) and written to DIR/<name>.npy.`,
  positionals: { min: 1, max: 1, name: 'MODEL' },
  options: {
    input: { type: 'string', multiple: true, value: 'NAME=FILE', help: 'feed input NAME from a .npy or .wav file, chunk by chunk' },
    chunk: { type: 'string', value: 'N', help: 'chunk length along the chunk axis' },
    axis: { type: 'string', value: 'A', help: 'chunk axis of the inputs (default: the last axis)' },
    const: { type: 'string', multiple: true, value: 'NAME=VALUE', help: 'fix input NAME for every chunk: a number or comma-separated numbers' },
    state: { type: 'string', multiple: true, value: 'IN=OUT', help: 'state pair (replaces the detection; repeat for each pair)' },
    rate: { type: 'string', value: 'R', help: 'required sample rate of every .wav input (an error when it differs)' },
    channel: { type: 'string', value: 'C', help: 'channel of a multi-channel .wav (0-based)' },
    plot: { type: 'boolean', help: 'draw the first output over time in the terminal' },
    out: { type: 'string', value: 'DIR', help: 'write each joined output to DIR/<output name>.npy' },
    force: { type: 'boolean', help: 'overwrite existing .npy files in --out' },
    'no-fuse': { type: 'boolean', help: 'run the ONNX nodes as written, without recovering PyTorch modules' },
  },
  run,
};

/** `--const NAME=1,2,3` as a tensor of the input's dtype: a scalar, or 1-D of the values' count. */
function constTensor(info: ValueInfo, text: string): Tensor {
  const parts = text.split(',');
  const nums = parts.map((p) => Number(p));
  if (parts.some((p) => p.trim() === '') || nums.some((v) => !Number.isFinite(v))) throw new UsageError(`--const ${info.name}: expected numbers, got '${text}'`);
  const rank = info.shape?.length;
  const dims = rank === 0 || (rank === undefined && nums.length === 1) ? [] : [nums.length];
  if (rank !== undefined && rank > 1) {
    const want = info.shape!.map((d) => (typeof d === 'number' ? d : 1));
    if (want.reduce((a, b) => a * b, 1) !== nums.length) throw new UsageError(`--const ${info.name}: the input is [${info.shape!.map((d) => d ?? '?')}], got ${nums.length} value(s)`);
    dims.splice(0, dims.length, ...want);
  }
  const type: DataType = info.type ?? 'float32';
  const ints = ['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64', 'bool'];
  if (ints.includes(type) && nums.some((v) => !Number.isInteger(v))) throw new UsageError(`--const ${info.name}: the input is ${type}, got '${text}'`);
  if (type === 'int64' || type === 'uint64') return new Tensor(type, nums.map((v) => BigInt(v)), dims);
  if (type === 'string') throw new UsageError(`--const ${info.name}: string inputs are not supported`);
  return new Tensor(type, nums, dims);
}

/** A .wav as a tensor of the input's rank: [1, …, T] with T on `axis`. */
function wavTensor(file: string, info: ValueInfo, axis: number, rate: number | undefined, channel: number | undefined, bytes: Uint8Array): { t: Tensor; seconds: number } {
  const wav = readWav(bytes, `--input ${info.name} '${file}'`);
  if (rate !== undefined && wav.sampleRate !== rate) {
    throw new RnnxError(`--input ${info.name} '${file}': sample rate ${wav.sampleRate} Hz, --rate is ${rate} Hz (rnnx does not resample; convert the file first)`);
  }
  let ch = channel;
  if (ch === undefined) {
    if (wav.channels.length > 1) throw new UsageError(`--input ${info.name} '${file}' has ${wav.channels.length} channels: choose one with --channel`);
    ch = 0;
  }
  if (ch >= wav.channels.length) throw new UsageError(`--channel ${ch}: '${file}' has ${wav.channels.length} channel(s)`);
  if (info.type && info.type !== 'float32') throw new RnnxError(`--input ${info.name}: the model wants ${info.type}; a .wav gives float32 samples`);
  const samples = wav.channels[ch];
  const rank = info.shape?.length ?? 2;
  const dims = Array.from({ length: rank }, (_, i) => (i === axis ? samples.length : 1));
  return { t: new Tensor('float32', samples, dims), seconds: samples.length / wav.sampleRate };
}

/** Chunk k of `t` along `axis` (length n, the last one zero-padded). */
function chunkOf(t: Tensor, axis: number, n: number, k: number): Tensor {
  const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const T = t.dims[axis];
  const dims = [...t.dims];
  dims[axis] = n;
  const src = t.data as Float32Array;
  const out = new (src.constructor as new (m: number) => Float32Array)(outer * n * inner);
  const take = Math.min(n, T - k * n);
  for (let o = 0; o < outer; o++) out.set(src.subarray((o * T + k * n) * inner, (o * T + k * n + take) * inner), o * n * inner);
  return new Tensor(t.type, out, dims);
}

const SPARK = '▁▂▃▄▅▆▇█';

/** One line of bars per value bucket (max of each bucket), with the range. */
export function sparkline(values: readonly number[], width: number): string {
  if (values.length === 0) return '(no values)';
  const w = Math.max(1, Math.min(width, values.length));
  const buckets: number[] = [];
  for (let b = 0; b < w; b++) {
    const lo = Math.floor((b * values.length) / w);
    const hi = Math.max(lo + 1, Math.floor(((b + 1) * values.length) / w));
    let m = -Infinity;
    for (let i = lo; i < hi; i++) m = Math.max(m, values[i]);
    buckets.push(m);
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  return buckets.map((v) => SPARK[Math.min(7, Math.max(0, Math.round(((v - min) / span) * 7)))]).join('');
}

function mean(t: Tensor): number {
  const d = t.data as ArrayLike<number>;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += Number(d[i]);
  return d.length ? s / d.length : NaN;
}

async function run(a: Args): Promise<number> {
  const modelPath = a.positionals[0];
  const chunkText = a.str('chunk');
  if (!chunkText) throw new UsageError('--chunk N is required');
  const n = intOption('--chunk', chunkText, 1, 2 ** 31 - 1);
  const rate = a.str('rate') !== undefined ? intOption('--rate', a.str('rate')!, 1, 2 ** 31 - 1) : undefined;
  const channel = a.str('channel') !== undefined ? intOption('--channel', a.str('channel')!, 0, 65535) : undefined;
  const outDir = a.str('out');
  const force = a.flag('force');
  if (force && !outDir) throw new UsageError('--force applies to --out only');
  if (a.list('input').length === 0) throw new UsageError('give at least one --input NAME=FILE');
  const session = InferenceSession.createSync(loadModel(modelPath, { fuse: !a.flag('no-fuse') }));
  try {
    const info = new Map(session.inputMetadata.map((v) => [v.name, v]));
    const constants: Record<string, Tensor> = {};
    for (const spec of a.list('const')) {
      const [name, v] = splitPair('--const', spec, 'NAME=VALUE');
      const i = info.get(name);
      if (!i) throw new UsageError(`--const ${name}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
      if (constants[name]) throw new UsageError(`--const ${name} given more than once`);
      constants[name] = constTensor(i, v);
    }
    let state: Record<string, string> | undefined;
    for (const spec of a.list('state')) {
      const [i, o] = splitPair('--state', spec, 'IN=OUT');
      (state ??= {})[i] = o;
    }
    const stream = session.createStream({ constants, ...(state ? { state } : {}) });
    const whole: Record<string, Tensor> = {};
    const axes: Record<string, number> = {};
    let wavSeconds: number | undefined;
    for (const spec of a.list('input')) {
      const [name, file] = splitPair('--input', spec, 'NAME=FILE');
      const i = info.get(name);
      if (!i) throw new UsageError(`--input ${name}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
      if (!stream.feedNames.includes(name)) throw new UsageError(`--input ${name}: '${name}' is ${constants[name] ? 'given by --const' : 'a state the stream carries'}`);
      if (whole[name]) throw new UsageError(`--input ${name} given more than once`);
      const rank = i.shape?.length;
      const axis = a.str('axis') !== undefined ? intOption('--axis', a.str('axis')!, 0, 64) : Math.max(0, (rank ?? 1) - 1);
      const bytes = readInputFile(file, `--input ${name}`);
      const isWav = bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF';
      const w = isWav ? wavTensor(file, i, axis, rate, channel, bytes) : undefined;
      const t = w ? w.t : readNpy(bytes, file);
      if (w) wavSeconds = w.seconds;
      else if (channel !== undefined) throw new UsageError(`--channel applies to .wav inputs; '${file}' is not one`);
      if (axis >= t.dims.length) throw new UsageError(`--axis ${axis}: input '${name}' from '${file}' has ${t.dims.length} dims`);
      if (t.type === 'string') throw new RnnxError(`--input ${name}: string arrays cannot be chunked`);
      whole[name] = t;
      axes[name] = axis;
    }
    const missing = stream.feedNames.filter((f) => !whole[f]);
    if (missing.length) throw new UsageError(`input${missing.length > 1 ? 's' : ''} ${missing.join(', ')} need --input (or --const)`);
    const lengths = Object.entries(whole).map(([k, t]) => t.dims[axes[k]]);
    if (new Set(lengths).size > 1) throw new RnnxError(`the --input files have different lengths along the chunk axis: ${Object.keys(whole).map((k, j) => `${k} ${lengths[j]}`).join(', ')}`);
    const total = Math.ceil(lengths[0] / n);
    if (total === 0) throw new RnnxError('the inputs are empty');
    const pad = total * n - lengths[0];
    if (pad > 0) console.error(`the last chunk is padded with ${pad} zero${pad > 1 ? 's' : ''} (input length ${lengths[0]} is not a multiple of ${n})`);
    if (outDir) {
      ensureOutputDir(outDir, '--out');
      for (const name of stream.spec.outputNames) checkWritable(path.join(outDir, `${name.replace(/[^\w.-]/g, '_')}.npy`), '--out', force);
    }
    const outAxis = axes[Object.keys(whole)[0]];
    const outs: Record<string, Tensor[]> = {};
    const tty = process.stderr.isTTY;
    const t0 = performance.now();
    let lastDraw = 0;
    for (let k = 0; k < total; k++) {
      const feeds: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(whole)) feeds[name] = chunkOf(t, axes[name], n, k);
      const r = stream.runSync(feeds);
      for (const [name, t] of Object.entries(r)) (outs[name] ??= []).push(t);
      const now = performance.now();
      if (tty && (now - lastDraw > 100 || k === total - 1)) {
        lastDraw = now;
        const w = 30;
        const done = Math.round(((k + 1) / total) * w);
        process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(w - done)}] ${k + 1}/${total} chunks, ${((now - t0) / (k + 1)).toFixed(2)} ms/chunk`);
      }
    }
    if (tty) process.stderr.write('\n');
    const ms = performance.now() - t0;
    const joined: Record<string, Tensor> = {};
    for (const [name, ts] of Object.entries(outs)) {
      const ax = ts[0].dims.length > outAxis ? outAxis : 0;
      joined[name] = ts[0].dims.length === 0 ? new Tensor(ts[0].type, ts.map((t) => (t.data as Float32Array)[0]) as number[], [ts.length]) : concatAlong(ts, ax);
    }
    const lines = [`streamed ${modelPath}: ${total} chunks of ${n} in ${ms.toFixed(1)} ms (${(ms / total).toFixed(3)} ms/chunk${wavSeconds ? `, ${(wavSeconds * 1000 / ms).toFixed(1)}× real time` : ''})`];
    lines.push(`  state: ${stream.pairs.map((p) => `${p.input}→${p.output} (${p.how})`).join(', ')}`);
    for (const [name, t] of Object.entries(joined)) lines.push(`  ${name}: ${preview(t)}`);
    if (a.flag('plot')) {
      const first = stream.spec.outputNames[0];
      const series = outs[first].map(mean);
      const width = Math.max(20, Math.min(200, (process.stdout.columns ?? 80) - 2));
      const lo = Math.min(...series);
      const hi = Math.max(...series);
      lines.push(`${first} over ${total} chunks (${series.length > width ? 'max of each column' : 'one column per chunk'}; min ${lo.toPrecision(3)}, max ${hi.toPrecision(3)}):`);
      lines.push(sparkline(series, width));
    }
    if (outDir) {
      for (const [name, t] of Object.entries(joined)) writeOutputFile(path.join(outDir, `${name.replace(/[^\w.-]/g, '_')}.npy`), writeNpy(t), '--out', force);
      lines.push(`outputs written to ${outDir}`);
    }
    console.log(lines.join('\n'));
    return 0;
  } finally {
    await session.release();
  }
}
