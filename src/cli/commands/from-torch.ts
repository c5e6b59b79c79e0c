import { RnnxError } from '../../ir/errors.js';
import { exportOnnx } from '../../export/onnx.js';
import { modelFromTorch } from '../../nn/from-torch.js';
import type { RecMode } from '../../ops/rec/layer.js';
import { intOption, UsageError, type Command } from '../args.js';
import { checkWritable, readInputFile, writeOutputFile } from '../files.js';

export const fromTorchCommand: Command = {
  name: 'from-torch',
  usage: 'LSTM|GRU|RNN STATE --hparams FILE.json --out MODEL.onnx [--initial-state] [--prefix P] [--opset N] [--force]',
  summary: 'Writes one PyTorch recurrent module as ONNX that rnnx and onnxruntime run.',
  description: `STATE: its state_dict as .safetensors or .npz; FILE.json: its constructor arguments under PyTorch's
names (input_size, hidden_size, num_layers, bias, batch_first, bidirectional, proj_size, nonlinearity, dropout).`,
  positionals: { min: 2, max: 2, name: 'KIND and STATE' },
  options: {
    hparams: { type: 'string', value: 'FILE.json', help: 'the module\'s constructor arguments (required)' },
    out: { type: 'string', value: 'MODEL.onnx', help: 'the model file to write (required)' },
    force: { type: 'boolean', help: 'overwrite an existing --out file' },
    'initial-state': { type: 'boolean', help: 'add inputs h0 (and c0)' },
    prefix: { type: 'string', value: 'P', help: 'key prefix of the module in STATE, e.g. encoder.lstm.' },
    opset: { type: 'string', value: 'N', help: 'ONNX opset of the model (7 to 22, default 14)' },
  },
  run(a) {
    const [kind, state] = a.positionals;
    const hpFile = a.str('hparams');
    const out = a.str('out');
    if (!hpFile || !out) throw new UsageError('from-torch needs --hparams FILE.json and --out MODEL.onnx');
    const mode = kind.toUpperCase();
    if (mode !== 'LSTM' && mode !== 'GRU' && mode !== 'RNN') throw new UsageError(`from-torch: expected LSTM, GRU or RNN, got '${kind}'`);
    const opset = intOption('--opset', a.str('opset') ?? '14', 7, 22);
    checkWritable(out, '--out', a.flag('force'));
    let hp: unknown;
    try {
      hp = JSON.parse(new TextDecoder().decode(readInputFile(hpFile, '--hparams')));
    } catch (e) {
      if (e instanceof RnnxError) throw e;
      throw new RnnxError(`--hparams ${hpFile}: not valid JSON: ${(e as Error).message}`);
    }
    const model = modelFromTorch(mode as RecMode, state, hp as never, { initialState: a.flag('initial-state'), prefix: a.str('prefix'), opset });
    writeOutputFile(out, exportOnnx(model), '--out', a.flag('force'));
    console.log(`wrote ${out}: inputs ${model.graph.inputs.map((i) => i.name).join(', ')}; outputs ${model.graph.outputs.map((o) => o.name).join(', ')}`);
    return 0;
  },
};
