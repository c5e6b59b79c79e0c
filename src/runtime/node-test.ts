import * as fs from 'node:fs';
import * as path from 'node:path';
import { RnnxError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { onnx } from '../import/proto.js';
import { decodeTensor } from '../import/tensor-proto.js';
import { compareTensors, ONNX_BACKEND_TOL, type Tolerance } from './compare.js';
import { InferenceSession } from './session.js';

export interface NodeTestResult {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly detail?: string;
  readonly maxAbs?: number;
}

export function readTensorPb(file: string): Tensor {
  const tp = onnx.TensorProto.decode(fs.readFileSync(file));
  return decodeTensor(tp, { baseDir: path.dirname(file) }, path.basename(file));
}

/** Runs one ONNX backend-style test folder: model.onnx plus test_data_set_N/{input,output}_K.pb. */
export function runNodeTest(dir: string, tol: Tolerance = ONNX_BACKEND_TOL): NodeTestResult {
  const name = path.basename(dir);
  const modelPath = path.join(dir, 'model.onnx');
  if (!fs.existsSync(modelPath)) return { name, status: 'skipped', detail: 'no model.onnx' };
  try {
    const session = InferenceSession.createSync(modelPath);
    const sets = fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    if (sets.length === 0) return { name, status: 'skipped', detail: 'no test_data_set_*' };
    let worst = 0;
    for (const set of sets) {
      const sd = path.join(dir, set);
      const pbs = (prefix: string) =>
        fs.readdirSync(sd).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
          .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
          .map((f) => readTensorPb(path.join(sd, f)));
      const inputs = pbs('input_');
      const outputs = pbs('output_');
      if (inputs.length !== session.inputNames.length) {
        throw new RnnxError(`${set}: ${inputs.length} input files for ${session.inputNames.length} model inputs`);
      }
      // The reference files store float16/bfloat16 inputs as their uint16 bits.
      const feeds = Object.fromEntries(session.inputNames.map((n, i) => {
        const want = session.inputMetadata[i].type;
        const t = inputs[i];
        const retag = t.type === 'uint16' && (want === 'bfloat16' || want === 'float16');
        return [n, retag ? new Tensor(want, t.data, t.dims) : t];
      }));
      const got = session.runSync(feeds);
      for (const [i, expected] of outputs.entries()) {
        const outName = session.outputNames[i];
        const c = compareTensors(got[outName], expected, tol);
        if (!c.ok) return { name, status: 'failed', detail: `${set} output '${outName}': ${c.message}` };
        worst = Math.max(worst, c.maxAbs);
      }
    }
    return { name, status: 'passed', maxAbs: worst };
  } catch (e) {
    return { name, status: 'failed', detail: (e as Error).message };
  }
}
