// Writes model.onnx for every dynamo-form fixture (test/fixtures/*/meta.json with a "dynamo" key)
// from the state_dict and inputs scripts/dynamo-fixtures.py saved. Run after `npm run build`:
//   node scripts/gen-dynamo-fixtures.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dynamoDecomposedModel, dynamoRecurrentModel, wrapAsLocalFunction } from '../dist/builder/dynamo-form.js';
import { encodeModel } from '../dist/export/onnx.js';
import { readNpy, readNpz } from '../dist/io/npy.js';

const root = path.join(import.meta.dirname, '..', 'test', 'fixtures');
for (const name of fs.readdirSync(root).sort()) {
  const metaFile = path.join(root, name, 'meta.json');
  if (!fs.existsSync(metaFile)) continue;
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  if (!meta.dynamo) continue;
  const { class: kind, prefix, kwargs } = meta.module;
  const x = readNpy(fs.readFileSync(path.join(root, name, 'in_x.npy')));
  const loop = meta.dynamo.loop;
  const [T, N] = kind.endsWith('Cell') ? [1, loop ? x.dims[1] : x.dims[0]] : kwargs.batch_first ? [x.dims[1], x.dims[0]] : [x.dims[0], x.dims[1]];
  const decomposed = kind === 'RNN' || kind.endsWith('Cell');
  const model = (decomposed ? dynamoDecomposedModel : dynamoRecurrentModel)({ nonlinearity: kwargs.nonlinearity,
    kind, prefix, inputSize: kwargs.input_size, hiddenSize: kwargs.hidden_size, numLayers: kwargs.num_layers,
    bias: kwargs.bias, batchFirst: kwargs.batch_first, bidirectional: kwargs.bidirectional,
    params: readNpz(fs.readFileSync(path.join(root, name, 'state_dict.npz'))),
    state: meta.inputs.includes('h0'), dynamic: meta.dynamo.dynamic, T, N, unbind: meta.dynamo.unbind, loop,
  });
  let bytes = encodeModel(model);
  if (meta.dynamo.function) bytes = wrapAsLocalFunction(bytes, kind, prefix);
  fs.writeFileSync(path.join(root, name, 'model.onnx'), bytes);
  console.log('wrote', name, model.graph.nodes.length, 'nodes');
}
