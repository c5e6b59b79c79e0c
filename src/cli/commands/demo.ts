import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RnnxError } from '../../ir/errors.js';
import { loadModel } from '../../import/model.js';
import { readNpy } from '../../io/npy.js';
import { agreement } from '../../runtime/ort-check.js';
import { InferenceSession } from '../../runtime/session.js';
import type { Command } from '../args.js';
import { CHECK_TOL, crossCheck, fmt, formatCheck, preview } from '../common.js';
import { formatSummary, summarize } from '../inspect.js';

export const demoCommand: Command = {
  name: 'demo',
  usage: '',
  summary: 'Runs the bundled PyTorch-exported LSTM and prints its agreement with PyTorch and onnxruntime.',
  description: 'The onnxruntime comparison is skipped (and said so) when onnxruntime-node is not installed.',
  positionals: { min: 0, max: 0, name: 'positional' },
  options: {},
  async run() {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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
    try {
      console.log(formatCheck(await crossCheck(modelPath, feeds, out, CHECK_TOL)));
    } catch (e) {
      if (!(e instanceof RnnxError)) throw e;
      console.log(`(no comparison with onnxruntime: ${e.message})`);
    }
    return 0;
  },
};
