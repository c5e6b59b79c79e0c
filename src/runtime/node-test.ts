import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { RnnxError } from '../ir/errors.js';
import type { ValueInfo } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { OptionalValue, TensorSequence, describeValue, type Value } from '../ir/value.js';
import { onnx } from '../import/proto.js';
import { decodeTensor } from '../import/tensor-proto.js';
import { ExternalFiles, readRegularFile } from '../import/external-data.js';
import { compareTensors, ONNX_BACKEND_TOL, type Tolerance } from './compare.js';
import { InferenceSession } from './session.js';

const require = createRequire(import.meta.url);
const { Reader } = require('protobufjs/minimal') as { Reader: { create(b: Uint8Array): ProtoReader } };
interface ProtoReader { pos: number; len: number; uint32(): number; bytes(): Uint8Array; string(): string; skipType(w: number): void }

export interface NodeTestResult {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly detail?: string;
  readonly maxAbs?: number;
}

/** A TensorProto file; its external data (if any) must lie inside the file's own folder. */
export function readTensorPb(file: string): Tensor {
  const bytes = readRegularFile(file, 'test data');
  let tp: ReturnType<typeof onnx.TensorProto.decode>;
  try {
    tp = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new RnnxError(`${path.basename(file)}: not a TensorProto (${(e as Error).message})`);
  }
  const files = new ExternalFiles(path.dirname(path.resolve(file)));
  try {
    return decodeTensor(tp, { baseDir: files.baseDir, files }, path.basename(file));
  } finally {
    files.close();
  }
}

// onnx-proto has no SequenceProto / OptionalProto: they are read field by field.
// SequenceProto: 2 elem_type, 3 tensor_values; OptionalProto: 2 elem_type, 3 tensor_value, 5 sequence_value.
function readSequence(bytes: Uint8Array, what: string): TensorSequence {
  const r = Reader.create(bytes);
  const items: Tensor[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 3 && (tag & 7) === 2) items.push(decodeTensor(onnx.TensorProto.decode(r.bytes()), {}, what));
    else if (tag >>> 3 === 5 || tag >>> 3 === 6 || tag >>> 3 === 7) throw new RnnxError(`${what}: nested sequences are not supported`);
    else r.skipType(tag & 7);
  }
  return new TensorSequence(items[0]?.type, items);
}

function readOptional(bytes: Uint8Array, what: string): OptionalValue {
  const r = Reader.create(bytes);
  let value: Tensor | TensorSequence | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 3 && (tag & 7) === 2) value = decodeTensor(onnx.TensorProto.decode(r.bytes()), {}, what);
    else if (tag >>> 3 === 5 && (tag & 7) === 2) value = readSequence(r.bytes(), what);
    else r.skipType(tag & 7);
  }
  return new OptionalValue(value);
}

/** A test-data file read as the model declares the value: tensor, sequence or optional. */
export function readValuePb(file: string, info: ValueInfo | undefined): Value {
  if (info?.kind === 'sequence') return readSequence(readRegularFile(file, 'test data'), path.basename(file));
  if (info?.kind === 'optional') return readOptional(readRegularFile(file, 'test data'), path.basename(file));
  return readTensorPb(file);
}

/** Compares values of any kind; returns an error message or '' and the largest absolute difference. */
function compareValues(got: Value | undefined, want: Value, tol: Tolerance): { message: string; maxAbs: number } {
  if (want instanceof Tensor) {
    if (!(got instanceof Tensor)) return { message: `got ${describeValue(got)}, expected a tensor`, maxAbs: NaN };
    const c = compareTensors(got, want, tol);
    return { message: c.ok ? '' : (c.message ?? 'differs'), maxAbs: c.maxAbs };
  }
  if (want instanceof TensorSequence) {
    if (!(got instanceof TensorSequence)) return { message: `got ${describeValue(got)}, expected a sequence`, maxAbs: NaN };
    if (got.items.length !== want.items.length) return { message: `sequence of ${got.items.length}, expected ${want.items.length}`, maxAbs: NaN };
    let maxAbs = 0;
    for (let i = 0; i < want.items.length; i++) {
      const c = compareValues(got.items[i], want.items[i], tol);
      if (c.message) return { message: `element ${i}: ${c.message}`, maxAbs: c.maxAbs };
      maxAbs = Math.max(maxAbs, c.maxAbs);
    }
    return { message: '', maxAbs };
  }
  const inner = got instanceof OptionalValue ? got.value : got;
  if (want.value === undefined) return { message: inner === undefined ? '' : `got ${describeValue(inner)}, expected an empty optional`, maxAbs: 0 };
  return compareValues(inner, want.value, tol);
}

/** Runs one ONNX backend-style test folder: model.onnx plus test_data_set_N/{input,output}_K.pb. */
export function runNodeTest(dir: string, tol: Tolerance = ONNX_BACKEND_TOL): NodeTestResult {
  const name = path.basename(dir);
  const modelPath = path.join(dir, 'model.onnx');
  if (!fs.existsSync(modelPath)) return { name, status: 'skipped', detail: 'no model.onnx' };
  try {
    const session = InferenceSession.createSync(modelPath);
    const sets = fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    if (sets.length === 0) return { name, status: 'failed', detail: 'no test_data_set_* folder: nothing to check' };
    let worst = 0;
    for (const set of sets) {
      const sd = path.join(dir, set);
      const pbs = (prefix: string, infos: readonly ValueInfo[]) =>
        fs.readdirSync(sd).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
          .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
          .map((f, i) => readValuePb(path.join(sd, f), infos[i]));
      const inputs = pbs('input_', session.inputMetadata);
      const outputs = pbs('output_', session.outputMetadata);
      if (inputs.length !== session.inputNames.length) {
        throw new RnnxError(`${set}: ${inputs.length} input files for ${session.inputNames.length} model inputs`);
      }
      // a test checks every output the model declares: nothing passes unchecked
      if (outputs.length !== session.outputNames.length) {
        return { name, status: 'failed', detail: `${set}: ${outputs.length} output files for ${session.outputNames.length} model outputs (${session.outputNames.join(', ')})` };
      }
      // The reference files store float16/bfloat16 inputs as their uint16 bits.
      const feeds = Object.fromEntries(session.inputNames.map((n, i) => {
        const want = session.inputMetadata[i].type;
        const t = inputs[i];
        // the test data stores bfloat16 / float16 as uint16
        if (t instanceof Tensor && t.type === 'uint16' && (want === 'bfloat16' || want === 'float16')) return [n, new Tensor(want, t.data, t.dims)];
        return [n, t];
      }));
      const got = session.runValues(feeds);
      for (const [i, expected] of outputs.entries()) {
        const outName = session.outputNames[i];
        const c = compareValues(got[outName], expected, tol);
        if (c.message) return { name, status: 'failed', detail: `${set} output '${outName}': ${c.message}` };
        if (Number.isFinite(c.maxAbs)) worst = Math.max(worst, c.maxAbs);
      }
    }
    return { name, status: 'passed', maxAbs: worst };
  } catch (e) {
    return { name, status: 'failed', detail: (e as Error).message };
  }
}
