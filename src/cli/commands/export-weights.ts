import { collectWeights } from '../../export/weights.js';
import { loadModel } from '../../import/model.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { UsageError, type Command } from '../args.js';
import { checkWritable, writeOutputFile } from '../files.js';

export const exportWeightsCommand: Command = {
  name: 'export-weights',
  usage: 'MODEL --out FILE.safetensors [--force]',
  summary: 'Writes the parameters under PyTorch\'s names as safetensors.',
  description: 'Recovered recurrent layers: <module>.weight_ih_l0, …; other initializers under their ONNX names.',
  positionals: { min: 1, max: 1, name: 'MODEL' },
  options: {
    out: { type: 'string', value: 'FILE', help: 'the .safetensors file to write (required)' },
    force: { type: 'boolean', help: 'overwrite an existing --out file' },
  },
  run(a) {
    const out = a.str('out');
    if (!out) throw new UsageError('export-weights needs --out FILE.safetensors');
    checkWritable(out, '--out', a.flag('force'));
    const weights = collectWeights(loadModel(a.positionals[0]));
    writeOutputFile(out, writeSafetensors(weights, { format: 'pt', producer: 'rnnx' }), '--out', a.flag('force'));
    console.log(`wrote ${weights.size} tensors to ${out}`);
    for (const [k, t] of weights) console.log(`  ${k}: ${t.type} [${t.dims.join(', ')}]`);
    return 0;
  },
};
