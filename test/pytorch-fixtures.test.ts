// Every PyTorch-exported fixture runs in rnnx and agrees with PyTorch's own outputs and with
// onnxruntime-node's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/ir/tensor.js';
import { readNpy } from '../src/io/npy.js';
import { compareTensors, type Tolerance } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { runOrt } from './helpers.js';

/** rnnx vs PyTorch's float32 outputs: different summation orders over T steps. */
export const TORCH_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const ORT_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };

const root = path.join(import.meta.dirname, 'fixtures');
const fixtures = fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'meta.json'))).sort();
const worst: Record<string, number> = {};

describe.each(fixtures)('%s', (name) => {
  const dir = path.join(root, name);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { inputs: string[]; outputs: string[] };
  const feeds = Object.fromEntries(meta.inputs.map((n) => [n, readNpy(fs.readFileSync(path.join(dir, `in_${n}.npy`)))])) as Record<string, Tensor>;
  const session = InferenceSession.createSync(path.join(dir, 'model.onnx'));
  const ours = session.runSync(feeds);

  it('matches PyTorch', () => {
    for (const out of meta.outputs) {
      const want = readNpy(fs.readFileSync(path.join(dir, `out_${out}.npy`)));
      const c = compareTensors(ours[out], want, TORCH_TOL);
      worst[name] = Math.max(worst[name] ?? 0, c.maxAbs);
      expect(c.message ?? '', out).toBe('');
    }
  });
  it('matches onnxruntime-node', async () => {
    const theirs = await runOrt(fs.readFileSync(path.join(dir, 'model.onnx')), feeds);
    for (const out of meta.outputs) expect(compareTensors(ours[out], theirs[out], ORT_TOL).message ?? '', out).toBe('');
  });
});

it('reports the worst error against PyTorch per fixture', () => {
  console.log('worst abs error vs PyTorch:', JSON.stringify(worst));
  expect(Object.keys(worst).length).toBe(fixtures.length);
});
