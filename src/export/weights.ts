import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { GATES, modulePrefix, paramsFromOnnx, torchParamNames, type RecMode } from '../ops/rec/layer.js';

/**
 * The model's parameters under PyTorch's names: recovered recurrent stacks already carry
 * `<module>.weight_ih_l0`…; a lone ONNX LSTM/GRU/RNN node with constant weights is written as a
 * one-layer module; every other initializer keeps its ONNX name.
 */
export function collectWeights(model: Model): Map<string, Tensor> {
  const g = model.graph;
  const out = new Map<string, Tensor>();
  const consumedByRec = new Set<string>();
  for (const n of g.nodes) {
    if (n.domain || !['LSTM', 'GRU', 'RNN'].includes(n.opType)) continue;
    const W = g.initializers.get(n.inputs[1] ?? ''), R = g.initializers.get(n.inputs[2] ?? '');
    const B = n.inputs[3] ? g.initializers.get(n.inputs[3]) : undefined;
    if (!W || !R || (n.inputs[3] && !B) || W.dims.length !== 3 || (W.type !== 'float32' && W.type !== 'float64')) continue;
    const mode = n.opType as RecMode;
    const D = W.dims[0];
    const H = W.dims[1] / GATES[mode];
    const prefix = modulePrefix(n.name, n.opType);
    paramsFromOnnx(mode, { W, R, B }, D, H, W.dims[2]).forEach((p, d) => {
      const names = torchParamNames(0, d === 1);
      const G = GATES[mode] * H;
      out.set(`${prefix}.${names.weightIh}`, new Tensor(W.type, p.weightIh, [G, W.dims[2]]));
      out.set(`${prefix}.${names.weightHh}`, new Tensor(W.type, p.weightHh, [G, H]));
      if (B) {
        out.set(`${prefix}.${names.biasIh}`, new Tensor(W.type, p.biasIh, [G]));
        out.set(`${prefix}.${names.biasHh}`, new Tensor(W.type, p.biasHh, [G]));
      }
    });
    for (const i of [1, 2, 3]) if (n.inputs[i]) consumedByRec.add(n.inputs[i]);
  }
  for (const [name, t] of g.initializers) {
    if (consumedByRec.has(name) || t.type === 'string') continue;
    if (!out.has(name)) out.set(name, t);
  }
  return out;
}

