import { loadModel } from '../../import/model.js';
import type { Command } from '../args.js';
import { formatSummary, summarize } from '../inspect.js';

export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'MODEL [--json] [--no-fuse]',
  summary: 'Inputs, outputs, opsets, op counts, initializer bytes, and one line per recurrent layer.',
  description: 'Recovered PyTorch modules are described in PyTorch\'s terms; --no-fuse shows the ONNX nodes as written.',
  positionals: { min: 1, max: 1, name: 'MODEL' },
  options: {
    json: { type: 'boolean', help: 'print the summary as JSON' },
    'no-fuse': { type: 'boolean', help: 'do not recover PyTorch modules' },
  },
  run(a) {
    const s = summarize(loadModel(a.positionals[0], { fuse: !a.flag('no-fuse') }));
    console.log(a.flag('json') ? JSON.stringify(s, null, 2) : formatSummary(s));
    return 0;
  },
};
