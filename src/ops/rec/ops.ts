import { nodeError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpDef } from '../op.js';
import { buildLayer, checkRunInputs, parseRecAttrs, type RecAttrs } from './common.js';
import { runLayer } from './kernels.js';
import type { FloatArray, RecMode } from './layer.js';

/** ONNX LSTM / GRU / RNN (opsets 7, 14, 22): one op definition per mode over the shared layer kernel. */
function recurrentOp(mode: RecMode): OpDef<RecAttrs> {
  return defineOp<RecAttrs>({
    parse(ctx, a) {
      if (ctx.opset < 7) throw nodeError(ctx.node, `${mode}-1 (output_sequence attribute) is not supported; export with opset >= 7`);
      return parseRecAttrs(mode, ctx, a);
    },
    run(inputs, attrs, ctx) {
      const W = inputs[1], R = inputs[2];
      if (!W || !R) throw nodeError(ctx.node, `inputs 1 (W) and 2 (R) are required`);
      const layer = attrs.layer ?? buildLayer(attrs, W, R, inputs[3], mode === 'LSTM' ? inputs[7] : undefined, ctx);
      const r = checkRunInputs(layer, inputs, ctx);
      const D = layer.params.length, H = layer.hiddenSize, { T, N } = r;
      const want = (i: number) => (ctx.node.outputs[i] ?? '') !== '';
      const make = (n: number): FloatArray => (layer.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
      const Y = want(0) ? make(T * D * N * H) : null;
      const Yh = want(1) ? make(D * N * H) : null;
      const Yc = mode === 'LSTM' && want(2) ? make(D * N * H) : null;
      runLayer(layer, r, { Y, Yh, Yc }, ctx.pool);
      const yDims = layer.layout ? [N, T, D, H] : [T, D, N, H];
      const sDims = layer.layout ? [N, D, H] : [D, N, H];
      const t = (data: FloatArray | null, dims: number[]) => (data ? new Tensor(layer.dtype, data, dims) : undefined);
      return [t(Y, yDims), t(Yh, sDims), t(Yc, sDims)];
    },
  });
}

export const LSTM = recurrentOp('LSTM');
export const GRU = recurrentOp('GRU');
export const RNN = recurrentOp('RNN');
